// A detail page names what it shows (a member's name, an org's name) in the breadcrumb's last item.
import { onBeforeUnmount, ref, watchEffect } from "vue";

export const crumb = ref("");

/** Show `title()` as the current page's breadcrumb while the calling component lives. */
export function useCrumb(title: () => string | undefined | null): void {
  watchEffect(() => {
    crumb.value = title() || "";
  });
  onBeforeUnmount(() => {
    crumb.value = "";
  });
}
