import { Promotion } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

const ROLES = ["county_admin", "township_officer", "guidance_officer", "branch_secretary"] as const;

export default [
  { path: "development", name: "development", component: () => import("./DevelopmentPage.vue"),
    meta: { title: "发展党员", roles: [...ROLES], nav: { group: "组织建设", order: 420, icon: Promotion } } },
  { path: "development/:id", name: "applicant", component: () => import("./ApplicantPage.vue"),
    meta: { title: "入党申请人", roles: [...ROLES], parent: "development" } },
] satisfies PageRoutes;
