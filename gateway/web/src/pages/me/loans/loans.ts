// The member's own loans (我的贷款) as the desk answers a member: their applications and loans only. The calls are the
// office pages' (pages/loans/api.ts) on the member's own county; this module adds what only the phone needs (万元,
// the 贴息 sentence, the method's one-line explanation, the overdue line).
import {
  applyForLoan, checkEligibility, getLoan, listLoans, listProgrammes, loanHistory, loanSchedule, uploadLoanAttachment,
  withdrawLoan, type Eligibility, type Loan, type LoanStep, type MethodName, type Programme, type Schedule,
} from "@/pages/loans/api";
import { bpToPercent } from "@/pages/loans/labels";
import { self } from "../flows";

export type { Eligibility, Loan, LoanStep, MethodName, Programme, Schedule };
export { fenToYuan, yuanToFen } from "@/lib/format";

export const myLoans = async (): Promise<Loan[]> => (await listLoans(self().tenant, { page_size: 100 })).loans;
export const myLoan = (id: string) => getLoan(self().tenant, id);
/** The loan's steps, oldest first (the route answers a list; an object `{steps}` is read too). */
export async function myLoanHistory(id: string): Promise<LoanStep[]> {
  const answer = (await loanHistory(self().tenant, id)) as unknown as LoanStep[] | { steps?: LoanStep[] };
  return Array.isArray(answer) ? answer : answer.steps || [];
}
export const myLoanSchedule = (id: string) => loanSchedule(self().tenant, id);
/** The programmes a member may apply to today. */
export const openProgrammes = () => listProgrammes(self().tenant, true);
/** Rule by rule, whether the member (named by their own token) may apply. */
export const checkMine = (programmeId: string, amount_fen?: number, term_months?: number) =>
  checkEligibility(self().tenant, programmeId, { amount_fen, term_months });
/** The member files for themself: the service names the member from the token. */
export const applyMine = (input: { programme_id: string; amount_fen: number; term_months: number; method: MethodName;
  purpose: string; business_plan: string }) => applyForLoan(self().tenant, input);
export const withdrawMine = (id: string, reason: string, version: number) =>
  withdrawLoan(self().tenant, id, { reason, version });
export const uploadMine = (id: string, file: File) => uploadLoanAttachment(self().tenant, id, file);

/** What each method means, in one line the member can read on a phone. */
export const METHOD_HELP: Record<MethodName, string> = {
  equal_instalment: "每月还款额相同，前期利息多、本金少，月供压力平稳。",
  equal_principal: "每月还相同本金，利息随余额减少，首月最多、逐月递减，总利息较少。",
  interest_only: "每月只还利息，到期一次还清本金，适合回款集中在后期的经营。",
};

/** 分 as 万元 for caps and amounts: 30000000 → "30万元", 5050000 → "5.05万元" (integer arithmetic only). */
export function fenToWan(fen: number): string {
  if (!Number.isFinite(fen) || fen < 0) return "—";
  const whole = Math.floor(fen / 1_000_000);
  const rest = String(Math.floor((fen % 1_000_000) / 100)).padStart(4, "0").replace(/0+$/, "");
  return `${whole}${rest ? `.${rest}` : ""}万元`;
}

/** The 贴息 sentence: "财政贴息 2%，个人承担 1.5%" (or none when the programme has no 贴息). */
export function subsidyLine(p: { rate_bp: number; subsidy_bp: number }): string {
  if (!p.subsidy_bp) return "";
  return `财政贴息 ${bpToPercent(p.subsidy_bp)}，个人承担 ${bpToPercent(p.rate_bp - p.subsidy_bp)}`;
}

/** Whether the loan is still an application the member may withdraw. */
export const OPEN_STATUSES = new Set(["submitted", "recommended", "reviewed", "approved", "credit_granted"]);

/** The red line of an overdue loan: amount and days past due. */
export function overdueLine(l: Pick<Loan, "overdue_fen" | "days_past_due">, yuan: (fen: number) => string): string {
  return l.overdue_fen > 0 ? `已逾期 ${l.days_past_due} 天，逾期金额 ${yuan(l.overdue_fen)}，请尽快还款` : "";
}

/** The public tiers and the bank, each with the history action that marks it done. */
export const TIERS: { title: string; done: string[] }[] = [
  { title: "提交申请", done: ["applied"] },
  { title: "支部推荐", done: ["recommended"] },
  { title: "乡镇审核", done: ["reviewed"] },
  { title: "县级审批", done: ["approved"] },
  { title: "银行授信", done: ["credit_granted"] },
  { title: "放款", done: ["disbursed"] },
  { title: "结清", done: ["settled"] },
];
