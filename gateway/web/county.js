// The county organisation department's pages: 党员名册 (register, import, browse; 外出登记 from a row),
// 流动党员 (the county's members away), 接收管理 (members of other counties placed here), and 事件异常 (events a
// service could not apply, to apply again once their cause is fixed).

import { mountDeadLetters } from "./deadletters.js";
import { mountFlowInsights } from "./flowinsights.js";
import { mountFlows } from "./flows.js";
import { mountImport } from "./import.js";
import { mountDistribution } from "./distribution.js";
import { mountOutflowDialog } from "./outflow.js";
import { mountReceive } from "./receive.js";
import { mountRegisterForm } from "./register.js";
import { mountRoster } from "./roster.js";
import { mountTabs } from "./tabs.js";

function mountRosterTab(panel, who, rerender) {
  let outflow = null;
  const roster = mountRoster(panel, who.tenant, { onOutflow: (member) => outflow.open(member) });
  outflow = mountOutflowDialog(panel, who.tenant, (member) => roster.replace(member));
  mountRegisterForm(panel, who.tenant, (member) => roster.prepend(member));
  mountImport(panel, who.tenant, rerender);
}

export function renderCounty(view, who) {
  mountTabs(view, [
    { id: "roster", label: "党员名册", template: "tpl-county",
      mount: (panel) => mountRosterTab(panel, who, () => renderCounty(view, who)) },
    { id: "flows", label: "流动党员", template: "tpl-flows", mount: (panel) => mountFlows(panel, who.tenant) },
    { id: "receive", label: "接收管理", template: "tpl-receive", mount: (panel) => mountReceive(panel, who.tenant) },
    { id: "dead-letters", label: "事件异常", template: "tpl-dead-letters",
      mount: (panel) => mountDeadLetters(panel, who.tenant) },
  ], "县委组织部工作");
}

/** Station staff (驻城党建工作站): the members placed in their station's organisations. */
export function renderStation(view, who) {
  mountTabs(view, [
    { id: "receive", label: "接收管理", template: "tpl-receive",
      mount: (panel) => mountReceive(panel, who.tenant, who.org) },
  ], "工作站工作");
}

/** Province and city analysts: counts only, never a person. */
export function renderAnalyst(view, who) {
  mountTabs(view, [
    { id: "distribution", label: "党员分布", template: "tpl-distribution",
      mount: (panel) => mountDistribution(panel, who) },
    { id: "flow-insights", label: "流向", template: "tpl-flow-insights",
      mount: (panel) => mountFlowInsights(panel, who) },
  ], "统计分析");
}
