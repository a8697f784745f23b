// 登记党员: the registration form, with the gateway's field errors shown beside their fields.

import { createMember, Problem } from "./api.js";
import { $, busy } from "./dom.js";
import { reportProblem, showNotice } from "./notice.js";

// The fields of MemberIn (gateway/members.py), in form order.
const FIELDS = ["name", "id_number", "phone", "membership_status", "township", "village", "occupation", "join_date"];

const REQUIRED = { name: "请填写姓名。", id_number: "请填写身份证号。" };

/** crypto.randomUUID exists only in secure contexts; a console served over plain http on a LAN still works. */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function clearErrors(form) {
  for (const name of FIELDS) {
    const field = form.querySelector(`[data-field="${name}"]`);
    field.classList.remove("has-error");
    form.elements[name].removeAttribute("aria-invalid");
    $(`#e-${name}`, form).textContent = "";
  }
}

/** Put each error next to its field; return the details that name no field of the form. */
function showFieldErrors(form, errors) {
  const unplaced = [];
  let first = null;
  for (const { field = "", detail = "" } of errors) {
    // A service may name a nested path ("member.id_number"); the last part is the form field.
    const name = FIELDS.includes(field) ? field : field.split(".").pop();
    if (!FIELDS.includes(name)) {
      unplaced.push(detail);
      continue;
    }
    const message = $(`#e-${name}`, form);
    message.textContent = message.textContent ? `${message.textContent}；${detail}` : detail;
    form.querySelector(`[data-field="${name}"]`).classList.add("has-error");
    form.elements[name].setAttribute("aria-invalid", "true");
    first ??= form.elements[name];
  }
  first?.focus();
  return unplaced;
}

export function mountRegisterForm(root, tenant, onCreated) {
  const form = $("#register-form", root);
  const submit = form.querySelector("button[type=submit]");
  // One key per payload: a retry of the same data after a timeout or lost connection reuses it, so
  // the registry registers the member once; a changed form or a settled answer gets a fresh one.
  let key = newKey();
  let keyPayload = null;

  form.addEventListener("reset", () => clearErrors(form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const member = Object.fromEntries(FIELDS.map((name) => [name, form.elements[name].value.trim()]));
    const missing = Object.entries(REQUIRED).filter(([name]) => !member[name]);
    if (missing.length) {
      showFieldErrors(form, missing.map(([field, detail]) => ({ field, detail })));
      return;
    }
    const payload = JSON.stringify(member);
    if (payload !== keyPayload) {
      key = newKey();
      keyPayload = payload;
    }
    await busy(submit, async () => {
      try {
        const created = await createMember(tenant, member, key);
        keyPayload = null;
        form.reset();
        onCreated(created);
        showNotice("success", "登记成功", `已登记党员 ${created.name}（身份证号 ${created.id_number_masked}）。`);
      } catch (error) {
        if (!(error instanceof Problem)) throw error;
        // A 4xx is a settled answer; after no answer or a 5xx the member may exist, so keep the key.
        if (error.status >= 400 && error.status < 500) keyPayload = null;
        if (error.status === 422) {
          const unplaced = showFieldErrors(form, error.errors);
          const detail = [error.problem.detail, ...unplaced].filter(Boolean).join("；");
          showNotice("error", error.problem.title, detail || "请检查标出的字段。");
        } else {
          reportProblem(error);
        }
      }
    });
  });
}
