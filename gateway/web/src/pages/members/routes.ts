import { User } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** Who reads the roster: the county department, and township committees, guidance offices and branches within
 * their reach (the API confines the rows). */
export const ROSTER_ROLES: Role[] = ["county_admin", "township_officer", "guidance_officer", "branch_secretary"];

export default [
  { path: "members", name: "members", component: () => import("./RosterPage.vue"),
    meta: { title: "党员名册", roles: ROSTER_ROLES, nav: { group: "党员管理", order: 0, icon: User } } },
  { path: "members/:id", name: "member", component: () => import("./MemberPage.vue"),
    meta: { title: "党员详情", roles: ROSTER_ROLES, parent: "members" } },
] satisfies PageRoutes;
