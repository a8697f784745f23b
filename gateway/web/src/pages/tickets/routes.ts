import { Collection, Headset, Share } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** Who works the desk's queues: the county department, township committees, stations, guidance offices. */
export const DESK_ROLES: Role[] = ["county_admin", "township_officer", "station_staff", "guidance_officer"];
/** 转办 crosses counties: the county department and the stations answer for their county. */
export const REFERRAL_ROLES: Role[] = ["county_admin", "station_staff"];

export default [
  { path: "tickets", name: "tickets", component: () => import("./TicketsPage.vue"),
    meta: { title: "服务工单", roles: DESK_ROLES, nav: { group: "流动管理", order: 3, icon: Headset } } },
  { path: "tickets/:id", name: "ticket", component: () => import("./TicketPage.vue"),
    meta: { title: "工单详情", roles: DESK_ROLES, parent: "tickets" } },
  { path: "ticket-referrals", name: "ticket-referrals", component: () => import("./ReferralsPage.vue"),
    meta: { title: "转办管理", roles: REFERRAL_ROLES, nav: { group: "流动管理", order: 4, icon: Share } } },
  { path: "ticket-categories", name: "ticket-categories", component: () => import("./CategoriesPage.vue"),
    meta: { title: "服务类别", roles: ["county_admin"], nav: { group: "系统", order: 930, icon: Collection } } },
] satisfies PageRoutes;
