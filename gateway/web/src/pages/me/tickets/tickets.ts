// The member's own requests (我的诉求) as the service desk answers the member: their tickets only, replies but never
// internal notes. The calls are the office pages' (pages/tickets/desk.ts) on the member's own county; this module
// adds what only the phone needs (the promise the member reads, the steps, the 我要求助 grid).
import { type Attachment, type Category, fileTicket as file, getTicket as get, listAttachments, listCategories,
  listTickets, type NewTicket as TicketIn, type Ticket, ticketHistory as history, uploadAttachment as upload,
  acts } from "@/pages/tickets/desk";
import { api, data } from "@/api/client";
import { self } from "../flows";

export type { Attachment, Category, Ticket };
export type { FormField, HistoryEntry } from "@/pages/tickets/desk";
export { fenToYuan, yuanToFen } from "@/lib/format";

/** The groups of the 我要求助 grid, in the order a member looks for help. */
export const GROUPS = ["法律援助", "就业", "技能培训", "医保/社保", "民政救助", "子女就学", "留守家属关爱", "其他"];

export async function myTickets(): Promise<Ticket[]> {
  return (await listTickets(self().tenant, { page_size: 100 })).tickets;
}

export const getTicket = (id: string) => get(self().tenant, id);
export const ticketHistory = (id: string) => history(self().tenant, id);
export const ticketAttachments = (id: string) => listAttachments(self().tenant, id);

export async function categories(): Promise<Category[]> {
  return (await listCategories(self().tenant)).filter((c) => c.enabled);
}

export type NewTicket = Pick<TicketIn, "category" | "title" | "description" | "form">;
// A member files for themself: the service names the member and the queue from the token.
export const fileTicket = (input: NewTicket) =>
  file(self().tenant, { ...input, member_home_tenant_id: "", member_id: "", serving_org_id: "" });

/** The member's message; on a ticket waiting for materials it resumes the ticket (处理中). */
export const addMessage = (id: string, body: string) => data(api.POST(
  "/api/v1/tenants/{tenant}/tickets/{ticket_id}/comments",
  { params: { path: { tenant: self().tenant, ticket_id: id } }, body: { kind: "member", body } }));

/** A photo or PDF from the camera or gallery. */
export const uploadAttachment = (id: string, f: File) => upload(self().tenant, id, f);

export const rateTicket = (id: string, score: number, comment_: string) =>
  acts.rate(self().tenant, id, { score, comment: comment_ });

export const reopenTicket = (id: string, reason: string) => acts.reopen(self().tenant, id, { reason });

const BEIJING = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric" });
const BEIJING_TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
});

/** "12月3日" in Beijing time. */
export function monthDay(at: string): string {
  const parts = BEIJING.formatToParts(new Date(at));
  const get = (t: string) => parts.find((p) => p.type === t)?.value || "";
  return `${get("month")}月${get("day")}日`;
}

/** "12/3 14:30" in Beijing time, for the list and the history. */
export const shortTime = (at: string | null): string => (at ? BEIJING_TIME.format(new Date(at)) : "—");

/** The promise the member reads: when the desk will answer (first response while new, else resolution). */
export function promise(t: Ticket): string {
  const clock = (name: string) => t.sla.find((s) => s.clock === name && !s.done_at && s.due_at);
  if (t.status === "awaiting_info") return "请补充材料，补充后继续为您办理（等待期间不计时）";
  if (t.status === "new") {
    const first = clock("first_response");
    if (first?.due_at) return `预计 ${monthDay(first.due_at)} 前给您答复`;
  }
  if (["new", "accepted", "in_progress"].includes(t.status)) {
    const done = clock("resolution");
    if (done?.due_at) return `预计 ${monthDay(done.due_at)} 前给您答复`;
  }
  return "";
}

/** The steps a member's request goes through, and which one it stands at. */
export const STEPS = ["提交", "受理", "办理", "办结", "回访"];

/** The active step (the steps before it are done): resolved waits for the 回访, reviewed has done them all. */
export function stepOf(status: string): number {
  const steps: Record<string, number> = { new: 1, accepted: 2, in_progress: 2, awaiting_info: 2, resolved: 4, reviewed: 5 };
  return steps[status] ?? 0;
}
