// Notifications' API (issue 15) as the console calls it: the caller's inbox, bell and preferences, and for the county
// department the delivery log, escalations, templates and channel settings. Shapes as in
// gateway/routes/notifications/wire.py (proto field names; enums as lowercase names without their prefix; instants
// as RFC 3339 text or null). The interfaces are written by hand (the OpenAPI typing is regenerated after the routes
// land); the calls go through the shared client untyped (same bearer token, one silent refresh, Idempotency-Key on
// every write, Problem on failure). The live stream is read with @microsoft/fetch-event-source: EventSource cannot
// send the bearer header.
import { fetchEventSource } from "@microsoft/fetch-event-source";
import type { components } from "@/api/schema";
import { api, data, refreshOnce } from "@/api/client";
import { tokens } from "@/api/tokens";

export type ChannelName = "in_app" | "email" | "sms" | "webhook";
export type StatusName = "queued" | "sent" | "delivered" | "failed" | "bounced" | "skipped" | "digested";
export type EscalationStateName = "open" | "acknowledged" | "resolved";
export type InboxFilter = "" | "unread" | "archived";

/** One message of the caller's inbox (站内信). */
export interface InboxItem {
  id: string;
  kind: string;
  category: string;
  category_label: string;
  urgent: boolean;
  subject: string;
  body: string;
  link: string;
  created_at: string | null;
  read_at: string | null;
  archived: boolean;
  escalation_id: string;
  acknowledged: boolean;
  level: number;
}

export interface InboxPage {
  items: InboxItem[];
  next_page_token: string;
  unread_count: number;
}

/** The bell. */
export interface InboxSummary {
  unread_count: number;
  urgent_unread_count: number;
  latest_id: string;
  latest_at: string | null;
}

export interface Changed {
  changed: number;
  unread_count: number;
}

/** 逐级提醒: a matter climbing the org tree until somebody acknowledges it. */
export interface Escalation {
  id: string;
  kind: string;
  subject_type: string;
  subject_id: string;
  state: EscalationStateName;
  level: number;
  org_id: string;
  org_name: string;
  opened_at: string | null;
  next_escalation_at: string | null;
  acknowledged_at: string | null;
  acknowledged_by: string;
  note: string;
  resolved_at: string | null;
}

export interface EscalationPage {
  escalations: Escalation[];
  next_page_token: string;
}

export interface ChannelChoice {
  channel: ChannelName;
  enabled: boolean;
}

export interface CategoryPreference {
  category: string;
  label: string;
  urgent: boolean;
  channels: ChannelChoice[];
  digest: boolean;
}

/** Everything a person chose (defaults where they chose nothing); addresses masked. */
export interface Preferences {
  categories: CategoryPreference[];
  quiet_hours_enabled: boolean;
  quiet_start: string;
  quiet_end: string;
  digest_time: string;
  email_masked: string;
  phone_masked: string;
}

/** What the preferences form sends: every category; an address left empty keeps the stored one. */
export interface PreferencesIn {
  categories: { category: string; channels: ChannelChoice[]; digest: boolean }[];
  quiet_hours_enabled: boolean;
  quiet_start: string;
  quiet_end: string;
  digest_time: string;
  email: string;
  phone: string;
  clear_email: boolean;
  clear_phone: boolean;
}

/** One message to one recipient on one channel (the destination masked). */
export interface Delivery {
  id: string;
  kind: string;
  category: string;
  channel: ChannelName;
  recipient_label: string;
  destination: string;
  status: StatusName;
  attempts: number;
  subject: string;
  created_at: string | null;
  next_attempt_at: string | null;
  sent_at: string | null;
  last_error: string;
  hold_reason: string;
  event_id: string;
}

export interface DeliveryPage {
  deliveries: Delivery[];
  next_page_token: string;
  totals: { status: StatusName; count: number }[];
}

export interface DeliveryQuery {
  status?: StatusName | "";
  channel?: ChannelName | "";
  kind?: string;
  page_size?: number;
  page_token?: string;
}

export interface Template {
  kind: string;
  kind_label: string;
  channel: ChannelName;
  subject: string;
  body: string;
  version: number;
  overridden: boolean;
  updated_at: string | null;
  updated_by: string;
  variables: { name: string; label: string }[];
}

