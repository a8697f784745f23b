import { Position } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** 流动党员 is the county department's: it registers outflows and closes them (the API allows no one else). */
export const FLOW_ROLES: Role[] = ["county_admin"];

export default [
  { path: "flows", name: "flows", component: () => import("./FlowsPage.vue"),
    meta: { title: "流动党员", roles: FLOW_ROLES, nav: { group: "流动管理", order: 0, icon: Position } } },
  { path: "flows/:id", name: "flow", component: () => import("./FlowPage.vue"),
    meta: { title: "流动详情", roles: FLOW_ROLES, parent: "flows" } },
  { path: "flows/:id/letter", name: "flow-letter", component: () => import("./LetterPrintPage.vue"),
    meta: { title: "流动党员证明信", roles: FLOW_ROLES, bare: true } },
] satisfies PageRoutes;
