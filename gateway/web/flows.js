// 流动党员: the county's flows by status, the fired policy timers (预警), one flow in detail with its 证明信
// and what the county can do with it (重新安置、年度汇报、回归、转出), and the ledgers (台账).

import {
  flowAlerts, getFlow, ledger, listFlows, redirectFlow, reportBack, returnFlow, transferFlow,
} from "./api.js";
import { $, busy, cell, el, formatTime, rowButton, saveBlob } from "./dom.js";
import { mountDialog, submitForm } from "./forms.js";
import {
  ALERT_LEVEL_NAMES, CHECK_IN_METHOD_NAMES, FLOW_STATUS_NAMES, OPEN_FLOW_STATUSES, PLACEMENT_RULE_NAMES,
  TIMER_NAMES,
} from "./labels.js";
import { reportProblem, showNotice } from "./notice.js";
import { mountDestinationSelect } from "./outflow.js";

const LEDGER_NAMES = {
  flows: "流向台账",
  returnees: "回归工程台账",
  development: "发展党员台账",
  "village-cadres": "双强村干部培养台账",
};

function statusCell(status) {
  const td = document.createElement("td");
  td.append(el("span", { className: `flag flag--${status}`, text: FLOW_STATUS_NAMES[status] || status }));
  return td;
}

function alertLevel(alert) {
  if (alert.timer === "check_in_overdue") return ALERT_LEVEL_NAMES[alert.level] || `第 ${alert.level} 级`;
  return "";
}

/** The facts of a flow as a description list: label → value, empty values left out. */
function facts(flow) {
  const placement = flow.placement_rule
    ? `${PLACEMENT_RULE_NAMES[flow.placement_rule] || flow.placement_rule}${flow.placement_reason ? `：${flow.placement_reason}` : ""}`
    : flow.placement_reason;
  const checkIn = flow.checked_in_at
    ? `${formatTime(flow.checked_in_at)}${flow.check_in_method ? `（${CHECK_IN_METHOD_NAMES[flow.check_in_method] || flow.check_in_method}）` : ""}`
    : "";
  return [
    ["姓名", flow.member_name],
    ["流入地", `${flow.destination_name}${flow.out_of_province ? "（省外）" : "（省内）"}`],
    ["居住地址", flow.address],
    ["工作单位", flow.employer],
    ["从事行业", flow.industry],
    ["外出日期", flow.start_date],
    ["预计外出", `${flow.expected_months} 个月`],
    ["联系电话", flow.contact_phone_masked],
    ["活动证编号", flow.certificate_serial],
    ["活动证有效期至", flow.certificate_valid_until],
    ["接收组织", flow.org_name],
    ["安置依据", placement],
    ["安置时间", formatTime(flow.offered_at)],
    ["报到时间", checkIn],
    ["最近汇报", flow.last_report_date],
    ["结束日期", flow.closed_on],
    ["安置次数", flow.attempt > 1 ? `第 ${flow.attempt} 次` : ""],
  ].filter(([, value]) => value !== null && value !== undefined && value !== "");
}

