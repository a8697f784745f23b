// The service desk's API as the office pages call it: one typed function per route (shapes from the OpenAPI
// document, i.e. gateway/routes/desk/wire.py), through the shared client (bearer token, Idempotency-Key, Problem on
// failure), so the pages never build a URL themselves.
import { api, data, download, upload, type paths } from "@/api/client";
import type { components } from "@/api/schema";

type S = components["schemas"];
export type SlaTimer = S["SlaTimerOut"];
export type Ticket = S["TicketOut"];
export type HistoryEntry = S["HistoryEntryOut"];
export type FormField = S["FormFieldOut"];
export type SlaPolicy = S["SlaPolicyOut"];
export type Category = S["CategoryOut"];
export type Attachment = S["AttachmentOut"];
export type Queue = S["QueueOut"];
export type Duty = S["DutyOut"];
export type Referral = S["ReferralOut"];
export type CalendarDay = S["CalendarDayOut"];
export type WorkCalendar = S["WorkCalendarOut"];
export type CalendarYear = S["CalendarYearOut"];
export type NewTicket = S["TicketIn"];
type DayIn = S["CalendarDayIn"];

export type TicketQuery = NonNullable<paths["/api/v1/tenants/{tenant}/tickets"]["get"]["parameters"]["query"]>;
export type ReferralQuery = NonNullable<paths["/api/v1/tenants/{tenant}/ticket-referrals"]["get"]["parameters"]["query"]>;

/** A page of the county's tickets the caller may see. */
export const listTickets = (tenant: string, query: TicketQuery) =>
  data(api.GET("/api/v1/tenants/{tenant}/tickets", { params: { path: { tenant }, query } }));

export const getTicket = (tenant: string, ticket_id: string) =>
  data(api.GET("/api/v1/tenants/{tenant}/tickets/{ticket_id}", { params: { path: { tenant, ticket_id } } }));

export const ticketHistory = (tenant: string, ticket_id: string) =>
  data(api.GET("/api/v1/tenants/{tenant}/tickets/{ticket_id}/history", { params: { path: { tenant, ticket_id } } }));

export const fileTicket = (tenant: string, body: NewTicket) =>
  data(api.POST("/api/v1/tenants/{tenant}/tickets", { params: { path: { tenant } }, body }));

type P = { params: { path: { tenant: string; ticket_id: string } } };
const at = (tenant: string, ticket_id: string): P => ({ params: { path: { tenant, ticket_id } } });

/** The state changes of a ticket, each with its own body. */
export const acts = {
  accept: (t: string, id: string, body: S["AcceptIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/accept", { ...at(t, id), body })),
  start: (t: string, id: string, body: S["VersionIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/start", { ...at(t, id), body })),
  requestInfo: (t: string, id: string, body: S["RequestInfoIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/request-info", { ...at(t, id), body })),
  resume: (t: string, id: string, body: S["ResumeIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/resume", { ...at(t, id), body })),
  resolve: (t: string, id: string, body: S["ResolveIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/resolve", { ...at(t, id), body })),
  close: (t: string, id: string, body: S["TicketCloseIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/close", { ...at(t, id), body })),
  assign: (t: string, id: string, body: S["AssignIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/assign", { ...at(t, id), body })),
  rate: (t: string, id: string, body: S["RatingIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/rating", { ...at(t, id), body })),
  reopen: (t: string, id: string, body: S["ReopenIn"]) =>
    data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/reopen", { ...at(t, id), body })),
};

export const comment = (tenant: string, ticket_id: string, kind: "note" | "reply", body: string) =>
  data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/comments", { ...at(tenant, ticket_id),
    body: { kind, body } }));

export const refer = (tenant: string, ticket_id: string, body: S["ReferIn"]) =>
  data(api.POST("/api/v1/tenants/{tenant}/tickets/{ticket_id}/referrals", { ...at(tenant, ticket_id), body }));

export const listQueues = (tenant: string) =>
  data(api.GET("/api/v1/tenants/{tenant}/ticket-queues", { params: { path: { tenant } } }));

export const listDuty = (tenant: string, queue: string) =>
  data(api.GET("/api/v1/tenants/{tenant}/ticket-queues/{queue}/duty", { params: { path: { tenant, queue } } }));

