// The member's phone (role member, PhoneLayout): own record, own flows and 证明信, 扫码报到, 活动记事本, 我的诉求, 我的贷款.
import { Bell, Camera, Notebook, Position, Service, User, Wallet } from "@element-plus/icons-vue";
import type { PageRoutes } from "@/lib/nav";

export default [
  { path: "m", name: "me", component: () => import("./MePage.vue"),
    meta: { title: "我的", roles: ["member"], nav: { group: "工作台", order: 900, icon: User } } },
  { path: "m/flows", name: "me-flows", component: () => import("./MyFlowsPage.vue"),
    meta: { title: "我的流动", roles: ["member"], nav: { group: "流动管理", order: 901, icon: Position } } },
  { path: "m/check-in", name: "me-check-in", component: () => import("./CheckInPage.vue"),
    meta: { title: "扫码报到", roles: ["member"], nav: { group: "流动管理", order: 902, icon: Camera } } },
  { path: "m/notebook", name: "me-notebook", component: () => import("./NotebookPage.vue"),
    meta: { title: "活动记事本", roles: ["member"], nav: { group: "流动管理", order: 903, icon: Notebook } } },
  { path: "m/letter/:flowId", name: "me-letter", component: () => import("./LetterPage.vue"),
    meta: { title: "证明信", roles: ["member"], parent: "me-flows" } },
  // 我的诉求 (issue 13): the member's own requests to the service desk.
  { path: "m/tickets", name: "me-tickets", component: () => import("./tickets/MyTicketsPage.vue"),
    meta: { title: "我的诉求", roles: ["member"], nav: { group: "工作台", order: 904, icon: Service } } },
  { path: "m/tickets/new", name: "me-ticket-new", component: () => import("./tickets/NewTicketPage.vue"),
    meta: { title: "我要求助", roles: ["member"], parent: "me-tickets" } },
  { path: "m/tickets/:id", name: "me-ticket", component: () => import("./tickets/MyTicketPage.vue"),
    meta: { title: "诉求详情", roles: ["member"], parent: "me-tickets" } },
  // 我的贷款 (issue 14): the member's own loan applications and loans, the open programmes, the schedule.
  { path: "m/loans", name: "me-loans", component: () => import("./loans/MyLoansPage.vue"),
    meta: { title: "我的贷款", roles: ["member"], nav: { group: "工作台", order: 905, icon: Wallet } } },
  { path: "m/loans/apply", name: "me-loan-apply", component: () => import("./loans/ApplyLoanPage.vue"),
    meta: { title: "申请贷款", roles: ["member"], parent: "me-loans" } },
  { path: "m/loans/:id", name: "me-loan", component: () => import("./loans/MyLoanPage.vue"),
    meta: { title: "贷款详情", roles: ["member"], parent: "me-loans" } },
  // 我的消息 (issue 15): the member's inbox and notification settings on the phone.
  { path: "m/inbox", name: "me-inbox", component: () => import("@/pages/notifications/InboxPage.vue"),
    props: { phone: true },
    meta: { title: "我的消息", roles: ["member"], nav: { group: "工作台", order: 906, icon: Bell } } },
  { path: "m/inbox/preferences", name: "me-notification-preferences",
    component: () => import("@/pages/notifications/PreferencesPage.vue"), props: { phone: true },
    meta: { title: "通知设置", roles: ["member"], parent: "me-inbox" } },
] satisfies PageRoutes;