export function mountFlows(root, tenant) {
  const body = $("#flows tbody", root);
  const more = $("#flows-more", root);
  const status = $("#flows-status", root);
  const detail = $("#flow-detail", root);
  let next = "";
  let shown = 0;
  let current = null; // the flow in the detail panel
  let generation = 0; // a newer load makes an older one's answer stale

  function flowRow(flow) {
    const tr = document.createElement("tr");
    tr.dataset.flowId = flow.id;
    const name = cell("th", flow.member_name);
    name.scope = "row";
    tr.append(
      name,
      cell("td", flow.destination_name),
      cell("td", flow.org_name),
      cell("td", flow.certificate_serial, "mono"),
      statusCell(flow.status),
      cell("td", flow.start_date, "nowrap"),
      cell("td", formatTime(flow.checked_in_at), "nowrap"),
    );
    const actions = document.createElement("td");
    actions.append(rowButton("详情", flow.member_name, () => open(flow.id)));
    tr.append(actions);
    return tr;
  }

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    try {
      const statuses = status.value ? [status.value] : [];
      const page = await listFlows(tenant, { statuses, pageToken: reset ? "" : next });
      if (mine !== generation) return;
      if (reset) {
        body.replaceChildren();
        shown = 0;
      }
      body.append(...page.flows.map(flowRow));
      shown += page.flows.length;
      next = page.next_page_token;
      $("#flows-count", root).textContent = `已显示 ${shown} 条${next ? "，还有更多" : ""}`;
      $("#flows-empty", root).hidden = shown > 0;
      more.hidden = !next;
    } catch (error) {
      reportProblem(error);
    }
  }

  async function loadAlerts() {
    try {
      const alerts = await flowAlerts(tenant);
      const rows = alerts.map((a) => {
        const tr = document.createElement("tr");
        const name = cell("th", a.member_name);
        name.scope = "row";
        const kind = document.createElement("td");
        kind.append(el("span", { className: `flag flag--alert`, text: TIMER_NAMES[a.timer] || a.timer }));
        const actions = document.createElement("td");
        actions.append(rowButton("查看", a.member_name, () => open(a.flow_id)));
        tr.append(name, kind, cell("td", alertLevel(a)), cell("td", a.due_date, "nowrap"),
          cell("td", formatTime(a.fired_at), "nowrap"), actions);
        return tr;
      });
      $("#alerts tbody", root).replaceChildren(...rows);
      $("#alerts-wrap", root).hidden = rows.length === 0;
      $("#alerts-empty", root).hidden = rows.length > 0;
      $("#alerts-count", root).textContent = rows.length ? `${rows.length} 条` : "";
    } catch (error) {
      reportProblem(error);
    }
  }

  function showDetail(flow) {
    current = flow;
    $("#flow-detail-title", root).textContent = `流动详情 · ${flow.member_name}`;
    $("#flow-detail-status", root).textContent = FLOW_STATUS_NAMES[flow.status] || flow.status;
    const list = $("#flow-facts", root);
    list.replaceChildren(...facts(flow).flatMap(([label, value]) => {
      const wrap = el("div", { className: "facts__item" }, el("dt", { text: label }), el("dd", { text: value }));
      return [wrap];
    }));
    const refused = flow.status === "refused" || Boolean(flow.refusal_reason);
    $("#flow-refusal", root).hidden = !refused;
    $("#flow-refusal-reason", root).textContent = flow.refusal_reason ? `原因：${flow.refusal_reason}` : "";
    $("#flow-refusal-advice", root).textContent = flow.refusal_advice ? `建议：${flow.refusal_advice}` : "";
    const open = OPEN_FLOW_STATUSES.has(flow.status);
    $("#flow-actions", root).hidden = !open;
    // Outside the province the relationship moves through the national system, not here.
    $("#flow-transfer", root).hidden = flow.out_of_province;
    $("#flow-letter", root).textContent = flow.letter || "";
    $("#flow-letter-box", root).hidden = !flow.letter;
    detail.hidden = false;
  }

  async function open(id) {
    try {
      showDetail(await getFlow(tenant, id));
      detail.scrollIntoView({ block: "start", behavior: "smooth" });
      detail.focus({ preventScroll: true });
    } catch (error) {
      reportProblem(error);
    }
  }

  /** After an action: the detail shows the answer, the list and the alerts catch up. */
  function changed(flow, title, detailText) {
    showDetail(flow);
    showNotice("success", title, detailText);
    load(true);
    loadAlerts();
  }

  // 重新安置/变更流入地
  const redirectForm = $("#redirect-dialog form", root);
  const newDestination = mountDestinationSelect(redirectForm);
  const redirect = mountDialog($("#redirect-dialog", root), {
    onOpen: () => newDestination.sync(),
    async onSubmit(f, flow) {
      const body = {
        destination_code: newDestination.value(),
        address: f.elements.address.value.trim(),
        employer: f.elements.employer.value.trim(),
        industry: f.elements.industry.value.trim(),
      };
      const updated = await submitForm(f, () => redirectFlow(tenant, flow.id, body));
      if (!updated) return false;
      changed(updated, "已提交重新安置", `${updated.member_name}：流入地 ${updated.destination_name}，等待流入地接收。`);
      return true;
    },
  });

  const report = mountDialog($("#report-dialog", root), {
    async onSubmit(f, flow) {
      const body = { report_date: f.elements.report_date.value, note: f.elements.note.value.trim() };
      const updated = await submitForm(f, () => reportBack(tenant, flow.id, body));
      if (!updated) return false;
      changed(updated, "已登记年度汇报", `${updated.member_name} 于 ${updated.last_report_date} 向家乡党组织汇报。`);
      return true;
    },
  });

  const returnDialog = $("#return-dialog", root);
  const toggles = [["started_business", "#rt-business"], ["elected_village_committee", "#rt-post"]];
  const syncFacts = (f) => {
    for (const [name, box] of toggles) {
      const on = f.elements[name].checked;
      $(box, returnDialog).hidden = !on;
      f.elements[name].setAttribute("aria-expanded", String(on));
    }
  };
  const comeHome = mountDialog(returnDialog, {
    onOpen: (f) => syncFacts(f),
    async onSubmit(f, flow) {
      const e = f.elements;
      const body = {
        return_date: e.return_date.value,
        facts: {
          started_business: e.started_business.checked,
          business_name: e.started_business.checked ? e.business_name.value.trim() : "",
          joined_reserve_pool: e.joined_reserve_pool.checked,
          elected_village_committee: e.elected_village_committee.checked,
          village_post: e.elected_village_committee.checked ? e.village_post.value.trim() : "",
          note: e.note.value.trim(),
        },
      };
      const updated = await submitForm(f, () => returnFlow(tenant, flow.id, body));
      if (!updated) return false;
      changed(updated, "已办理回归", `${updated.member_name} 于 ${updated.closed_on} 返乡，已记入回归工程台账。`);
      return true;
    },
  });
  for (const [name] of toggles) {
    comeHome.form.elements[name].addEventListener("change", () => syncFacts(comeHome.form));
  }

  const transfer = mountDialog($("#transfer-dialog", root), {
    onOpen: (f, flow) => {
      $("#transfer-hint", root).textContent = `${flow.member_name} 的组织关系将正式转入${flow.destination_name}`
        + "，本县名册中不再保留（应转尽转）。";
    },
    async onSubmit(f, flow) {
      const updated = await submitForm(f, () => transferFlow(tenant, flow.id, {
        transfer_date: f.elements.transfer_date.value,
      }));
      if (!updated) return false;
      changed(updated, "已办理转出", `${updated.member_name} 的组织关系已转入${updated.destination_name}。`);
      return true;
    },
  });

  $("#flow-redirect", root).addEventListener("click", () => redirect.open(current));
  $("#flow-report", root).addEventListener("click", () => report.open(current));
  $("#flow-return", root).addEventListener("click", () => comeHome.open(current));
  $("#flow-transfer", root).addEventListener("click", () => transfer.open(current));
  $("#flow-detail-close", root).addEventListener("click", () => {
    detail.hidden = true;
    current = null;
  });

  for (const link of root.querySelectorAll("[data-ledger]")) {
    const name = link.dataset.ledger;
    link.href = `/api/v1/tenants/${encodeURIComponent(tenant)}/ledgers/${name}.xlsx`;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      if (link.getAttribute("aria-busy") === "true") return;
      link.setAttribute("aria-busy", "true");
      ledger(tenant, name)
        .then((blob) => saveBlob(blob, `${LEDGER_NAMES[name]}.xlsx`))
        .catch(reportProblem)
        .finally(() => link.removeAttribute("aria-busy"));
    });
  }

  status.addEventListener("change", () => load(true));
  const reload = $("#flows-reload", root);
  reload.addEventListener("click", () => busy(reload, async () => {
    await Promise.all([load(true), loadAlerts()]);
    if (current) await open(current.id);
  }));
  more.addEventListener("click", () => busy(more, () => load(false)));

  const show = () => {
    load(true);
    loadAlerts();
    if (current && !detail.hidden) getFlow(tenant, current.id).then(showDetail).catch(reportProblem);
  };
  show();
  return { show };
}
