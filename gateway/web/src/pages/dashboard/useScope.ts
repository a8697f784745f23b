// The scope a dashboard page shows: the URL's (/dashboard/4115), or the caller's own; the trail down to it.
import { computed } from "vue";
import { useRoute, useRouter } from "vue-router";
import { session } from "@/session";

export function useScope(routeName: "dashboard" | "dashboard-screen") {
  const route = useRoute();
  const router = useRouter();
  const own = computed(() => session.me?.scope ?? "");
  const scope = computed(() => (typeof route.params.scope === "string" && route.params.scope) || own.value);
  /** The caller's scope and every level between it and the shown one: 41 → 4115 → 411525. */
  const trail = computed(() => {
    const codes: string[] = [];
    for (let n = own.value.length; n <= scope.value.length; n += 2) codes.push(scope.value.slice(0, n));
    return codes.length ? codes : [scope.value];
  });
  const parent = computed(() => (scope.value.length > own.value.length ? scope.value.slice(0, -2) : ""));
  const go = (code: string) => router.push({ name: routeName, params: { scope: code === own.value ? "" : code } });
  return { own, scope, trail, parent, go };
}
