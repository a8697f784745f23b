// 党员分布: registered members per county of the analyst's scope. Counts only, never persons.

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

  tr.append(name, cell("td", number.format(county.members), "num"), barCell);
  return tr;
}

function show(root, counts) {
  const counties = [...counts.counties].sort((a, b) => b.members - a.members || a.tenant_id.localeCompare(b.tenant_id));
  const max = Math.max(0, ...counties.map((c) => c.members));
  const latest = counties.map((c) => Date.parse(c.updated_at)).filter(Number.isFinite);
  $("#distribution-total", root).textContent = number.format(counts.total);
  $("#distribution-counties", root).textContent = number.format(counties.filter((c) => c.members > 0).length);
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
