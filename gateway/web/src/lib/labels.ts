// zh-CN names of the codes the API returns (one place for every page).

export const ROLE_NAMES = {
  province_analyst: "省委组织部分析员",
  city_analyst: "市委组织部分析员",
  county_admin: "县委组织部管理员",
  township_officer: "乡镇党委工作人员",
  station_staff: "驻城党建工作站工作人员",
  guidance_officer: "党建指导员",
  branch_secretary: "党支部书记",
  member: "党员",
  bank_officer: "合作银行信贷员",
};

export const STATUS_NAMES = { full: "正式党员", probationary: "预备党员" };

export const GENDER_NAMES = { male: "男", female: "女" };

export const roleName = (role: string): string => (ROLE_NAMES as Record<string, string>)[role] || role;

/** A flow as its home county follows it (外出登记 → 接收 → 报到 → 回归/转出). */
export const FLOW_STATUS_NAMES = {
  registered: "待接收",
  offered: "已接收待报到",
  refused: "被拒收",
  managed: "已报到",
  returned: "已回归",
  transferred: "已转出",
};

/** Flows still open: the home county may redirect, take a report, bring them home or transfer them. */
export const OPEN_FLOW_STATUSES = new Set(["registered", "offered", "refused", "managed"]);

/** A temporary membership (临时组织关系) at the destination. */
export const MEMBERSHIP_STATUS_NAMES = {
  offered: "待报到",
  checked_in: "已报到",
  refused: "已拒收",
  closed: "已结束",
};

/** Why the destination chose this organisation (DESIGN §3 step 2). */
export const PLACEMENT_RULE_NAMES = {
  employer_branch: "所在单位党组织",
  residence_community_branch: "居住地社区党支部",
  fringe_village_branch: "城郊村党支部",
  station_temporary_branch: "驻城党建工作站临时党支部",
  external_branch_in_city: "本县驻当地党组织",
  industry_branch: "行业党支部",
  online_branch: "网上党支部",
};

export const CHECK_IN_METHOD_NAMES = { staff: "工作人员登记", qr_code: "扫码报到" };

export const CLOSE_REASON_NAMES = {
  returned: "已回归", transferred: "已转出", redirected: "已重新安置", cancelled: "已撤销",
};

/** Fired policy timers (预警). */
export const TIMER_NAMES = {
  check_in_overdue: "报到逾期",
  certificate_expired: "活动证到期",
  report_back_due: "年度汇报到期",
  transfer_due: "应转尽转",
};

/** 报到逾期 escalates village → township → county. */
export const ALERT_LEVEL_NAMES = { 1: "村级提醒", 2: "上报乡镇", 3: "上报县委组织部" };

export const GRADE_NAMES = {
  excellent: "优秀",
  competent: "合格",
  basically_competent: "基本合格",
  incompetent: "不合格",
};

/** The divisions of the demo province and the cities outside it (the gateway's jinqiao.kit.regions). */
export const REGION_NAMES = {
  41: "河南省",
  4115: "信阳市",
  411502: "浉河区",
  411503: "平桥区",
  411521: "罗山县",
  411522: "光山县",
  411523: "新县",
  411524: "商城县",
  411525: "固始县",
  411526: "潢川县",
  411527: "淮滨县",
  411528: "息县",
  4101: "郑州市",
  410102: "中原区",
  410103: "二七区",
  410104: "管城回族区",
  410105: "金水区",
  410108: "惠济区",
  110000: "北京市",
  310000: "上海市",
  420100: "武汉市",
  440100: "广州市",
  440300: "深圳市",
  320500: "苏州市",
  330100: "杭州市",
};

export const regionName = (code: string | null | undefined): string =>
  code ? (REGION_NAMES as Record<string, string>)[code] || code : "";

/** Where a member may go in the 外出登记 form: 郑州's districts inside the province, cities outside it. */
export const DESTINATIONS = [
  { group: "省内 · 郑州市", codes: ["410102", "410103", "410104", "410105", "410108"] },
  { group: "省外城市", codes: ["110000", "310000", "420100", "440100", "440300", "320500", "330100"] },
];

/** The services that hold a county's dead letters, as the county's staff know them. */
export const SERVICE_NAMES = { registry: "党员登记", organizations: "组织管理", insights: "统计分析",
  desk: "服务台", notifications: "消息通知" };

/** Events by their message name (jinqiao.events.v1.*). */
export const EVENT_NAMES = {
  MemberRegistered: "登记党员", MemberTransferred: "组织关系转出", FlowRegistered: "外出登记",
  FlowRedirected: "变更流入地", FlowClosed: "流动结束", Handover: "交接", PolicyTimerFired: "到期提醒",
  TemporaryMembershipOffered: "安置到临时党组织", TemporaryMembershipRefused: "拒收", CheckedIn: "报到",
  TemporaryMembershipClosed: "临时组织关系结束", ActivityRecorded: "记录活动", AttendanceRecorded: "记录出勤",
  DestinationAssessmentGiven: "流入地评议", MeetingScheduled: "安排三会一课", OrgCreated: "新建组织",
  OrgRenamed: "组织更名", OrgMoved: "调整隶属", OrgDissolved: "撤销组织", SessionRevoked: "登录会话注销",
  TicketOpened: "登记工单", TicketResolved: "工单办结", TicketClosed: "工单关闭", TicketReopened: "工单重新办理",
  TicketRated: "满意度回访", TicketSlaWarned: "工单即将超时", TicketSlaBreached: "工单超时",
  TicketReferred: "工单转办", ReferralAccepted: "转办已接收", ReferralDeclined: "转办被退回",
  ReferralWithdrawn: "转办撤回", ReferralResolved: "转办已办结",
};
