// The micro-loans' API (党员先锋贷, issue 14) as the console calls it: one typed function per route, shapes as in
// gateway/routes/loans/wire.py and proto/jinqiao/desk/v1/loans.proto (proto field names; enums as lowercase names;
// money integer 分 in `*_fen`; rates basis points in `*_bp`). The interfaces are written by hand (narrower than the
// document's: enums as literal unions) and checked against the OpenAPI document's at the end of this file; the calls
// go through the shared client untyped (same bearer token, one silent refresh, Idempotency-Key on every write,
// Problem on failure).
import { api, data, download, upload } from "@/api/client";
import type { components } from "@/api/schema";

export type ProductName = "pioneer" | "micro_credit" | "startup_guarantee";
export type SponsorName = "county" | "city" | "province";
export type MethodName = "equal_instalment" | "equal_principal" | "interest_only";
export type LoanStatusName = "submitted" | "recommended" | "reviewed" | "approved" | "credit_granted" | "disbursed"
  | "settled" | "refused" | "withdrawn";
export type TierName = "branch" | "township" | "county" | "bank";
export type DecisionName = "approve" | "refuse";
export type GradeName = "" | "EXCELLENT" | "COMPETENT" | "BASICALLY_COMPETENT";

/** A programme's eligibility rules; zero/empty/false means no such rule. */
export interface Rules {
  allow_probationary: boolean;
  min_party_years: number;
  min_grade: GradeName;
  require_no_overdue: boolean;
  min_age: number;
  max_age: number;
  require_returnee: boolean;
}

/** A loan programme (贷款项目) of a county. */
export interface Programme {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  product: ProductName | "";
  sponsor: SponsorName | "";
  shared_code: string;
  bank_code: string;
  bank_name: string;
  cap_per_person_fen: number;
  min_amount_fen: number;
  max_term_months: number;
  methods: MethodName[];
  rate_bp: number;
  subsidy_bp: number;
  total_quota_fen: number;
  committed_fen: number;
  window_start: string;
  window_end: string;
  rules: Rules;
  township_final_up_to_fen: number;
  review_days: number;
  bank_days: number;
  active: boolean;
  version: number;
  created_at: string | null;
}

/** What a programme form sends (create: no version; update: the version it was read at). */
export interface ProgrammeIn {
  name: string;
  description: string;
  product: ProductName;
  sponsor: SponsorName;
  shared_code: string;
  bank_code: string;
  bank_name: string;
  cap_per_person_fen: number;
  min_amount_fen: number;
  max_term_months: number;
  methods: MethodName[];
  rate_bp: number;
  subsidy_bp: number;
  total_quota_fen: number;
  /** null: from today (start) / open-ended (end). */
  window_start: string | null;
  window_end: string | null;
  rules: Rules;
  township_final_up_to_fen: number;
  review_days: number;
  bank_days: number;
  /** Update only (a new programme takes applications within its window). */
  active?: boolean;
  version?: number;
}

/** One eligibility rule checked: its key, wording, outcome and what was found. */
export interface RuleResult {
  rule: string;
  label: string;
  passed: boolean;
  detail: string;
}

export interface Eligibility {
  eligible: boolean;
  results: RuleResult[];
}

/** A loan application and, once disbursed, the loan. */
export interface Loan {
  id: string;
  tenant_id: string;
  number: string;
  programme_id: string;
  programme_name: string;
  product: ProductName | "";
  bank_code: string;
  bank_name: string;
  member_id: string;
  member_name: string;
  home_org_id: string;
  township: string;
  amount_fen: number;
  term_months: number;
  method: MethodName | "";
  purpose: string;
  business_plan: string;
  status: LoanStatusName;
  pending_tier: TierName | "";
  step_due_at: string | null;
  step_overdue: boolean;
  channel: "member_app" | "on_behalf" | "";
  applied_by: string;
  refused_tier: TierName | "";
  refusal_reason: string;
  granted_amount_fen: number;
  rate_bp: number;
  subsidy_bp: number;
  disbursed_on: string;
  outstanding_principal_fen: number;
  overdue_fen: number;
  days_past_due: number;
  next_due_date: string;
  next_due_fen: number;
  settled_on: string;
  created_at: string | null;
  updated_at: string | null;
  version: number;
  eligibility: RuleResult[];
  attachment_count: number;
}

export interface LoanPage {
  loans: Loan[];
  total: number;
}

export interface LoanQuery {
  status?: LoanStatusName[];
  programme_id?: string;
  awaiting_me?: boolean;
  overdue_only?: boolean;
  member_id?: string;
  /** Words in the member's name, the purpose or the loan number. */
  q?: string;
  page?: number;
  page_size?: number;
}

