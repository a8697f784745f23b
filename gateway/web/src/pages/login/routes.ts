import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "/login", name: "login", component: () => import("./LoginPage.vue"), meta: { title: "登录", public: true } },
] satisfies PageRoutes;
