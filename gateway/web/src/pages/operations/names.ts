// zh-CN names for the operations pages: what a county system may be granted, and how a replay ended.

/** Permissions a county system may be given (kit/authz.py Permission values). */
export const PERMISSION_NAMES: Record<string, string> = {
  "members.read": "查询党员信息",
  "members.write": "登记和修改党员",
  "members.reveal": "查看完整身份证号",
  "flows.write": "办理外出登记和流动",
  "development.read": "查询发展党员",
  "development.write": "办理发展党员",
  "ledgers.export": "导出台账",
  "orgs.read": "查询党组织",
  "orgs.write": "维护党组织",
  "org_life.write": "记录组织生活（三会一课）",
  "placement.write": "维护安置规则",
  "memberships.handle": "办理接收和报到",
  "insights.read": "查询统计数据",
  "alerts.handle": "处理预警",
};

export const permissionName = (p: string): string => PERMISSION_NAMES[p] || p;

/** What an API client is the credentials of (gateway/integrations.py KINDS). */
export const CLIENT_KIND_NAMES = { county_system: "县级系统", bank: "合作银行系统" } as const;

/** A partner bank's code, as the gateway checks it (kit/auth.py BANK_CODE). */
export const BANK_CODE = /^[a-z0-9-]{2,32}$/;

/** What a replay did, as a notice: kind, title, explanation. */
export const REPLAY_OUTCOMES: Record<string, ["success" | "error", string, string]> = {
  applied: ["success", "已重新处理", "事件已应用，记录已标记为已处理。"],
  already_applied: ["success", "无需重复处理", "该事件此前已经应用过，未重复应用；记录已标记为已处理。"],
  failed: ["error", "重新处理未成功", "原因见该条记录；排除原因后可再次重新处理。"],
};
