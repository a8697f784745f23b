// 流向: where the scope's members went (origin → destination), how many of them checked in at the
// destination (报到覆盖率), and where 3 or more of one county are held by no organisation. Counts only.

import { flowMatrix, Problem } from "./api.js";
import { $, busy, cell, el } from "./dom.js";
import { clearFieldErrors, problemText, showFormError } from "./forms.js";
import { reportProblem } from "./notice.js";

const number = new Intl.NumberFormat("zh-CN");
const percent = new Intl.NumberFormat("zh-CN", { style: "percent", maximumFractionDigits: 1 });

function barCell(share) {
  // The bar repeats the number beside it, so assistive technology skips it.
  const bar = el("div", { className: "bar", attrs: { "aria-hidden": "true" } });
  const fill = el("span", { className: "bar__fill" });
  fill.style.setProperty("--share", String(Math.max(0, Math.min(1, share))));
  bar.append(fill);
  const td = el("td", { className: "bar-col" });
  td.append(bar);
  return td;
}

function place(name, code) {
  const th = cell("th", name);
  th.scope = "row";
  th.append(el("span", { className: "code", text: code }));
  return th;
}

/** The matrix comes per month and industry: add up each origin → destination pair. */
function pairs(cells) {
  const byPair = new Map();
  for (const c of cells) {
    const key = `${c.origin_tenant_id}>${c.destination_code}`;
    const seen = byPair.get(key) || { ...c, flows: 0 };
    seen.flows += c.flows;
    byPair.set(key, seen);
  }
  return [...byPair.values()].sort((a, b) => b.flows - a.flows
    || a.origin_tenant_id.localeCompare(b.origin_tenant_id) || a.destination_code.localeCompare(b.destination_code));
}

function show(root, m) {
  $("#insights-away", root).textContent = number.format(m.total_away);
  $("#insights-managed", root).textContent = number.format(m.total_managed);
  $("#insights-overdue", root).textContent = number.format(m.total_overdue);
  $("#insights-coverage", root).textContent = m.total_away ? percent.format(m.total_coverage) : "—";

  const rows = pairs(m.cells);
  const max = Math.max(0, ...rows.map((r) => r.flows));
  const total = rows.reduce((sum, r) => sum + r.flows, 0);
  $("#flow-matrix tbody", root).replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.origin = r.origin_tenant_id;
    tr.dataset.destination = r.destination_code;
    tr.append(place(r.origin_name, r.origin_tenant_id), cell("td", `→ ${r.destination_name}`),
      cell("td", number.format(r.flows), "num"), barCell(max ? r.flows / max : 0));
    return tr;
  }));
  $("#flow-matrix-empty", root).hidden = rows.length > 0;
  $("#matrix-total", root).textContent = rows.length ? `共 ${number.format(total)} 人次` : "";

  const coverage = [...m.coverage].sort((a, b) => b.away - a.away || a.origin_tenant_id.localeCompare(b.origin_tenant_id));
  $("#coverage tbody", root).replaceChildren(...coverage.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.tenant = c.origin_tenant_id;
    tr.append(place(c.origin_name, c.origin_tenant_id), cell("td", number.format(c.away), "num"),
      cell("td", number.format(c.offered), "num"), cell("td", number.format(c.managed), "num"),
      cell("td", number.format(c.overdue_check_ins), c.overdue_check_ins ? "num is-warn" : "num"),
      cell("td", c.away ? percent.format(c.coverage) : "—", "num"), barCell(c.coverage));
    return tr;
  }));
  $("#coverage-empty", root).hidden = coverage.length > 0;

  const unorganised = [...m.unorganised].sort((a, b) => b.members - a.members);
  $("#unorganised tbody", root).replaceChildren(...unorganised.map((u) => {
    const tr = document.createElement("tr");
    tr.append(place(u.origin_name, u.origin_tenant_id), cell("td", u.destination_name),
      cell("td", number.format(u.members), "num"));
    return tr;
  }));
  $("#unorganised-wrap", root).hidden = unorganised.length === 0;
  $("#unorganised-empty", root).hidden = unorganised.length > 0;
}

export function mountFlowInsights(root, who) {
  $("#insights-scope", root).textContent = who.scope_name;
  const form = $("#insights-filter", root);

  async function load() {
    clearFieldErrors(form);
    const filters = {
      fromMonth: form.elements.from_month.value, toMonth: form.elements.to_month.value,
      industry: form.elements.industry.value.trim(),
    };
    try {
      show(root, await flowMatrix(who.scope, filters));
    } catch (error) {
      if (error instanceof Problem && error.status === 422) {
        showFormError(form, problemText(form, error));
      } else {
        reportProblem(error);
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("button[type=submit]"), load);
  });
  load();
  return { show: load };
}
