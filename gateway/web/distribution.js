// 党员分布: registered members per county of the analyst's scope. Counts only, never persons.
// Above a county a county with fewer than 3 members reads "<3" (suppressed, members 0), and the total, which adds
// up the published counties only, reads "≥N".

import { memberCounts } from "./api.js";
import { $, busy, cell, fromTemplate } from "./dom.js";
import { reportProblem } from "./notice.js";

const number = new Intl.NumberFormat("zh-CN");
const dateTime = new Intl.DateTimeFormat("zh-CN", { dateStyle: "medium", timeStyle: "medium", hour12: false });

function countyRow(county, max) {
  const tr = document.createElement("tr");
  tr.dataset.tenant = county.tenant_id;
  const name = cell("th", county.name);
  name.scope = "row";
  const code = document.createElement("span");
  code.className = "code";
  code.textContent = county.tenant_id;
  name.append(code);

  // The bar repeats the number beside it, so assistive technology skips it.
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.className = "bar__fill";
  fill.style.setProperty("--share", String(max ? county.members / max : 0));
  bar.append(fill);
  const barCell = document.createElement("td");
  barCell.className = "bar-col";
  barCell.append(bar);

  const count = cell("td", county.suppressed ? county.display : number.format(county.members), "num");
  if (county.suppressed) count.dataset.suppressed = "true";
  tr.append(name, count, barCell);
  return tr;
}

function show(root, counts) {
  // A hidden county (1 or 2 members) sorts below the published ones but above a county with none.
  const rank = (c) => c.members || (c.suppressed ? 0.5 : 0);
  const counties = [...counts.counties].sort((a, b) => rank(b) - rank(a) || a.tenant_id.localeCompare(b.tenant_id));
  const max = Math.max(0, ...counties.map((c) => c.members));
  const latest = counties.map((c) => Date.parse(c.updated_at)).filter(Number.isFinite);
  $("#distribution-total", root).textContent = `${counts.total_partial ? "≥" : ""}${number.format(counts.total)}`;
  $("#distribution-total", root).title = counts.total_partial
    ? `为保护个人信息，不含党员不足 ${counts.threshold} 人的县（显示为“<${counts.threshold}”）` : "";
  $("#distribution-counties", root).textContent = number.format(
    counties.filter((c) => c.members > 0 || c.suppressed).length);
  $("#distribution-updated", root).textContent = latest.length ? dateTime.format(Math.max(...latest)) : "—";
  $("#distribution tbody", root).replaceChildren(...counties.map((c) => countyRow(c, max)));
  $("#distribution-empty", root).hidden = counties.length > 0;
}

/** The 党员分布 panel inside `root` (already holding tpl-distribution). */
export function mountDistribution(root, who) {
  $("#distribution-scope", root).textContent = who.scope_name;
  const refresh = $("#distribution-refresh", root);
  const load = async () => {
    try {
      show(root, await memberCounts(who.scope));
    } catch (error) {
      reportProblem(error);
    }
  };
  refresh.addEventListener("click", () => busy(refresh, load));
  load();
  return { show: load };
}

export function renderDistribution(view, who) {
  view.replaceChildren(fromTemplate("tpl-distribution"));
  mountDistribution(view, who);
}
