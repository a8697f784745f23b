import { Coin, Files, Money, Wallet, Warning } from "@element-plus/icons-vue";
import { BANK_OFFICER, type PageRoutes } from "@/lib/nav";
import type { Role } from "@/session";

/** Who reviews applications: the county department, township committees and branch secretaries (each its tier). */
export const REVIEW_ROLES: Role[] = ["county_admin", "township_officer", "branch_secretary"];
/** Who reads the programmes; the county department alone manages them. */
export const PROGRAMME_ROLES: Role[] = ["county_admin", "township_officer", "branch_secretary"];
export const OVERDUE_ROLES: Role[] = ["county_admin", "township_officer", BANK_OFFICER];
export const SUBSIDY_ROLES: Role[] = ["county_admin", BANK_OFFICER];

export default [
  { path: "loan-programmes", name: "loan-programmes", component: () => import("./ProgrammesPage.vue"),
    meta: { title: "贷款项目", roles: PROGRAMME_ROLES, nav: { group: "流动管理", order: 20, icon: Coin } } },
  { path: "loans", name: "loans", component: () => import("./LoansPage.vue"),
    meta: { title: "贷款审批", roles: REVIEW_ROLES, nav: { group: "流动管理", order: 21, icon: Money } } },
  { path: "loans/bank", name: "loans-bank", component: () => import("./BankPage.vue"),
    meta: { title: "银行工作台", roles: [BANK_OFFICER], nav: { group: "流动管理", order: 22, icon: Wallet } } },
  { path: "loans/overdue", name: "loans-overdue", component: () => import("./OverduePage.vue"),
    meta: { title: "逾期贷款", roles: OVERDUE_ROLES, nav: { group: "流动管理", order: 23, icon: Warning } } },
  { path: "loan-subsidies", name: "loan-subsidies", component: () => import("./SubsidiesPage.vue"),
    meta: { title: "贴息申报", roles: SUBSIDY_ROLES, nav: { group: "流动管理", order: 24, icon: Files } } },
  { path: "loans/:id", name: "loan", component: () => import("./LoanPage.vue"),
    meta: { title: "贷款详情", roles: [...REVIEW_ROLES, BANK_OFFICER], parent: "loans" } },
] satisfies PageRoutes;
