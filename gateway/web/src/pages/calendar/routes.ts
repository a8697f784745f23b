import { Calendar } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** County staff read their county's working-day calendar; the province analyst enters each year's arrangement. */
export const CALENDAR_ROLES: Role[] = [
  "county_admin", "township_officer", "station_staff", "guidance_officer", "province_analyst",
];

export default [
  { path: "calendar", name: "calendar", component: () => import("./CalendarPage.vue"),
    meta: { title: "工作日历", roles: CALENDAR_ROLES, nav: { group: "系统", order: 940, icon: Calendar } } },
] satisfies PageRoutes;
