// One router for every role. Each area of the console lives in pages/<area>/ and declares its own routes there
// (routes.ts): adding a page never touches this file.
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import Shell from "@/layout/Shell.vue";
import { loadMe, type Role } from "@/session";
import { OWN_PAGES_ONLY, type PageRoutes } from "@/lib/nav";

const modules = import.meta.glob<{ default: PageRoutes }>("./pages/*/routes.ts", { eager: true });
const pages: RouteRecordRaw[] = Object.values(modules).flatMap((m) => m.default);
const publicPages = pages.filter((r) => r.meta?.public);
const shellPages = pages.filter((r) => !r.meta?.public);

/** Where each role lands after logging in. */
export function homeOf(role: Role): string {
  if (role === "province_analyst" || role === "city_analyst") return "/dashboard";
  if (role === "member") return "/m";
  if (role === "bank_officer") return "/loans/bank";
  return "/workbench";
}

/** Whether a role may open a page: pages naming roles admit those; the rest admit every role but the outside
 * parties (a partner bank's officer), who see only the pages that name them. */
function opens(role: Role, roles: Role[]): boolean {
  return roles.length ? roles.includes(role) : !OWN_PAGES_ONLY.includes(role);
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    ...publicPages,
    { path: "/", component: Shell, children: shellPages },
    { path: "/:rest(.*)*", name: "not-found", component: () => import("@/layout/NotFound.vue"),
      meta: { title: "页面不存在" } },
  ],
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  const me = await loadMe();
  if (!me) return { name: "login", query: to.fullPath !== "/" ? { next: to.fullPath } : {} };
  if (to.path === "/") return homeOf(me.role);
  if (to.name === "not-found") return true;
  const roles = to.matched.flatMap((r) => r.meta.roles ?? []);
  if (!opens(me.role, roles)) return homeOf(me.role);
  return true;
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 金桥` : "金桥 · 流动党员管理服务平台";
});

/** The routes a role sees in its menu, in their groups' order. */
export function menuOf(role: Role): RouteRecordRaw[] {
  return shellPages
    .filter((r) => r.meta?.nav && opens(role, r.meta.roles ?? []))
    .sort((a, b) => (a.meta!.nav!.order - b.meta!.nav!.order));
}

export { shellPages };
