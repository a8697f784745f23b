import { Connection, WarningFilled } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "operations/dead-letters", name: "dead-letters", component: () => import("./DeadLettersPage.vue"),
    meta: { title: "事件异常", roles: ["county_admin"], nav: { group: "系统", order: 910, icon: WarningFilled } } },
  { path: "operations/clients", name: "integration-clients", component: () => import("./ClientsPage.vue"),
    meta: { title: "对接系统", roles: ["county_admin"], nav: { group: "系统", order: 920, icon: Connection } } },
] satisfies PageRoutes;
