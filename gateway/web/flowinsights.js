// 流向: where the scope's members went (origin → destination), how many of them checked in at the
// destination (报到覆盖率), and where 3 or more of one county are held by no organisation. Counts only.
// Above a county the service hides small counts (suppressed: the count reads 0, `display` says "<3" or "*");
// the page shows that text, adds up published counts only and marks a total that leaves something out ("≥").

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

/** The matrix comes per month and industry: add up each origin → destination pair (published cells only). */
function pairs(cells) {
  const byPair = new Map();
  for (const c of cells) {
    const key = `${c.origin_tenant_id}>${c.destination_code}`;
    const seen = byPair.get(key) || { ...c, flows: 0, hidden: 0, small: c.display };
    seen.flows += c.flows;
    if (c.suppressed) seen.hidden += 1;
    byPair.set(key, seen);
  }
  return [...byPair.values()].sort((a, b) => b.flows - a.flows
    || a.origin_tenant_id.localeCompare(b.origin_tenant_id) || a.destination_code.localeCompare(b.destination_code));
}

/** A pair's count: the sum of its published cells, "<3" when its only cell is hidden, and how many are left out. */
function pairCell(r) {
  const td = cell("td", r.hidden && !r.flows && r.hidden === 1 ? r.small : number.format(r.flows), "num");
  if (r.hidden && (r.flows || r.hidden > 1)) {
    td.dataset.suppressed = "partial";
    td.append(el("small", { className: "suppressed-note", text: ` 另有 ${r.hidden} 格不足 ${threshold} 人` }));
  } else if (r.hidden) {
    td.dataset.suppressed = "true";
  }
  return td;
}

/** A total of published figures: "≥" in front when it leaves out a hidden one. */
function total(value, partial) {
  return `${partial ? "≥" : ""}${number.format(value)}`;
}

/** One figure of a coverage row: the number, or the row's mark when it is hidden. */
function figure(c, name, text, className = "num") {
  if (!(c.suppressed_fields || []).includes(name)) return cell("td", text, className);
  const td = cell("td", c.display[name], "num");
  td.dataset.suppressed = "true";
  return td;
}

let threshold = 3;

/** Under the KPIs: what a suppressed view leaves out, and that its coverage ignores the filters. */
function explain(root, m) {
  const card = $("#insights-filter", root).closest(".card");
  let note = $("#insights-suppression", card);
  if (!note) {
    note = el("p", { className: "card__hint", attrs: { id: "insights-suppression" } });
    card.append(note);
  }
  note.hidden = !m.threshold;
  note.textContent = m.threshold
    ? `为保护个人信息，不足 ${m.threshold} 人的数字显示为“<${m.threshold}”，可能据以反推出这类数字的也显示为“*”；`
      + "带“≥”的合计不含这些数字，覆盖率只按同时公布了在外和已报到人数的县计算。"
      + (m.coverage_filtered ? "" : "为防止用不同筛选条件相减推算，在外、已报到、逾期、覆盖率和待建临时党支部按全部外出登记统计，不随月份、行业筛选。")
    : "";
}

function show(root, m) {
  threshold = m.threshold || 3;
  const partial = new Set(m.partial_totals || []);
  $("#insights-away", root).textContent = total(m.total_away, partial.has("total_away"));
  $("#insights-managed", root).textContent = total(m.total_managed, partial.has("total_managed"));
  $("#insights-overdue", root).textContent = total(m.total_overdue, partial.has("total_overdue"));
  const anyAway = m.total_away || partial.has("total_away");
  $("#insights-coverage", root).textContent = m.total_away ? percent.format(m.total_coverage) : (anyAway ? "*" : "—");
  explain(root, m);

  const rows = pairs(m.cells);
  const max = Math.max(0, ...rows.map((r) => r.flows));
  const sum = rows.reduce((acc, r) => acc + r.flows, 0);
  $("#flow-matrix tbody", root).replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.origin = r.origin_tenant_id;
    tr.dataset.destination = r.destination_code;
    tr.append(place(r.origin_name, r.origin_tenant_id), cell("td", `→ ${r.destination_name}`),
      pairCell(r), barCell(max ? r.flows / max : 0));
    return tr;
  }));
  $("#flow-matrix-empty", root).hidden = rows.length > 0;
  const hidden = rows.reduce((sum, r) => sum + r.hidden, 0);
  $("#matrix-total", root).textContent = !rows.length ? ""
    : `共 ${hidden ? "≥" : ""}${number.format(sum)} 人次${hidden ? `（不含 ${hidden} 个不足 ${threshold} 人的格）` : ""}`;

  const coverage = [...m.coverage].sort((a, b) => b.away - a.away || a.origin_tenant_id.localeCompare(b.origin_tenant_id));
  $("#coverage tbody", root).replaceChildren(...coverage.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.tenant = c.origin_tenant_id;
    tr.append(place(c.origin_name, c.origin_tenant_id), figure(c, "away", number.format(c.away)),
      figure(c, "offered", number.format(c.offered)), figure(c, "managed", number.format(c.managed)),
      figure(c, "overdue_check_ins", number.format(c.overdue_check_ins), c.overdue_check_ins ? "num is-warn" : "num"),
      figure(c, "coverage", c.away ? percent.format(c.coverage) : "—"), barCell(c.coverage));
    return tr;
  }));
  $("#coverage-empty", root).hidden = coverage.length > 0;

  const unorganised = [...m.unorganised].sort((a, b) => b.members - a.members);
  $("#unorganised tbody", root).replaceChildren(...unorganised.map((u) => {
    const tr = document.createElement("tr");
    tr.append(place(u.origin_name, u.origin_tenant_id), cell("td", u.destination_name),
      cell("td", u.suppressed ? u.display : number.format(u.members), "num"));
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