export interface TemplateDetail {
  template: Template;
  default_template: Template;
  versions: Template[];
}

export interface Rendered {
  subject: string;
  body: string;
}

/** A county's settings of one channel; secrets show as "已设置" (or empty when none is stored). */
export interface ChannelSetting {
  channel: ChannelName;
  enabled: boolean;
  settings: Record<string, string>;
  rate_per_minute: number;
  updated_at: string | null;
  updated_by: string;
}

export interface ChannelSettingIn {
  enabled: boolean;
  settings: Record<string, string>;
  rate_per_minute: number;
}

export interface TestResult {
  status: string;
  detail: string;
}

// The shared client without the OpenAPI typing: the same middleware (token, refresh, Idempotency-Key, Problem).
type Answer = Promise<{ data?: unknown; error?: unknown; response: Response }>;
interface Loose {
  GET(path: string, init?: { params?: { query?: object } }): Answer;
  POST(path: string, init?: { body?: unknown }): Answer;
  PUT(path: string, init?: { body?: unknown }): Answer;
  DELETE(path: string, init?: object): Answer;
}
const loose = api as unknown as Loose;

const e = encodeURIComponent;
const ME = "/api/v1/me";
const T = (tenant: string) => `/api/v1/tenants/${e(tenant)}`;
const TPL = (tenant: string, kind: string, channel: ChannelName) =>
  `${T(tenant)}/notification-templates/${e(kind)}/${e(channel)}`;

/** Drop empty query values (the gateway reads "" as a value). */
function query(q: object): object {
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== "" && v !== undefined && v !== null));
}
const get = <R>(path: string, q?: object) =>
  data(loose.GET(path, q ? { params: { query: query(q) } } : {})) as Promise<R>;
const post = <R>(path: string, body: unknown = {}) => data(loose.POST(path, { body })) as Promise<R>;
const put = <R>(path: string, body: unknown) => data(loose.PUT(path, { body })) as Promise<R>;
const del = <R>(path: string) => data(loose.DELETE(path)) as Promise<R>;

// ---- the caller's own

export const listInbox = (q: { filter?: InboxFilter; category?: string; page_size?: number; page_token?: string }) =>
  get<InboxPage>(`${ME}/notifications`, q);

export const inboxSummary = () => get<InboxSummary>(`${ME}/notifications/summary`);

/** Mark items read (or unread: `read` false); `all` marks the whole inbox. */
export const markRead = (ids: string[], read = true, all = false) =>
  post<Changed>(`${ME}/notifications/read`, { ids, all, read });

export const archiveItems = (ids: string[], archived = true) =>
  post<Changed>(`${ME}/notifications/archive`, { ids, archived });

export const acknowledgeEscalation = (id: string, note: string) =>
  post<Escalation>(`${ME}/escalations/${e(id)}/acknowledge`, { note });

export const getPreferences = () => get<Preferences>(`${ME}/notification-preferences`);

export const updatePreferences = (body: PreferencesIn) => put<Preferences>(`${ME}/notification-preferences`, body);

/** Follow the bell live: `onSummary` for every `summary` event until `signal` aborts. Resolves when the stream ends
 * (the server closed it, the network dropped, or the session ended: then `ended` is true). The events are read with
 * `@microsoft/fetch-event-source`, as the dashboard's are: EventSource cannot send the bearer header. */
