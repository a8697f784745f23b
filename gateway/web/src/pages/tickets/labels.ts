// The service desk's words, shared by the office pages (pages/tickets) and the member's phone (pages/me).
export const STATUS_LABEL: Record<string, string> = {
  new: "新建", accepted: "已受理", in_progress: "处理中", awaiting_info: "待补充材料",
  resolved: "已办结", reviewed: "已回访", closed: "已关闭",
};
export const STATUS_TYPE: Record<string, "info" | "primary" | "warning" | "success" | "danger"> = {
  new: "danger", accepted: "primary", in_progress: "primary", awaiting_info: "warning",
  resolved: "success", reviewed: "success", closed: "info",
};
export const CHANNEL_LABEL: Record<string, string> = {
  member_app: "党员手机端", walk_in: "窗口接待", home_county: "户籍地代办", grid: "网格长", referral: "转办",
};
export const PRIORITY_LABEL: Record<string, string> = { low: "低", normal: "普通", high: "高", urgent: "紧急" };
export const CLOCK_LABEL: Record<string, string> = {
  first_response: "首次响应", assignment: "指派承办", update: "进展答复", resolution: "办结",
};
export const SLA_STATE_LABEL: Record<string, string> = {
  running: "计时中", warned: "即将超时", breached: "已超时", paused: "已暂停", met: "按时", missed: "超时完成",
};
export const CLOSE_REASON_LABEL: Record<string, string> = {
  WITHDRAWN: "党员撤回", DUPLICATE: "重复诉求", UNREACHABLE: "无法联系", OUT_OF_SCOPE: "不属受理范围",
  REVIEWED: "已回访", REFERRED_AWAY: "已转办",
};
export const REFERRAL_STATUS_LABEL: Record<string, string> = {
  pending: "待接收", accepted: "已接收", declined: "已退回", withdrawn: "已撤回（超时）", resolved: "已办结",
};
export const DIRECTION_LABEL: Record<string, string> = {
  to_home: "转户籍地县委", to_station: "转流入地服务站",
};
export const ACTION_LABEL: Record<string, string> = {
  filed: "登记诉求", accepted: "受理", started: "开始办理", info_requested: "请补充材料", info_supplied: "党员补充材料",
  resumed: "恢复办理", resolved: "办结", rated: "满意度回访", reopened: "重新办理", closed: "关闭", assigned: "分派",
  comment: "留言", attachment: "上传附件", referred: "转办", referral_accepted: "对方已接收",
  referral_declined: "对方退回", referral_withdrawn: "转办超时撤回", sla_warned: "即将超时提醒",
  sla_breached: "超时", escalated: "上报督办",
};
