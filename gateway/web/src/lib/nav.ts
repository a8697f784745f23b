// What every page module declares about itself: its menu entry, which roles may open it, its breadcrumb.
import type { Component } from "vue";
import type { RouteRecordRaw } from "vue-router";
import type { Role } from "@/session";

declare module "vue-router" {
  interface RouteMeta {
    /** The page's title: menu entry, breadcrumb, and the document title. */
    title?: string;
    /** Roles that may open the page; a page without roles is open to every logged-in role. */
    roles?: Role[];
    /** Its menu entry: the sidebar group it belongs to and its place there (no nav: reachable by link only). */
    nav?: { group: NavGroup; order: number; icon?: Component };
    /** The breadcrumb's parent (a route name), for detail pages reached from a list. */
    parent?: string;
    /** Open without logging in (the login page). */
    public?: boolean;
    /** Drawn without the sidebar and header (the 大屏 and printable pages). */
    bare?: boolean;
  }
}

/** The sidebar's groups, in their order. */
export const NAV_GROUPS = ["工作台", "党员管理", "流动管理", "组织建设", "统计分析", "台账与数据", "通知设置", "系统"] as const;
export type NavGroup = (typeof NAV_GROUPS)[number];

/** A page module's routes (each pages/<area>/routes.ts default-exports one list). */
export type PageRoutes = RouteRecordRaw[];

export const COUNTY_STAFF: Role[] = [
  "county_admin", "township_officer", "station_staff", "guidance_officer", "branch_secretary",
];
export const ANALYSTS: Role[] = ["province_analyst", "city_analyst"];
/** A partner bank's officer (the token's org is the bank's code, e.g. "gsrcb"): no Party work, only loan pages. */
export const BANK_OFFICER: Role = "bank_officer";
/** Roles that open only the pages naming them (a page without roles is not theirs): the outside parties. */
export const OWN_PAGES_ONLY: Role[] = [BANK_OFFICER];
