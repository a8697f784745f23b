// The gateway's HTTP API as the console uses it: bearer token, JSON, problem+json errors.

const TOKEN_KEY = "jinqiao.token";
const REFRESH_KEY = "jinqiao.refresh";

function stored(key, value) {
  if (value) sessionStorage.setItem(key, value);
  else sessionStorage.removeItem(key);
}

// sessionStorage, not localStorage: the tokens die with the tab, so a shared office computer
// does not keep a colleague logged in. The access token lives minutes; the refresh token renews it
// once (each refresh hands out a new one) until the session's idle or absolute limit.
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    stored(TOKEN_KEY, value);
  },
  get refreshToken() {
    return sessionStorage.getItem(REFRESH_KEY);
  },
  set refreshToken(value) {
    stored(REFRESH_KEY, value);
  },
  /** Keep the tokens of a token response. */
  keep(reply) {
    this.token = reply.access_token;
    this.refreshToken = reply.refresh_token;
  },
  clear() {
    this.token = null;
    this.refreshToken = null;
  },
};

/** A non-2xx answer (or no answer at all), carrying the RFC 9457 problem body. */
export class Problem extends Error {
  constructor(problem) {
    super(problem.title);
    this.problem = problem;
    this.status = problem.status;
  }

  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

let unauthorizedHandler = () => {};

/** Called on every 401 of an authenticated call: the token expired or was refused. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      const body = await response.json();
      return { status: response.status, ...body, title: body.title || `请求失败（HTTP ${response.status}）` };
    } catch {
      // A malformed body still deserves a readable notice; fall through.
    }
  }
  return { status: response.status, title: `请求失败（HTTP ${response.status}）` };
}

async function send(path, { method, headers, payload, auth }) {
  const sent = { ...headers };
  if (auth && session.token) sent.Authorization = `Bearer ${session.token}`;
  try {
    return await fetch(path, { method, headers: sent, body: payload, credentials: "omit", cache: "no-store" });
  } catch {
    throw new Problem({ status: 0, title: "无法连接服务器", detail: "请检查网络连接后重试。" });
  }
}

let refreshing = null;

/** Renew the access token with the refresh token; true when it worked. Calls that meet a 401 together share one
 * refresh: a refresh token is spent by its first use, and using it twice would end the whole session. */
function refreshOnce() {
  if (!refreshing) {
    refreshing = (async () => {
      const refreshToken = session.refreshToken;
      if (!refreshToken) return false;
      const response = await send("/api/v1/auth/refresh", {
        method: "POST", auth: false, payload: JSON.stringify({ refresh_token: refreshToken }),
        headers: { Accept: "application/json, application/problem+json", "Content-Type": "application/json" },
      }).catch(() => null);
      if (!response || !response.ok) return false;
      session.keep(await response.json());
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * Call the API. Resolves to the parsed JSON body; rejects with a Problem.
 * Everything personal travels in the body or headers, never in the path or query.
 * A 401 on an authenticated call is answered once by refreshing the access token and retrying.
 */
export async function request(path, { method = "GET", body, raw, headers = {}, auth = true } = {}) {
  const sent = { Accept: "application/json, application/problem+json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  // A file goes as it is (its Content-Type set by the caller): no multipart, no JSON wrapping.
  const payload = raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body);
  const call = { method, headers: sent, payload, auth };
  let response = await send(path, call);
  if (auth && response.status === 401 && (await refreshOnce())) response = await send(path, call);
  if (!response.ok) {
    const problem = new Problem(await problemOf(response));
    if (auth && response.status === 401) {
      session.clear();
      unauthorizedHandler(problem);
    }
    throw problem;
  }
  if (response.status === 204) return null;
  // A caller asking for something other than JSON (a spreadsheet) gets the body as a Blob.
  return !headers.Accept || headers.Accept.includes("json") ? response.json() : response.blob();
}

/** Exchange credentials for a token; a 401 here means wrong credentials, not an expired session. */
export async function login(username, password) {
  const reply = await request("/api/v1/auth/token", { method: "POST", body: { username, password }, auth: false });
  session.keep(reply);
}

/** End the session at the gateway (its tokens are refused everywhere), then forget the tokens here, come what may. */
export async function logout() {
  const call = { method: "POST", headers: { Accept: "application/problem+json" }, auth: true };
  try {
    // An access token that has just expired is renewed first, so the session itself is ended.
    if (session.token && (await send("/api/v1/auth/logout", call)).status === 401 && (await refreshOnce())) {
      await send("/api/v1/auth/logout", call);
    }
  } catch {
    // The gateway unreachable: the tokens are forgotten here all the same.
  } finally {
    session.clear();
  }
}

export const me = () => request("/api/v1/me");

export function listMembers(tenant, pageToken = "") {
  const query = new URLSearchParams({ page_size: "50" });
  if (pageToken) query.set("page_token", pageToken);
  return request(`/api/v1/tenants/${encodeURIComponent(tenant)}/members?${query}`);
}

export function createMember(tenant, member, idempotencyKey) {
  return request(`/api/v1/tenants/${encodeURIComponent(tenant)}/members`, {
    method: "POST", body: member, headers: { "Idempotency-Key": idempotencyKey },
  });
}

export const memberCounts = (scope) => request(`/api/v1/scopes/${encodeURIComponent(scope)}/insights/members`);

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** Start importing a 台账 file; the body is the file itself. */
export function startImport(tenant, file, idempotencyKey) {
  const type = file.name.toLowerCase().endsWith(".xlsx") ? XLSX : "text/csv";
  const query = new URLSearchParams({ file_name: file.name });
  return request(`/api/v1/tenants/${encodeURIComponent(tenant)}/imports?${query}`, {
    method: "POST", raw: file, headers: { "Content-Type": type, "Idempotency-Key": idempotencyKey },
  });
}

export const getImport = (tenant, id) =>
  request(`/api/v1/tenants/${encodeURIComponent(tenant)}/imports/${encodeURIComponent(id)}`);

/** The empty 台账 template as a Blob (fetched with the token, which a plain link would not carry). */
export const importTemplate = (tenant, fmt) =>
  request(`/api/v1/tenants/${encodeURIComponent(tenant)}/imports/template.${fmt}`, {
    headers: { Accept: fmt === "xlsx" ? XLSX : "text/csv" },
  });

// ── The cross-county flow (DESIGN §3) ──────────────────────────────────────────────────────────

const tenantPath = (tenant) => `/api/v1/tenants/${encodeURIComponent(tenant)}`;
const post = (path, body, headers = {}) => request(path, { method: "POST", body, headers });

/** 外出登记 of one member; the key makes a retry after a lost answer register the flow once. */
export const registerFlow = (tenant, memberId, outflow, idempotencyKey) =>
  post(`${tenantPath(tenant)}/members/${encodeURIComponent(memberId)}/flows`, outflow,
    { "Idempotency-Key": idempotencyKey });

/** The county's flows, newest first; `statuses` empty means all. */
export function listFlows(tenant, { statuses = [], pageToken = "" } = {}) {
  const query = new URLSearchParams({ page_size: "50" });
  for (const s of statuses) query.append("status", s);
  if (pageToken) query.set("page_token", pageToken);
  return request(`${tenantPath(tenant)}/flows?${query}`);
}

export const getFlow = (tenant, id) => request(`${tenantPath(tenant)}/flows/${encodeURIComponent(id)}`);

const flowAction = (action) => (tenant, id, body = {}) =>
  post(`${tenantPath(tenant)}/flows/${encodeURIComponent(id)}/${action}`, body);

export const redirectFlow = flowAction("redirect");
export const reportBack = flowAction("report-back");
export const returnFlow = flowAction("return");
export const transferFlow = flowAction("transfer");

export const flowAlerts = (tenant) => request(`${tenantPath(tenant)}/flow-alerts`);

/** A county's ledger (台账) as a Blob: the route needs the bearer token, which a plain link would not carry. */
export const ledger = (tenant, name) =>
  request(`${tenantPath(tenant)}/ledgers/${encodeURIComponent(name)}.xlsx`, { headers: { Accept: XLSX } });

// ── The destination: temporary memberships (临时组织关系) ────────────────────────────────────────

export function listMemberships(tenant, status, pageToken = "") {
  const query = new URLSearchParams({ status, page_size: "50" });
  if (pageToken) query.set("page_token", pageToken);
  return request(`${tenantPath(tenant)}/memberships?${query}`);
}

const membershipPath = (tenant, id, action) =>
  `${tenantPath(tenant)}/memberships/${encodeURIComponent(id)}/${action}`;

export const checkInMembership = (tenant, id) => post(membershipPath(tenant, id, "check-in"), undefined);
export const refuseMembership = (tenant, id, reason) => post(membershipPath(tenant, id, "refuse"), { reason });
export const recordActivity = (tenant, id, activity) => post(membershipPath(tenant, id, "activities"), activity);
export const assessMembership = (tenant, id, assessment) =>
  post(membershipPath(tenant, id, "assessments"), assessment);

/** The text of an organisation's QR check-in code (报到码). */
export const checkInCode = (tenant, orgId) =>
  request(`${tenantPath(tenant)}/orgs/${encodeURIComponent(orgId)}/check-in-code`);

// ── 事件异常: events a service could not apply (dead letters) ─────────────────────────────────────

export function listDeadLetters(tenant, { pendingOnly = true, pageToken = "" } = {}) {
  const query = new URLSearchParams({ page_size: "50" });
  if (pendingOnly) query.set("replayed", "false");
  if (pageToken) query.set("page_token", pageToken);
  return request(`${tenantPath(tenant)}/dead-letters?${query}`);
}

/** Apply a dead letter again through its consumer; an event already applied is never applied twice. */
export const replayDeadLetter = (tenant, service, id) =>
  post(`${tenantPath(tenant)}/dead-letters/${encodeURIComponent(service)}/${encodeURIComponent(id)}/replay`, undefined);

// ── A member's own pages ───────────────────────────────────────────────────────────────────────

const memberPath = (tenant, id) => `${tenantPath(tenant)}/members/${encodeURIComponent(id)}`;

export const getMember = (tenant, id) => request(memberPath(tenant, id));
export const memberFlows = (tenant, id) => request(`${memberPath(tenant, id)}/flows`);
export const memberActivities = (tenant, id) => request(`${memberPath(tenant, id)}/activities`);
/** 扫码报到: the text printed under the station's QR code. */
export const selfCheckIn = (tenant, id, code) => post(`${memberPath(tenant, id)}/check-in`, { code });

// ── Aggregates ─────────────────────────────────────────────────────────────────────────────────

export function flowMatrix(scope, { fromMonth = "", toMonth = "", industry = "" } = {}) {
  const query = new URLSearchParams();
  if (fromMonth) query.set("from_month", fromMonth);
  if (toMonth) query.set("to_month", toMonth);
  if (industry) query.set("industry", industry);
  const suffix = query.toString() ? `?${query}` : "";
  return request(`/api/v1/scopes/${encodeURIComponent(scope)}/insights/flows${suffix}`);
}
