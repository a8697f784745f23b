import { Upload } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "imports", name: "imports", component: () => import("./ImportPage.vue"),
    meta: { title: "数据导入", roles: ["county_admin"], nav: { group: "台账与数据", order: 610, icon: Upload } } },
] satisfies PageRoutes;
