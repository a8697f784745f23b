// 接收管理: members of other counties placed here (临时组织关系). Staff record their 报到 or refuse them,
// then record the activities they attend and assess them once a year (双向评议).

import {
  assessMembership, checkInCode, checkInMembership, listMemberships, Problem, recordActivity, refuseMembership,
} from "./api.js";
import { $, busy, cell, el, formatTime, rowButton, today } from "./dom.js";
import { checkRequired, mountDialog, submitForm } from "./forms.js";
import { CHECK_IN_METHOD_NAMES, GRADE_NAMES, PLACEMENT_RULE_NAMES, regionName } from "./labels.js";
import { reportProblem, showNotice } from "./notice.js";

function nameCell(m, sub = "") {
  const th = cell("th", m.member_name);
  th.scope = "row";
  if (sub) th.append(el("span", { className: "cell__sub", text: sub }));
  return th;
}

/** The organisation, with why it was chosen (rule, then the placement's own reason) beneath. */
function orgCell(m) {
  const td = cell("td", m.org_name, "wrap");
  const rule = m.rule ? PLACEMENT_RULE_NAMES[m.rule] || m.rule : "";
  if (rule) td.append(el("span", { className: "cell__sub cell__sub--strong", text: rule }));
  if (m.reason) td.append(el("span", { className: "cell__sub", text: m.reason }));
  return td;
}

function actionsCell(...buttons) {
  const td = document.createElement("td");
  td.append(el("div", { className: "row-actions" }, ...buttons));
  return td;
}


/** One table of memberships of a status, fifty at a time. */
function mountList(root, tenant, { status, prefix, row }) {
  const body = $(`#${prefix} tbody`, root);
  const more = $(`#${prefix}-more`, root);
  let next = "";
  let generation = 0;

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    const page = await listMemberships(tenant, status, reset ? "" : next);
    if (mine !== generation) return;
    if (reset) body.replaceChildren();
    body.append(...page.memberships.map(row));
    next = page.next_page_token;
    const count = body.rows.length;
    $(`#${prefix}-count`, root).textContent = count ? `${count}${next ? "+" : ""} 人` : "";
    $(`#${prefix}-empty`, root).hidden = count > 0;
    more.hidden = !next;
  }

  more.addEventListener("click", () => busy(more, () => load(false).catch(reportProblem)));
  return { load };
}

/** A station's staff see the code members type (or scan) to check in there. */
async function showCode(root, tenant, org) {
  try {
    const found = await checkInCode(tenant, org);
    $("#checkin-code-org", root).textContent = found.org_name;
    $("#checkin-code", root).textContent = found.code;
    $("#checkin-code-panel", root).hidden = false;
  } catch (error) {
    // Not every organisation takes check-ins by code; the page works without it.
    if (!(error instanceof Problem)) throw error;
    if (error.status === 401) reportProblem(error);
  }
}

/** `org` is the caller's own organisation (station staff), if any. */
export function mountReceive(root, tenant, org = null) {
  if (org) showCode(root, tenant, org);
  const refuse = mountDialog($("#refuse-dialog", root), {
    onOpen: (f, m) => {
      $("#refuse-who", root).textContent = `${m.member_name}（来自${regionName(m.origin_tenant_id)}），拟安置到${m.org_name}`;
    },
    async onSubmit(f, m) {
      if (!checkRequired(f, [["reason", "请说明拒收原因。"]])) return false;
      const done = await submitForm(f, () => refuseMembership(tenant, m.id, f.elements.reason.value.trim()));
      if (!done) return false;
      showNotice("success", "已拒收", `已通知${regionName(m.origin_tenant_id)}重新安置 ${m.member_name}。`);
      reload();
      return true;
    },
  });

  const activity = mountDialog($("#activity-dialog", root), {
    onOpen: (f, m) => {
      $("#activity-who", root).textContent = `${m.member_name} · ${m.org_name}`;
      f.elements.occurred_on.value = today();
    },
    async onSubmit(f, m) {
      if (!checkRequired(f, [["occurred_on", "请填写活动日期。"]])) return false;
      const body = {
        occurred_on: f.elements.occurred_on.value, title: f.elements.title.value.trim(), note: f.elements.note.value.trim(),
      };
      const done = await submitForm(f, () => recordActivity(tenant, m.id, body));
      if (!done) return false;
      showNotice("success", "已记录活动", `${m.member_name}：${body.title || "组织生活"}（${body.occurred_on}），已记入其活动记事本。`);
      return true;
    },
  });

  const assess = mountDialog($("#assess-dialog", root), {
    onOpen: (f, m) => {
      $("#assess-who", root).textContent = `${m.member_name} · ${m.org_name}（流入地评议，与流出地评议合并为双向评议）`;
      f.elements.year.value = String(Number(today().slice(0, 4)));
    },
    async onSubmit(f, m) {
      if (!checkRequired(f, [["year", "请填写评议年度。"]])) return false;
      const body = { year: Number(f.elements.year.value), grade: f.elements.grade.value, comment: f.elements.comment.value.trim() };
      const done = await submitForm(f, () => assessMembership(tenant, m.id, body));
      if (!done) return false;
      showNotice("success", "已保存评议", `${m.member_name} ${done.year} 年度：${GRADE_NAMES[done.grade] || done.grade}。`);
      return true;
    },
  });

  async function checkIn(m) {
    try {
      const done = await checkInMembership(tenant, m.id);
      showNotice("success", "报到成功", `${done.member_name} 已在${done.org_name}报到，${regionName(done.origin_tenant_id)}将同步看到。`);
      await reload();
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      reportProblem(error);
    }
  }

  const offered = mountList(root, tenant, {
    status: "offered",
    prefix: "offered",
    row(m) {
      const tr = document.createElement("tr");
      tr.dataset.membershipId = m.id;
      const actions = actionsCell(
        rowButton("报到", m.member_name, () => checkIn(m), "btn btn--small btn--primary"),
        rowButton("拒收", m.member_name, () => refuse.open(m)),
      );
      tr.append(
        nameCell(m, [m.industry, m.employer].filter(Boolean).join(" / ")),
        cell("td", m.id_number_masked, "mono"),
        cell("td", m.phone_masked, "mono"),
        cell("td", regionName(m.origin_tenant_id)),
        orgCell(m),
        cell("td", formatTime(m.offered_at), "nowrap"),
        actions,
      );
      return tr;
    },
  });

  const checked = mountList(root, tenant, {
    status: "checked_in",
    prefix: "checked",
    row(m) {
      const tr = document.createElement("tr");
      tr.dataset.membershipId = m.id;
      const actions = actionsCell(
        rowButton("记录活动", m.member_name, () => activity.open(m)),
        rowButton("评议", m.member_name, () => assess.open(m)),
      );
      tr.append(
        nameCell(m),
        cell("td", m.id_number_masked, "mono"),
        cell("td", m.phone_masked, "mono"),
        cell("td", regionName(m.origin_tenant_id)),
        cell("td", m.org_name),
        cell("td", formatTime(m.checked_in_at), "nowrap"),
        cell("td", CHECK_IN_METHOD_NAMES[m.check_in_method] || m.check_in_method),
        actions,
      );
      return tr;
    },
  });

  async function reload() {
    try {
      await Promise.all([offered.load(true), checked.load(true)]);
    } catch (error) {
      reportProblem(error);
    }
  }

  const button = $("#receive-reload", root);
  button.addEventListener("click", () => busy(button, reload));
  reload();
  return { show: reload };
}
