// Notifications (issue 15): 消息中心 and 通知设置 for every person with an inbox; the county department's 发送记录,
// 逐级提醒, 通知模板 and 通知渠道. The member's phone has its own /m/inbox (pages/me/routes.ts).
import { Bell, ChatLineSquare, Connection, Document, Setting, Warning } from "@element-plus/icons-vue";
import { COUNTY_STAFF, BANK_OFFICER, type PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** Every login with an inbox in the office console (the member's is on the phone). */
export const INBOX_ROLES: Role[] = [...COUNTY_STAFF, BANK_OFFICER];
const ADMIN: Role[] = ["county_admin"];

export default [
  { path: "notifications", name: "notifications", component: () => import("./InboxPage.vue"),
    meta: { title: "消息中心", roles: INBOX_ROLES, nav: { group: "工作台", order: 5, icon: Bell } } },
  { path: "notifications/preferences", name: "notification-preferences",
    component: () => import("./PreferencesPage.vue"),
    meta: { title: "我的通知设置", roles: INBOX_ROLES, nav: { group: "工作台", order: 6, icon: Setting } } },
  { path: "notifications/deliveries", name: "notification-deliveries", component: () => import("./DeliveriesPage.vue"),
    meta: { title: "发送记录", roles: ADMIN, nav: { group: "通知设置", order: 600, icon: ChatLineSquare } } },
  { path: "notifications/escalations", name: "notification-escalations",
    component: () => import("./EscalationsPage.vue"),
    meta: { title: "逐级提醒", roles: ADMIN, nav: { group: "通知设置", order: 601, icon: Warning } } },
  { path: "notifications/templates", name: "notification-templates", component: () => import("./TemplatesPage.vue"),
    meta: { title: "通知模板", roles: ADMIN, nav: { group: "通知设置", order: 602, icon: Document } } },
  { path: "notifications/channels", name: "notification-channels", component: () => import("./ChannelsPage.vue"),
    meta: { title: "通知渠道", roles: ADMIN, nav: { group: "通知设置", order: 603, icon: Connection } } },
] satisfies PageRoutes;
