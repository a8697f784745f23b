import { Bell } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** 预警 are handled by the county department (the county) and township committees (their township's members). */
export const ALERT_PAGE_ROLES: Role[] = ["county_admin", "township_officer"];

export default [
  { path: "alerts", name: "alerts", component: () => import("./AlertsPage.vue"),
    meta: { title: "预警处置", roles: ALERT_PAGE_ROLES, nav: { group: "流动管理", order: 1, icon: Bell } } },
] satisfies PageRoutes;