export function followSummary(onSummary: (s: InboxSummary) => void, signal: AbortSignal): Promise<{ ended: boolean }> {
  return new Promise((resolve) => {
    let ended = false;
    let renewed = false;
    const stop = new AbortController();
    signal.addEventListener("abort", () => stop.abort(), { once: true });
    fetchEventSource(`${ME}/notifications/stream`, {
      signal: stop.signal,
      openWhenHidden: true,
      // The token of this (re)connection: the stream ends when it expires or the session is logged out.
      fetch: (input, init) => fetch(input, {
        ...init, credentials: "omit", cache: "no-store",
        headers: { ...(init?.headers as Record<string, string>), Authorization: `Bearer ${tokens.access ?? ""}` },
      }),
      async onopen(response) {
        if (response.ok) return;
        // One silent refresh, then one more try; anything else ends this follow (the store polls meanwhile).
        if (response.status === 401 && !renewed && (await refreshOnce())) {
          renewed = true;
          throw new Error("token renewed");
        }
        ended = response.status === 401;
        throw new Stop();
      },
      onmessage(message) {
        if (message.event === "end") {
          ended = true;
          stop.abort();
        } else if (message.event === "summary" && message.data) {
          try {
            onSummary(JSON.parse(message.data) as InboxSummary);
          } catch {
            // A malformed event is skipped; the next one carries the whole summary again.
          }
        }
      },
      onclose() {
        throw new Stop(); // the server closed it: the store decides when to come back
      },
      onerror(err) {
        if (err instanceof Stop || stop.signal.aborted) throw err;
        if (err instanceof Error && err.message === "token renewed") return 0; // reconnect at once, renewed
        throw err; // network trouble: polling covers it, the store reconnects later
      },
    }).then(() => resolve({ ended }), () => resolve({ ended }));
  });
}

/** Ends a follow on purpose (refused, closed by the server). */
class Stop extends Error {}

// ---- the county department's

export const listDeliveries = (tenant: string, q: DeliveryQuery) =>
  get<DeliveryPage>(`${T(tenant)}/notification-deliveries`, q);

export const retryDelivery = (tenant: string, id: string) =>
  post<Delivery>(`${T(tenant)}/notification-deliveries/${e(id)}/retry`);

export const listEscalations = (tenant: string, q: { state?: EscalationStateName | ""; kind?: string;
  page_size?: number; page_token?: string }) => get<EscalationPage>(`${T(tenant)}/escalations`, q);

export const listTemplates = (tenant: string) => get<Template[]>(`${T(tenant)}/notification-templates`);

export const getTemplate = (tenant: string, kind: string, channel: ChannelName) =>
  get<TemplateDetail>(TPL(tenant, kind, channel));

/** Save a new version of the county's override. */
export const saveTemplate = (tenant: string, kind: string, channel: ChannelName, subject: string, body: string) =>
  put<Template>(TPL(tenant, kind, channel), { subject, body });

/** Back to the platform default (the county's versions stay in the history). */
export const resetTemplate = (tenant: string, kind: string, channel: ChannelName) =>
  del<Template>(TPL(tenant, kind, channel));

export const previewTemplate = (tenant: string, kind: string, channel: ChannelName, subject: string, body: string) =>
  post<Rendered>(`${TPL(tenant, kind, channel)}/preview`, { subject, body });

export const listChannels = (tenant: string) => get<ChannelSetting[]>(`${T(tenant)}/notification-channels`);

export const updateChannel = (tenant: string, channel: ChannelName, body: ChannelSettingIn) =>
  put<ChannelSetting>(`${T(tenant)}/notification-channels/${e(channel)}`, body);

export const sendTest = (tenant: string, channel: ChannelName, to: string) =>
  post<TestResult>(`${T(tenant)}/notification-channels/${e(channel)}/test`, { to });

// Drift guard: the hand-written shapes above must name exactly the fields of the OpenAPI document's (wire.py's).
type S = components["schemas"];
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
/** Compile-time checks only (each is `true` when the shapes agree). */
export type ShapesAgree = [
  SameKeys<InboxItem, S["InboxItemOut"]>, SameKeys<InboxPage, S["InboxPageOut"]>,
  SameKeys<InboxSummary, S["InboxSummaryOut"]>, SameKeys<Escalation, S["EscalationOut"]>,
  SameKeys<Preferences, S["PreferencesOut"]>, SameKeys<Delivery, S["DeliveryOut"]>,
  SameKeys<DeliveryPage, S["DeliveryPageOut"]>, SameKeys<Template, S["TemplateOut"]>,
  SameKeys<TemplateDetail, S["TemplateDetailOut"]>, SameKeys<ChannelSetting, S["ChannelSettingOut"]>,
];
export const SHAPES_AGREE: ShapesAgree = [true, true, true, true, true, true, true, true, true, true];
