import { DataAnalysis } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import { ANALYSTS } from "@/lib/nav";
import type { Role } from "@/session";

// Analysts see their province or city; a county administrator sees its own county (exact figures).
const READERS: Role[] = [...ANALYSTS, "county_admin"];

export default [
  { path: "dashboard/screen/:scope(\\d{2}|\\d{4}|\\d{6})?", name: "dashboard-screen",
    component: () => import("./ScreenPage.vue"), meta: { title: "大屏展示", roles: READERS, bare: true } },
  { path: "dashboard/:scope(\\d{2}|\\d{4}|\\d{6})?", name: "dashboard", component: () => import("./DashboardPage.vue"),
    meta: { title: "流动党员统计", roles: READERS, nav: { group: "统计分析", order: 0, icon: DataAnalysis } } },
] satisfies PageRoutes;
