// Who is logged in: the verified principal of GET /api/v1/me, shared by every page.
import { reactive, readonly } from "vue";
import { api, data } from "@/api/client";
import { tokens } from "@/api/tokens";

export type Role =
  | "province_analyst" | "city_analyst" | "county_admin" | "township_officer" | "station_staff"
  | "guidance_officer" | "branch_secretary" | "member" | "bank_officer";

export interface Principal {
  user: string;
  role: Role;
  scope: string;
  scope_name: string;
  tenant: string | null;
  /** An organisation's id; for a bank officer, its bank's code (e.g. "gsrcb"). */
  org: string | null;
  member: string | null;
  /** A bank officer's bank: its code, and its name when a programme of the county names it. */
  bank_code?: string | null;
  bank_name?: string | null;
}

const state = reactive<{ me: Principal | null }>({ me: null });

export const session = readonly(state);

/** The principal, asked once per page load (null when nobody is logged in). */
export async function loadMe(): Promise<Principal | null> {
  if (state.me) return state.me;
  if (!tokens.access) return null;
  try {
    state.me = (await data(api.GET("/api/v1/me"))) as Principal;
  } catch {
    state.me = null;
  }
  return state.me;
}

export async function login(username: string, password: string): Promise<Principal | null> {
  tokens.keep(await data(api.POST("/api/v1/auth/token", { body: { username, password } })));
  state.me = null;
  return loadMe();
}

export async function logout(): Promise<void> {
  try {
    if (tokens.access) await api.POST("/api/v1/auth/logout");
  } catch {
    // Logging out locally matters more than telling the server; the token dies with its lifetime anyway.
  }
  forget();
}

/** Drop the session locally (expired, refused, or logged out). */
export function forget(): void {
  tokens.clear();
  state.me = null;
}

/** The principal of a page that the router guard has already let in. */
export function me(): Principal {
  if (!state.me) throw new Error("no session");
  return state.me;
}

/** The county a county-bound principal acts on (every tenant page needs it). */
export function tenant(): string {
  const t = me().tenant;
  if (!t) throw new Error("this role acts on no county");
  return t;
}
