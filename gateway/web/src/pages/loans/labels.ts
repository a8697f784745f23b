// The micro-loans' words (党员先锋贷), shared by the office pages (pages/loans) and the member's phone (pages/me), and
// the rate and money helpers that keep to integer/string arithmetic (never a float on money or rates).
import type { DecisionName, GradeName, LoanStatusName, MethodName, ProductName, SponsorName, TierName } from "./api";

type TagType = "info" | "primary" | "warning" | "success" | "danger";

export const PRODUCT_LABEL: Record<ProductName, string> = {
  pioneer: "党员先锋贷", micro_credit: "小额信用贷款", startup_guarantee: "创业担保贷款",
};
export const SPONSOR_LABEL: Record<SponsorName, string> = {
  county: "本县（区）项目", city: "市级统筹项目", province: "省级统筹项目",
};
export const METHOD_LABEL: Record<MethodName, string> = {
  equal_instalment: "等额本息", equal_principal: "等额本金", interest_only: "先息后本",
};
export const STATUS_LABEL: Record<LoanStatusName, string> = {
  submitted: "待支部推荐", recommended: "待乡镇审核", reviewed: "待县级审批", approved: "待银行审批",
  credit_granted: "待放款", disbursed: "还款中", settled: "已结清", refused: "未通过", withdrawn: "已撤回",
};
export const STATUS_TYPE: Record<LoanStatusName, TagType> = {
  submitted: "warning", recommended: "warning", reviewed: "warning", approved: "primary",
  credit_granted: "primary", disbursed: "success", settled: "info", refused: "danger", withdrawn: "info",
};
export const TIER_LABEL: Record<TierName, string> = {
  branch: "支部推荐", township: "乡镇审核", county: "县级审批", bank: "银行审批",
};
/** Who decides at a tier (for "当前环节" and the history). */
export const TIER_ACTOR: Record<TierName, string> = {
  branch: "党支部", township: "乡镇（街道）党（工）委", county: "县委组织部", bank: "合作银行",
};
export const DECISION_LABEL: Record<DecisionName, string> = { approve: "同意", refuse: "不同意" };
export const GRADE_LABEL: Record<Exclude<GradeName, "">, string> = {
  EXCELLENT: "优秀", COMPETENT: "合格", BASICALLY_COMPETENT: "基本合格",
};
export const CHANNEL_LABEL: Record<string, string> = { member_app: "党员本人申请", on_behalf: "代为申请" };
export const ACTION_LABEL: Record<string, string> = {
  applied: "提交申请", recommended: "支部推荐", reviewed: "乡镇审核", approved: "审批通过", refused: "审核未通过",
  credit_granted: "银行授信", credit_declined: "银行不予授信", disbursed: "放款", repaid: "登记还款",
  settled: "贷款结清", withdrawn: "撤回申请", reminded: "还款提醒", overdue: "逾期", step_overdue: "审批超时",
  attachment: "上传附件",
};
/** The eligibility rules' wording, as the programme form shows them. */
export const RULE_LABEL: Record<string, string> = {
  allow_probationary: "预备党员可申请（否则仅限正式党员）",
  min_party_years: "入党年限（整年）不少于",
  min_grade: "最近一次双向评议等次不低于",
  require_no_overdue: "本县（区）无逾期贷款",
  min_age: "年龄下限（周岁，按出生年份计）",
  max_age: "年龄上限（周岁，按出生年份计，0 为不限）",
  require_returnee: "须为返乡创业（回归）党员",
};

/** Label of an enum value, or the value itself for one this console does not know yet. */
export function labelOf<K extends string>(table: Record<K, string>, key: string | null | undefined): string {
  if (!key) return "—";
  return (table as Record<string, string>)[key] ?? key;
}

/** Basis points as a percentage, by integer arithmetic: 435 → "4.35%", 400 → "4%", 5 → "0.05%". */
export function bpToPercent(bp: number | null | undefined): string {
  if (typeof bp !== "number" || !Number.isFinite(bp)) return "—";
  const sign = bp < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(bp));
  const frac = String(abs % 100).padStart(2, "0").replace(/0+$/, "");
  return `${sign}${Math.floor(abs / 100)}${frac ? `.${frac}` : ""}%`;
}

/** A percentage typed as text ("4.35", "4.35%") as basis points, by string arithmetic; null when it is not one. */
export function percentToBp(text: string): number | null {
  const m = /^(\d{1,3})(?:\.(\d{1,2}))?%?$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

/** 分 as the digits a 元 input shows ("3000.5" for 300050): no separators, no unit, no float. */
export function fenToYuanInput(fen: number | null | undefined): string {
  if (typeof fen !== "number" || !Number.isFinite(fen) || fen <= 0) return "";
  const whole = Math.floor(fen / 100);
  const cents = String(fen % 100).padStart(2, "0").replace(/0+$/, "");
  return cents ? `${whole}.${cents}` : String(whole);
}

/** How much of a quota is committed, in whole percent for a progress bar (integer arithmetic, capped at 100). */
export function quotaPercent(committed: number, total: number): number {
  if (!total || total <= 0) return 0;
  return Math.min(100, Math.floor((committed * 100) / total));
}

/** The tiers an application passes, in order, for the stepper. */
export const STEPS = ["支部推荐", "乡镇审核", "县级审批", "银行审批", "放款", "还款中", "已结清"] as const;

/** Where a loan stands on the stepper (index of the active step; STEPS.length when settled). */
export function stepIndex(status: LoanStatusName, refusedTier: TierName | "" = ""): number {
  const byStatus: Record<LoanStatusName, number> = {
    submitted: 0, recommended: 1, reviewed: 2, approved: 3, credit_granted: 4, disbursed: 5, settled: 7,
    refused: 0, withdrawn: 0,
  };
  if (status === "refused") return { branch: 0, township: 1, county: 2, bank: 3, "": 0 }[refusedTier];
  return byStatus[status];
}
