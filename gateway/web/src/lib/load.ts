// A page's one read: its value, whether it is loading, and the message of its failure; fetched when mounted.
import { onMounted, ref, type Ref } from "vue";
import { messageOf } from "@/lib/forms";

export interface Loaded<T> {
  value: Ref<T>;
  loading: Ref<boolean>;
  failure: Ref<string>;
  load: () => Promise<void>;
}

/** Read with `fetch` on mount (and on every `load()`), keeping `initial` until the first answer. */
export function useLoad<T>(fetch: () => Promise<T>, initial: T): Loaded<T> {
  const value = ref(initial) as Ref<T>;
  const loading = ref(true);
  const failure = ref("");
  async function load(): Promise<void> {
    loading.value = true;
    failure.value = "";
    try {
      value.value = await fetch();
    } catch (e) {
      failure.value = messageOf(e);
    } finally {
      loading.value = false;
    }
  }
  onMounted(load);
  return { value, loading, failure, load };
}