export const setDuty = (tenant: string, queue: string, on_duty: boolean, display_name = "") =>
  data(api.PUT("/api/v1/tenants/{tenant}/ticket-queues/{queue}/duty", { params: { path: { tenant, queue } },
    body: { on_duty, display_name } }));

export const listCategories = (tenant: string, include_disabled = false) =>
  data(api.GET("/api/v1/tenants/{tenant}/ticket-categories", { params: { path: { tenant },
    query: include_disabled ? { include_disabled } : {} } }));

/** Save a category's settings (its code names it; the form fields go back as they came). */
export const saveCategory = (tenant: string, c: Category) =>
  data(api.PUT("/api/v1/tenants/{tenant}/ticket-categories/{category}", {
    params: { path: { tenant, category: c.code } },
    body: {
      name: c.name, default_queue: c.default_queue as "STATION" | "COUNTY",
      priority: c.priority as S["CategoryIn"]["priority"], sla: c.sla, enabled: c.enabled, reopen_days: c.reopen_days,
      version: c.version,
      fields: c.fields.map((f) => ({ key: f.key, label: f.label, type: f.type as S["FormFieldIn"]["type"],
        required: f.required, choices: f.choices, max_length: f.max_length, min: f.min || null, max: f.max || null,
        help: f.help })),
    },
  }));

export const listReferrals = (tenant: string, query: ReferralQuery) =>
  data(api.GET("/api/v1/tenants/{tenant}/ticket-referrals", { params: { path: { tenant }, query } }));

export const acceptReferral = (tenant: string, referral_id: string, serving_org_id: string) =>
  data(api.POST("/api/v1/tenants/{tenant}/ticket-referrals/{referral_id}/accept", {
    params: { path: { tenant, referral_id } }, body: { serving_org_id } }));

export const declineReferral = (tenant: string, referral_id: string, reason: string) =>
  data(api.POST("/api/v1/tenants/{tenant}/ticket-referrals/{referral_id}/decline", {
    params: { path: { tenant, referral_id } }, body: { reason } }));

export const calendarYears = (tenant: string) =>
  data(api.GET("/api/v1/tenants/{tenant}/work-calendar", { params: { path: { tenant } } }));

export const countyCalendar = (tenant: string, year: number) =>
  data(api.GET("/api/v1/tenants/{tenant}/work-calendar/{year}", { params: { path: { tenant, year } } }));

export const saveOverrides = (tenant: string, year: number, days: DayIn[]) =>
  data(api.PUT("/api/v1/tenants/{tenant}/work-calendar/{year}/overrides", { params: { path: { tenant, year } },
    body: { days } }));

export const provinceYears = (scope: string) =>
  data(api.GET("/api/v1/scopes/{scope}/work-calendar", { params: { path: { scope } } }));

export const provinceCalendar = (scope: string, year: number) =>
  data(api.GET("/api/v1/scopes/{scope}/work-calendar/{year}", { params: { path: { scope, year } } }));

export const saveProvinceCalendar = (scope: string, year: number, notice: string, days: DayIn[]) =>
  data(api.PUT("/api/v1/scopes/{scope}/work-calendar/{year}", { params: { path: { scope, year } },
    body: { notice, days } }));

/** Upload one file (raw body, its name in X-File-Name): the route takes the bytes as they are. */
export const uploadAttachment = (tenant: string, ticketId: string, file: File) => upload<Attachment>(
  `/api/v1/tenants/${encodeURIComponent(tenant)}/tickets/${encodeURIComponent(ticketId)}/attachments`, file);

/** A ticket's files, oldest first. */
export const listAttachments = (tenant: string, ticket_id: string) =>
  data(api.GET("/api/v1/tenants/{tenant}/tickets/{ticket_id}/attachments", { params: { path: { tenant, ticket_id } } }));

export const downloadAttachment = (tenant: string, a: Attachment) =>
  download(`/api/v1/tenants/${encodeURIComponent(tenant)}/tickets/${encodeURIComponent(a.ticket_id)}/attachments/${encodeURIComponent(a.id)}`, a.filename);

/** Working minutes as people say them: 420 minutes = 1 working day (09:00–12:00 and 13:30–17:30: 7 hours). */
export function workingSpan(minutes: number, perDay = 420): string {
  if (!minutes) return "—";
  if (minutes % perDay === 0) return `${minutes / perDay} 个工作日`;
  if (minutes % 60 === 0) return `${minutes / 60} 个工作小时`;
  return `${minutes} 分钟`;
}
