// Forms in dialogs: field-level errors from problem+json beside their fields, one submit at a time.
//
// A form marks each field's box with data-field="<API field name>"; the box holds its control(s) and a
// <p class="field__error"> the control points at with aria-describedby. The gateway names fields as the
// API does ("destination_code", "facts.business_name"); the last part of a dotted path is the form field.

import { Problem } from "./api.js";
import { $, busy } from "./dom.js";
import { reportProblem, showNotice } from "./notice.js";

/** crypto.randomUUID exists only in secure contexts; a console served over plain http on a LAN still works. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const controlsOf = (box) => [...box.querySelectorAll("input, select, textarea")];

export function clearFieldErrors(form) {
  for (const box of form.querySelectorAll("[data-field]")) {
    box.classList.remove("has-error");
    for (const control of controlsOf(box)) control.removeAttribute("aria-invalid");
    const message = box.querySelector(".field__error");
    if (message) message.textContent = "";
  }
  const summary = $(".form-error", form);
  if (summary) {
    summary.textContent = "";
    summary.hidden = true;
  }
}

/** Put each error beside its field; return the details that name no field of the form. */
export function showFieldErrors(form, errors) {
  const unplaced = [];
  let first = null;
  for (const { field = "", detail = "" } of errors) {
    const box = form.querySelector(`[data-field="${CSS.escape(field)}"]`)
      || form.querySelector(`[data-field="${CSS.escape(field.split(".").pop())}"]`);
    if (!box) {
      unplaced.push(detail);
      continue;
    }
    const message = box.querySelector(".field__error");
    message.textContent = message.textContent ? `${message.textContent}；${detail}` : detail;
    box.classList.add("has-error");
    const controls = controlsOf(box).filter((c) => !c.hidden && !c.closest("[hidden]"));
    for (const control of controls) control.setAttribute("aria-invalid", "true");
    first ??= controls[0];
  }
  first?.focus();
  return unplaced;
}

/** The one line at the top of a form that says what went wrong as a whole. */
export function showFormError(form, text) {
  const summary = $(".form-error", form);
  if (!summary) {
    showNotice("error", text);
    return;
  }
  summary.textContent = text;
  summary.hidden = false;
}

/**
 * What a refused submission says at the top of the form. Field errors go beside their fields; the problem's
 * detail then only repeats them, so it is shown when no field is named (or a named one is not on the form).
 */
export function problemText(form, error) {
  const placed = error.status === 422 && error.errors.length;
  const unplaced = placed ? showFieldErrors(form, error.errors) : [];
  const hint = placed ? (unplaced.length ? unplaced.join("；") : "请检查标出的字段。") : error.problem.detail || "";
  return hint ? `${error.problem.title}：${hint}` : error.problem.title;
}

/**
 * Submit a form through `send(values)`: field errors on 422, anything else the API refuses in the form's
 * summary line (a 401 goes back to the login form). Resolves to the answer, or undefined when refused.
 */
export async function submitForm(form, send) {
  clearFieldErrors(form);
  const button = form.querySelector("button[type=submit]");
  return busy(button, async () => {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      if (error.status === 401) {
        reportProblem(error);
        return undefined;
      }
      showFormError(form, problemText(form, error));
      return undefined;
    }
  });
}

/** Required fields left empty, reported like the gateway would report them; true when all are filled. */
export function checkRequired(form, required) {
  const missing = required.filter(([name]) => !String(form.elements[name]?.value ?? "").trim());
  if (!missing.length) return true;
  clearFieldErrors(form);
  showFieldErrors(form, missing.map(([field, detail]) => ({ field, detail })));
  showFormError(form, "请填写标出的必填项。");
  return false;
}

/**
 * A <dialog> holding one form: open() resets it, close on 取消 or Escape. Each open gets a fresh
 * Idempotency-Key, so a retry of the same submission after a lost answer reuses it.
 */
export function mountDialog(dialog, { onOpen, onSubmit }) {
  const form = dialog.querySelector("form");
  let context = null;
  let key = newKey();
  for (const cancel of dialog.querySelectorAll("[data-close]")) {
    cancel.addEventListener("click", () => dialog.close());
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await onSubmit(form, context, key);
    if (done) dialog.close();
  });
  return {
    open(value) {
      context = value;
      key = newKey();
      form.reset();
      clearFieldErrors(form);
      onOpen?.(form, value);
      dialog.showModal();
      const first = [...form.elements].find((c) => c.matches("input, select, textarea") && !c.disabled
        && !c.closest("[hidden]") && c.type !== "hidden");
      first?.focus();
    },
    close: () => dialog.close(),
    form,
  };
}
