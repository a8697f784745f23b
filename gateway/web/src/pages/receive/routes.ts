import { Box } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** Who takes members of other counties in: the county department, the stations and guidance offices (their subtree). */
export const RECEIVE_ROLES: Role[] = ["county_admin", "station_staff", "guidance_officer"];

export default [
  { path: "receive", name: "receive", component: () => import("./ReceivePage.vue"),
    meta: { title: "接收管理", roles: RECEIVE_ROLES, nav: { group: "流动管理", order: 2, icon: Box } } },
] satisfies PageRoutes;
