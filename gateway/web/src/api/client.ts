// The gateway's HTTP API as the console calls it: typed from the committed OpenAPI document (schema.d.ts, made by
// `npm run types`), bearer token with one silent refresh, an Idempotency-Key on every unsafe request, and every
// non-2xx answer turned into a Problem carrying the RFC 9457 body.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { tokens } from "./tokens";

export type { paths };

/** An error answer (or no answer at all), carrying the problem+json body. */
export class Problem extends Error {
  readonly status: number;
  readonly body: ProblemBody;

  constructor(body: ProblemBody) {
    super(body.detail ? `${body.title}：${body.detail}` : body.title);
    this.status = body.status;
    this.body = body;
  }

  /** The offending fields as the API names them (`{field, detail}`), each detail already in Chinese. */
  get errors(): FieldError[] {
    return Array.isArray(this.body.errors) ? this.body.errors : [];
  }
}

export interface FieldError {
  field: string;
  detail: string;
}

export interface ProblemBody {
  status: number;
  title: string;
  detail?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

let onUnauthorized: () => void = () => {};

/** Called when the session is over (the refresh token was refused too): the layout sends the user to log in. */
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const AUTH_PATHS = ["/api/v1/auth/"];

async function problemOf(response: Response): Promise<Problem> {
  const type = response.headers.get("content-type") || "";
  let body: Partial<ProblemBody> = {};
  if (type.includes("json")) {
    try {
      body = (await response.clone().json()) as Partial<ProblemBody>;
    } catch {
      // A malformed body still deserves a readable message.
    }
  }
  const title = typeof body.title === "string" && body.title ? body.title : `请求失败（HTTP ${response.status}）`;
  return new Problem({ ...body, status: response.status, title });
}

let refreshing: Promise<boolean> | null = null;

/** Renew the access token once for every request that found it expired at the same moment. */
export function refreshOnce(): Promise<boolean> {
  refreshing ??= (async () => {
    const refresh = tokens.refresh;
    if (!refresh) return false;
    try {
      const response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) return false;
      tokens.keep(await response.json());
      return true;
    } catch {
      return false;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

const auth: Middleware = {
  async onRequest({ request }) {
    if (tokens.access && !AUTH_PATHS.some((p) => new URL(request.url).pathname.startsWith(p))) {
      request.headers.set("Authorization", `Bearer ${tokens.access}`);
    }
    // The gateway replays the first answer of a retried write (issue 11): one key per user action.
    if (UNSAFE.has(request.method) && !request.headers.has("Idempotency-Key")) {
      request.headers.set("Idempotency-Key", crypto.randomUUID());
    }
    return request;
  },
  async onResponse({ request, response }) {
    if (response.ok) return response;
    const path = new URL(request.url).pathname;
    if (response.status === 401 && !AUTH_PATHS.some((p) => path.startsWith(p))) {
      if (await refreshOnce()) {
        const again = new Request(request, { headers: new Headers(request.headers) });
        again.headers.set("Authorization", `Bearer ${tokens.access}`);
        const retried = await fetch(again);
        if (retried.ok) return retried;
        if (retried.status !== 401) throw await problemOf(retried);
      }
      tokens.clear();
      onUnauthorized();
    }
    throw await problemOf(response);
  },
  onError() {
    return new Problem({ status: 0, title: "无法连接服务器", detail: "请检查网络连接后重试。" });
  },
};

/** The typed client: `api.GET("/api/v1/tenants/{tenant}/members", { params: { path: { tenant } } })`. */
export const api = createClient<paths>({ baseUrl: "", credentials: "omit", cache: "no-store" });
api.use(auth);

/** Unwrap an openapi-fetch answer: the data of a 2xx (errors were already thrown as Problem). */
export async function data<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data: body, error } = await call;
  if (error !== undefined) throw error instanceof Problem ? error : new Problem({ status: 0, title: "请求失败" });
  return body as T;
}

/** Send a file as the raw request body (its name percent-encoded in X-File-Name), with the bearer token, one
 * silent refresh and an Idempotency-Key (the same one when the refresh resends it). */
export async function upload<T>(path: string, file: File, fallbackName = "附件"): Promise<T> {
  const key = crypto.randomUUID();
  const send = () => fetch(path, {
    method: "POST",
    headers: {
      ...(tokens.access ? { Authorization: `Bearer ${tokens.access}` } : {}),
      "Content-Type": file.type || "application/octet-stream",
      "X-File-Name": encodeURIComponent(file.name || fallbackName),
      "Idempotency-Key": key,
    },
    body: file,
    credentials: "omit",
    cache: "no-store",
  });
  let response = await send().catch(() => null);
  if (response?.status === 401 && (await refreshOnce())) response = await send().catch(() => null);
  if (!response) throw new Problem({ status: 0, title: "无法连接服务器", detail: "请检查网络连接后重试。" });
  if (!response.ok) throw await problemOf(response);
  return (await response.json()) as T;
}

/** A file the API serves (XLSX ledgers, exports): fetched with the bearer token, then saved under its own name. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const send = () => fetch(path, {
    headers: tokens.access ? { Authorization: `Bearer ${tokens.access}` } : {},
    credentials: "omit",
    cache: "no-store",
  });
  let response = await send().catch(() => null);
  if (response?.status === 401 && (await refreshOnce())) response = await send().catch(() => null);
  if (!response) throw new Problem({ status: 0, title: "无法连接服务器", detail: "请检查网络连接后重试。" });
  if (!response.ok) throw await problemOf(response);
  const disposition = response.headers.get("content-disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const name = star ? decodeURIComponent(star[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
