// Notifications' words as the console shows them (zh-CN), and the tag colour of each state.
import type { ChannelName, EscalationStateName, StatusName } from "./api";

export const CHANNEL_NAMES: Record<ChannelName, string> = {
  in_app: "站内信", email: "电子邮件", sms: "短信", webhook: "群机器人/接口",
};
export const CHANNELS: ChannelName[] = ["in_app", "email", "sms", "webhook"];
/** The channels a county configures (the inbox needs no settings). */
export const CONFIGURABLE: ChannelName[] = ["email", "sms", "webhook"];

export const STATUS_NAMES: Record<StatusName, string> = {
  queued: "排队中", sent: "已发送", delivered: "已送达", failed: "失败", bounced: "被退回", skipped: "未发送",
  digested: "已并入摘要",
};
type Tag = "primary" | "success" | "warning" | "info" | "danger";
export const STATUS_TAGS: Record<StatusName, Tag> = {
  queued: "info", sent: "primary", delivered: "success", failed: "danger", bounced: "danger", skipped: "info",
  digested: "info",
};
/** A failed or bounced message may be put back in the queue. */
export const RETRYABLE = new Set<StatusName>(["failed", "bounced"]);

export const HOLD_REASONS: Record<string, string> = {
  quiet_hours: "免打扰时段", digest: "等待每日摘要", backoff: "等待重试", rate_limit: "发送限速",
};

export const ESCALATION_STATE_NAMES: Record<EscalationStateName, string> = {
  open: "待确认", acknowledged: "已确认", resolved: "已了结",
};
export const ESCALATION_STATE_TAGS: Record<EscalationStateName, Tag> = {
  open: "danger", acknowledged: "success", resolved: "info",
};
export const ESCALATION_KIND_NAMES: Record<string, string> = {
  check_in_overdue: "报到逾期", ticket_sla_breached: "工单超时", loan_step_overdue: "贷款审批超时",
};
export const SUBJECT_ROUTES: Record<string, string> = { flow: "flow", ticket: "ticket", loan: "loan" };

export const INBOX_TABS = [
  { name: "unread", label: "未读" }, { name: "", label: "全部" }, { name: "archived", label: "已归档" },
] as const;

/** 第N级 (1 the first office, then one more for every step up the org tree). */
export const levelName = (level: number): string => `第${level}级`;

export const channelName = (c: string): string => (CHANNEL_NAMES as Record<string, string>)[c] || c;
export const statusName = (s: string): string => (STATUS_NAMES as Record<string, string>)[s] || s;

/** The preference categories (their labels also come with every item and preference). */
export const CATEGORY_NAMES: Record<string, string> = {
  flow: "流动与报到", overdue: "报到逾期预警", reminder: "证件与报告提醒", meeting: "组织生活", ticket: "服务工单",
  sla: "工单超时预警", loan: "贷款审批", repayment: "还款提醒",
};
