// sessionStorage, not localStorage: the tokens die with the tab, so a shared office computer does not keep a
// colleague logged in. The access token lives minutes; each refresh hands out a new refresh token.
const ACCESS = "jinqiao.token";
const REFRESH = "jinqiao.refresh";

function put(key: string, value: string | null): void {
  if (value) sessionStorage.setItem(key, value);
  else sessionStorage.removeItem(key);
}

export const tokens = {
  get access(): string | null {
    return sessionStorage.getItem(ACCESS);
  },
  get refresh(): string | null {
    return sessionStorage.getItem(REFRESH);
  },
  keep(reply: { access_token: string; refresh_token?: string }): void {
    put(ACCESS, reply.access_token);
    put(REFRESH, reply.refresh_token ?? null);
  },
  clear(): void {
    put(ACCESS, null);
    put(REFRESH, null);
  },
};