export interface NewLoan {
  programme_id: string;
  /** Staff name the member (代为申请); a member's own token names them, so the member pages leave it empty. */
  member_id?: string;
  amount_fen: number;
  term_months: number;
  method: MethodName;
  purpose: string;
  business_plan: string;
}

export interface Instalment {
  seq: number;
  due_date: string;
  principal_fen: number;
  interest_fen: number;
  subsidy_fen: number;
  borrower_interest_fen: number;
  due_fen: number;
  paid_principal_fen: number;
  paid_interest_fen: number;
  paid_on: string;
  balance_after_fen: number;
  overdue: boolean;
}

export interface Repayment {
  id: string;
  loan_id: string;
  amount_fen: number;
  paid_on: string;
  principal_fen: number;
  interest_fen: number;
  recorded_by: string;
}

export interface Schedule {
  instalments: Instalment[];
  repayments: Repayment[];
  total_principal_fen: number;
  total_interest_fen: number;
  total_subsidy_fen: number;
  total_due_fen: number;
}

export interface LoanStep {
  id: string;
  action: string;
  tier: TierName | "";
  actor: string;
  body: string;
  created_at: string | null;
}

export interface History {
  steps: LoanStep[];
}

export interface LoanAttachment {
  id: string;
  loan_id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  uploaded_by: string;
  created_at: string | null;
}

export interface SubsidyLine {
  loan_id: string;
  programme_name: string;
  bank_name: string;
  member_name: string;
  principal_fen: number;
  seq: number;
  due_date: string;
  interest_fen: number;
  subsidy_fen: number;
  paid: boolean;
}

export interface SubsidyClaims {
  lines: SubsidyLine[];
  total_interest_fen: number;
  total_subsidy_fen: number;
  period_start: string;
  period_end: string;
}

export interface RepaymentAnswer {
  loan: Loan;
  repayment: Repayment;
}

// The shared client without the OpenAPI typing: the same middleware (token, refresh, Idempotency-Key, Problem).
type Answer = Promise<{ data?: unknown; error?: unknown; response: Response }>;
interface Loose {
  GET(path: string, init?: { params?: { query?: object } }): Answer;
  POST(path: string, init?: { body?: unknown }): Answer;
  PUT(path: string, init?: { body?: unknown }): Answer;
}
const loose = api as unknown as Loose;

const e = encodeURIComponent;
const T = (tenant: string) => `/api/v1/tenants/${e(tenant)}`;
const L = (tenant: string, id: string) => `${T(tenant)}/loans/${e(id)}`;

const get = <R>(path: string, query?: object) => data(loose.GET(path, query ? { params: { query } } : {})) as Promise<R>;
const post = <R>(path: string, body: unknown) => data(loose.POST(path, { body })) as Promise<R>;
const put = <R>(path: string, body: unknown) => data(loose.PUT(path, { body })) as Promise<R>;

/** The county's programmes (a bank officer: its bank's); `open_only` those open for applications today. */
export const listProgrammes = (tenant: string, open_only = false) =>
  get<{ programmes: Programme[] } | Programme[]>(`${T(tenant)}/loan-programmes`, open_only ? { open_only } : undefined)
    .then((r) => (Array.isArray(r) ? r : r.programmes));

export const getProgramme = (tenant: string, id: string) =>
  get<Programme>(`${T(tenant)}/loan-programmes/${e(id)}`);

export const createProgramme = (tenant: string, body: ProgrammeIn) =>
  post<Programme>(`${T(tenant)}/loan-programmes`, body);

/** Replace a programme's terms (version-checked: send the version it was read at). */
export const updateProgramme = (tenant: string, id: string, body: ProgrammeIn) =>
  put<Programme>(`${T(tenant)}/loan-programmes/${e(id)}`, body);

/** Rule by rule, whether a member may apply (staff name the member; a member's token names them). */
export const checkEligibility = (tenant: string, programme_id: string,
  body: { member_id?: string; amount_fen?: number; term_months?: number }) =>
  post<Eligibility>(`${T(tenant)}/loan-programmes/${e(programme_id)}/eligibility`, body);

/** A page of the loans within the caller's reach. */
export const listLoans = (tenant: string, query: LoanQuery) => get<LoanPage>(`${T(tenant)}/loans`, query);

export const getLoan = (tenant: string, id: string) => get<Loan>(L(tenant, id));

/** File an application (the member for themself, or staff on their behalf: 代为申请). */
export const applyForLoan = (tenant: string, body: NewLoan) => post<Loan>(`${T(tenant)}/loans`, body);

