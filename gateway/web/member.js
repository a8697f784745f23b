// 党员本人: my record (masked), my flows with the 证明信, 扫码报到 by the code under the station's QR code,
// and my 活动记事本.

import { getMember, memberActivities, memberFlows, Problem, selfCheckIn } from "./api.js";
import { $, busy, cell, el, formatTime, fromTemplate } from "./dom.js";
import { checkRequired, clearFieldErrors, problemText, showFieldErrors, showFormError } from "./forms.js";
import { FLOW_STATUS_NAMES, GENDER_NAMES, OPEN_FLOW_STATUSES, STATUS_NAMES } from "./labels.js";
import { reportProblem, showNotice } from "./notice.js";

function showMe(root, m) {
  const items = [
    ["姓名", m.name],
    ["性别", GENDER_NAMES[m.gender]],
    ["出生日期", m.birth_date],
    ["身份证号", m.id_number_masked],
    ["手机号", m.phone_masked],
    ["党员类别", STATUS_NAMES[m.membership_status]],
    ["入党日期", m.join_date],
    ["乡镇", m.township],
    ["村(社区)", m.village],
    ["职业", m.occupation],
  ].filter(([, v]) => v);
  $("#me-facts", root).replaceChildren(...items.map(([label, value]) =>
    el("div", { className: "facts__item" }, el("dt", { text: label }), el("dd", { text: value }))));
  $("#me-flow", root).textContent = m.flow_status && OPEN_FLOW_STATUSES.has(m.flow_status)
    ? `${FLOW_STATUS_NAMES[m.flow_status]} · ${m.destination_name || ""}` : "";
}

function showFlows(root, flows) {
  $("#my-flows tbody", root).replaceChildren(...flows.map((f) => {
    const tr = document.createElement("tr");
    const where = cell("th", f.destination_name);
    where.scope = "row";
    const status = document.createElement("td");
    status.append(el("span", { className: `flag flag--${f.status}`, text: FLOW_STATUS_NAMES[f.status] || f.status }));
    tr.append(where, cell("td", f.org_name), cell("td", f.certificate_serial, "mono"),
      cell("td", f.certificate_valid_until, "nowrap"), status, cell("td", f.start_date, "nowrap"),
      cell("td", formatTime(f.checked_in_at), "nowrap"));
    return tr;
  }));
  $("#my-flows-empty", root).hidden = flows.length > 0;
  // The letter of the newest flow still open: the member shows it at the destination.
  const open = flows.find((f) => OPEN_FLOW_STATUSES.has(f.status) && f.letter);
  $("#my-letter-box", root).hidden = !open;
  $("#my-letter", root).textContent = open ? open.letter : "";
}

function showActivities(root, activities) {
  $("#my-activities tbody", root).replaceChildren(...activities.map((a) => {
    const tr = document.createElement("tr");
    tr.append(cell("td", a.occurred_on, "nowrap"), cell("td", a.title), cell("td", a.note, "wrap"),
      cell("td", a.org_name), cell("td", a.verified ? "已核实" : "未核实"));
    return tr;
  }));
  $("#my-activities-empty", root).hidden = activities.length > 0;
}

export function renderMember(view, who) {
  view.replaceChildren(fromTemplate("tpl-member"));
  const tenant = who.tenant;
  const me = who.member;

  async function load() {
    const results = await Promise.allSettled([
      getMember(tenant, me).then((m) => showMe(view, m)),
      memberFlows(tenant, me).then((page) => showFlows(view, page.flows)),
      memberActivities(tenant, me).then((list) => showActivities(view, list)),
    ]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) reportProblem(failed.reason);
  }

  const form = $("#scan-form", view);
  const ok = $("#scan-ok", view);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ok.hidden = true;
    clearFieldErrors(form);
    if (!checkRequired(form, [["code", "请输入报到码。"]])) return;
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const done = await selfCheckIn(tenant, me, form.elements.code.value.trim());
        form.reset();
        ok.textContent = `报到成功！您已在“${done.org_name}”报到，家乡党组织将同步看到。`;
        ok.hidden = false;
        showNotice("success", "报到成功", `已在${done.org_name}报到。`);
        // The flow turns 已报到 once the event reaches the home county: look again shortly.
        setTimeout(() => view.isConnected && load(), 2000);
      } catch (error) {
        if (!(error instanceof Problem)) throw error;
        if (error.status === 401) {
          reportProblem(error);
        } else if (error.status === 404) {
          showFieldErrors(form, [{ field: "code", detail: "报到码无效，或您在该组织没有待报到的临时组织关系。请核对二维码下方的文字后重试。" }]);
          showFormError(form, "报到失败");
        } else {
          showFormError(form, problemText(form, error));
        }
      }
    });
  });

  load();
}
