import { House } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import { COUNTY_STAFF } from "@/lib/nav";

export default [
  { path: "workbench", name: "workbench", component: () => import("./WorkbenchPage.vue"),
    meta: { title: "工作台", roles: COUNTY_STAFF, nav: { group: "工作台", order: 0, icon: House } } },
] satisfies PageRoutes;