/** A loan's steps, oldest first (the route answers a list; kept as `{steps}` for the pages). */
export const loanHistory = (tenant: string, id: string) =>
  get<History | LoanStep[]>(`${L(tenant, id)}/history`).then((r): History => (Array.isArray(r) ? { steps: r } : r));

export const loanSchedule = (tenant: string, id: string) => get<Schedule>(`${L(tenant, id)}/schedule`);

/** A public tier's decision (支部推荐, 乡镇审核, 县级审批); a reason is required on refusal. */
export const reviewLoan = (tenant: string, id: string,
  body: { decision: DecisionName; reason: string; version: number }) =>
  post<Loan>(`${L(tenant, id)}/review`, body);

/** Withdraw before disbursement (the applicant, or staff for them). */
export const withdrawLoan = (tenant: string, id: string, body: { reason: string; version: number }) =>
  post<Loan>(`${L(tenant, id)}/withdraw`, body);

/** The bank's credit decision: grant (maybe a lower amount) or decline with a reason. */
export const creditDecision = (tenant: string, id: string,
  body: { decision: DecisionName; reason: string; granted_amount_fen: number; version: number }) =>
  post<Loan>(`${L(tenant, id)}/credit-decision`, body);

/** Record the disbursement (放款); the Idempotency-Key makes a repeated click change nothing. Empty dates go as
 * null (the route's defaults: today, and one month after disbursement). */
export const disburseLoan = (tenant: string, id: string, body: { disbursed_on: string; first_due_date: string }) =>
  post<Loan>(`${L(tenant, id)}/disbursement`, {
    disbursed_on: body.disbursed_on || null, first_due_date: body.first_due_date || null });

/** Record a repayment (登记还款); idempotent like the disbursement. */
export const recordRepayment = (tenant: string, id: string, body: { amount_fen: number; paid_on: string }) =>
  post<RepaymentAnswer>(`${L(tenant, id)}/repayments`, { amount_fen: body.amount_fen, paid_on: body.paid_on || null });

export const listLoanAttachments = (tenant: string, id: string) =>
  get<{ attachments: LoanAttachment[] } | LoanAttachment[]>(`${L(tenant, id)}/attachments`)
    .then((r) => (Array.isArray(r) ? r : r.attachments));

/** Upload one file (raw body, its name in X-File-Name). */
export const uploadLoanAttachment = (tenant: string, id: string, file: File) =>
  upload<LoanAttachment>(`${L(tenant, id)}/attachments`, file);

export const downloadLoanAttachment = (tenant: string, a: LoanAttachment) =>
  download(`${L(tenant, a.loan_id)}/attachments/${e(a.id)}`, a.filename);

/** The 贴息 claim list of a month (`YYYY-MM`) or a quarter (`YYYY-Qn`). */
export const subsidyClaims = (tenant: string, period: string, programme_id = "") =>
  get<SubsidyClaims>(`${T(tenant)}/loan-subsidy-claims`, programme_id ? { period, programme_id } : { period });

export const downloadSubsidyClaims = (tenant: string, period: string) =>
  download(`${T(tenant)}/ledgers/loan-subsidy-claims.xlsx?period=${e(period)}`, `贴息申报清单-${period}.xlsx`);

export const downloadLoanLedger = (tenant: string) =>
  download(`${T(tenant)}/ledgers/loans.xlsx`, "党员先锋贷台账.xlsx");

// Drift guard: the hand-written shapes above must name exactly the fields of the OpenAPI document's (wire.py's).
type S = components["schemas"];
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
/** Compile-time checks only (each is `true` when the shapes agree). */
export type ShapesAgree = [
  SameKeys<Loan, S["LoanOut"]>, SameKeys<Programme, S["ProgrammeOut"]>, SameKeys<Rules, S["RulesModel"]>,
  SameKeys<RuleResult, S["RuleResultOut"]>, SameKeys<Instalment, S["InstalmentOut"]>,
  SameKeys<Schedule, S["ScheduleOut"]>, SameKeys<LoanStep, S["LoanStepOut"]>,
  SameKeys<LoanAttachment, S["LoanAttachmentOut"]>, SameKeys<SubsidyLine, S["ClaimLineOut"]>,
  SameKeys<SubsidyClaims, S["ClaimsOut"]>, SameKeys<ProgrammeIn, S["ProgrammeUpdateIn"]>,
  SameKeys<Repayment, S["RepaymentOut"]>,
];
export const SHAPES_AGREE: ShapesAgree = [true, true, true, true, true, true, true, true, true, true, true, true];
