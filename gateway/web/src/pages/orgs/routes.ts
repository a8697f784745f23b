import { OfficeBuilding, Sort } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "orgs", name: "orgs", component: () => import("./OrgsPage.vue"),
    meta: { title: "组织架构", roles: ["county_admin", "township_officer", "station_staff", "guidance_officer",
      "branch_secretary"], nav: { group: "组织建设", order: 400, icon: OfficeBuilding } } },
  { path: "orgs/placement-rules", name: "placement-rules", component: () => import("./PlacementRulesPage.vue"),
    meta: { title: "安置规则", roles: ["county_admin"], nav: { group: "组织建设", order: 410, icon: Sort } } },
] satisfies PageRoutes;
