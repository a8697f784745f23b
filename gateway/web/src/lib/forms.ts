// A form's server-side errors: each offending field's Chinese message under its own input, cleared as soon as the
// user changes that field (a stale error never outlives its fix), and the rest as one message for the form.
import { reactive, ref, watch, type Ref } from "vue";
import { Problem } from "@/api/client";

export interface ServerErrors {
  /** field name → message, bound to `<el-form-item :error="errors.fields.x">`. */
  fields: Record<string, string>;
  /** A message for the whole form (no field named, or a field this form does not show). */
  general: Ref<string>;
  /** Show the errors of a Problem (anything else becomes a general message). */
  show(error: unknown): void;
  clear(): void;
}

/** Errors of the form whose model is `model`; `known` lists the fields the form shows. */
export function useServerErrors<T extends object>(model: T, known?: readonly string[]): ServerErrors {
  const fields = reactive<Record<string, string>>({});
  const general = ref("");
  const clear = () => {
    for (const k of Object.keys(fields)) delete fields[k];
    general.value = "";
  };
  // Each field's message goes away when that field changes.
  for (const key of Object.keys(model) as (keyof T & string)[]) {
    watch(() => (model as Record<string, unknown>)[key], () => {
      delete fields[key];
      if (!Object.keys(fields).length) general.value = "";
    }, { deep: true });
  }
  const show = (error: unknown) => {
    clear();
    if (!(error instanceof Problem)) {
      general.value = error instanceof Error ? error.message : "操作失败";
      return;
    }
    const rest: string[] = [];
    for (const e of error.errors) {
      const name = e.field.split(".").pop() || e.field;
      if (!known || known.includes(name)) fields[name] = e.detail;
      else rest.push(e.detail);
    }
    if (!error.errors.length || rest.length) {
      general.value = rest.length ? rest.join("；") : String(error.body.detail || error.body.title);
    }
  };
  return { fields, general, show, clear };
}

/** The message to show for a failed call outside a form. */
export function messageOf(error: unknown): string {
  if (error instanceof Problem) {
    const fields = error.errors.map((e) => e.detail).join("；");
    return fields || String(error.body.detail || error.body.title);
  }
  return error instanceof Error ? error.message : "操作失败";
}
