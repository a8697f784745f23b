// What the 工作台 counts: offers to answer (临时组织关系待报到) and active alerts (预警), each as far as the caller's
// reach allows. A call the API refuses (403/404: outside the role's reach) counts as "nothing to show", never an error.
import { api, data, Problem, type paths } from "@/api/client";
import type { components } from "@/api/schema";
import type { Role } from "@/session";
import { listReferrals, listTickets } from "@/pages/tickets/desk";
import { listLoans } from "@/pages/loans/api";

type Membership = components["schemas"]["MembershipOut"];

/** Roles that handle 预警 (alerts API: county admin → county, township officer → its township). */
export const ALERT_ROLES: Role[] = ["county_admin", "township_officer"];

/** Roles that answer offers (临时组织关系): every county-bound staff role, each in its own organisations. */
export const OFFER_ROLES: Role[] = [
  "county_admin", "township_officer", "station_staff", "guidance_officer", "branch_secretary",
];

const OFFER_PAGE = 200;
const OFFER_PAGES = 5;

export interface Offers {
  /** How many offers await 报到 (at least; `more` when there were more than were counted). */
  count: number;
  more: boolean;
  /** The oldest few, oldest first. */
  oldest: Membership[];
}

/** Refused by reach (not the caller's to see): nothing to show. */
export function refused(error: unknown): boolean {
  return error instanceof Problem && (error.status === 403 || error.status === 404);
}

export async function loadOffers(tenant: string, oldest = 5): Promise<Offers | null> {
  const found: Membership[] = [];
  let token = "";
  let more = false;
  try {
    for (let i = 0; i < OFFER_PAGES; i++) {
      const page = await data(api.GET("/api/v1/tenants/{tenant}/memberships", {
        params: { path: { tenant }, query: { status: ["offered"], page_size: OFFER_PAGE, page_token: token } },
      }));
      found.push(...page.memberships);
      token = page.next_page_token;
      if (!token) break;
      more = i === OFFER_PAGES - 1;
    }
  } catch (error) {
    if (refused(error)) return null;
    throw error;
  }
  const sorted = [...found].sort((a, b) => a.offered_at.localeCompare(b.offered_at));
  return { count: found.length, more, oldest: sorted.slice(0, oldest) };
}

/** The alerts API (contracts: GET …/alerts, page_size=0 answers the total only). */
type AlertParams = NonNullable<paths["/api/v1/tenants/{tenant}/alerts"]["get"]["parameters"]["query"]>;

export interface AlertQuery {
  state?: AlertParams["state"];
  timer?: AlertParams["timer"];
  level?: number;
}

export async function countAlerts(tenant: string, query: AlertQuery): Promise<number | null> {
  try {
    const page = await data(api.GET("/api/v1/tenants/{tenant}/alerts", {
      params: { path: { tenant }, query: { state: query.state ?? "active", timer: query.timer, level: query.level,
                                           page_size: 0 } },
    }));
    return page.total;
  } catch (error) {
    if (refused(error)) return null;
    throw error;
  }
}

/** Roles that work the desk's queues (服务工单), and those that answer 转办 for the county. */
export const TICKET_ROLES: Role[] = ["county_admin", "township_officer", "station_staff", "guidance_officer"];
const REFERRAL_ROLES: Role[] = ["county_admin", "station_staff"];

export interface TicketTodo {
  /** New tickets nobody has accepted yet. */
  fresh: number;
  /** Open tickets with a clock past its due time. */
  breached: number;
  /** 转办 from other counties waiting for an answer (null: not this role's to answer). */
  referrals: number | null;
}

/** The desk's to-do: new tickets, breached ones, referrals waiting (totals only: page_size 1). */
export async function loadTicketTodo(tenant: string, role: Role): Promise<TicketTodo | null> {
  try {
    const [fresh, breached, referrals] = await Promise.all([
      listTickets(tenant, { status: ["new"], page_size: 1 }),
      listTickets(tenant, { sla_state: "breached", page_size: 1 }),
      REFERRAL_ROLES.includes(role)
        ? listReferrals(tenant, { incoming: true, status: ["pending"], page_size: 1 }).catch((e: unknown) => {
          if (refused(e)) return null;
          throw e;
        })
        : Promise.resolve(null),
    ]);
    return { fresh: fresh.total, breached: breached.total, referrals: referrals ? referrals.total : null };
  } catch (error) {
    if (refused(error)) return null;
    throw error;
  }
}

/** Roles that review loan applications (贷款待审: 支部推荐, 乡镇审核, 县级审批), each its own tier. */
export const LOAN_ROLES: Role[] = ["county_admin", "township_officer", "branch_secretary"];

export interface LoanTodo {
  /** Applications waiting for the caller's own tier. */
  awaiting: number;
  /** Of those, past their step's time limit (null: not counted). */
  overdue: number | null;
}

/** 贷款待审: applications at the caller's tier, and loans past due (totals only: page_size 1). */
export async function loadLoanTodo(tenant: string): Promise<LoanTodo | null> {
  try {
    const [awaiting, overdue] = await Promise.all([
      listLoans(tenant, { awaiting_me: true, page_size: 1 }),
      listLoans(tenant, { overdue_only: true, page_size: 1 }).catch(() => null),
    ]);
    return { awaiting: awaiting.total, overdue: overdue ? overdue.total : null };
  } catch (error) {
    if (refused(error)) return null;
    throw error;
  }
}
