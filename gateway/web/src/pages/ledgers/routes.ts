import { Tickets } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "ledgers", name: "ledgers", component: () => import("./LedgersPage.vue"),
    meta: { title: "台账中心", roles: ["county_admin", "township_officer"],
      nav: { group: "台账与数据", order: 600, icon: Tickets } } },
] satisfies PageRoutes;
