// The dashboard's data for one scope, kept fresh by the gateway's server-sent events. The stream is read with
// fetch (@microsoft/fetch-event-source) so that the bearer token travels in a header, never in the URL.
import { onBeforeUnmount, ref, shallowRef, watch, type Ref } from "vue";
import { fetchEventSource } from "@microsoft/fetch-event-source";
import { api, data, Problem, refreshOnce } from "@/api/client";
import type { components } from "@/api/schema";
import { tokens } from "@/api/tokens";

export type Dashboard = components["schemas"]["DashboardOut"];
export type Area = components["schemas"]["AreaOut"];
export type Figure = components["schemas"]["FigureOut"];

class Fatal extends Error {}

export function useDashboard(scope: Ref<string>) {
  const board = shallowRef<Dashboard | null>(null);
  const loading = ref(false);
  const problem = ref<Problem | null>(null);
  const live = ref<"connecting" | "live" | "offline">("connecting");
  const updatedAt = ref<Date | null>(null);
  let controller: AbortController | null = null;
  let version = "";

  async function load(): Promise<void> {
    loading.value = true;
    try {
      const next = await data(api.GET("/api/v1/scopes/{scope}/insights/dashboard", {
        params: { path: { scope: scope.value } },
      }));
      board.value = next;
      version = next.version;
      problem.value = null;
      updatedAt.value = new Date();
    } catch (e) {
      problem.value = e instanceof Problem ? e : new Problem({ status: 0, title: "加载失败" });
      board.value = null;
    } finally {
      loading.value = false;
    }
  }

  function listen(): void {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    live.value = "connecting";
    void fetchEventSource(`/api/v1/scopes/${scope.value}/insights/stream`, {
      signal: mine.signal,
      openWhenHidden: true,
      // A fresh token on every (re)connection: the stream ends when the token it was opened with expires.
      fetch: (input, init) => fetch(input, {
        ...init, credentials: "omit", cache: "no-store",
        headers: { ...(init?.headers as Record<string, string>), Authorization: `Bearer ${tokens.access ?? ""}` },
      }),
      async onopen(response) {
        if (response.ok) {
          live.value = "live";
          return;
        }
        if (response.status === 401 && (await refreshOnce())) throw new Error("token renewed");
        throw new Fatal(`stream refused: ${response.status}`);
      },
      onmessage(message) {
        if (message.event === "changed" || (message.event === "version" && safeVersion(message.data) !== version)) {
          void load();
        } else if (message.event === "end") {
          live.value = "connecting";
        }
      },
      onclose() {
        // The server ended the stream (token expired): reconnect, renewing the token if it was refused.
        throw new Error("closed");
      },
      onerror(err) {
        if (err instanceof Fatal || mine.signal.aborted) {
          live.value = "offline";
          throw err;
        }
        live.value = "connecting";
        return 3000;
      },
    }).catch(() => {
      if (controller === mine) live.value = "offline";
    });
  }

  watch(scope, async () => {
    await load();
    if (!problem.value) listen();
    else controller?.abort();
  }, { immediate: true });

  onBeforeUnmount(() => controller?.abort());

  return { board, loading, problem, live, updatedAt, reload: load };
}

function safeVersion(text: string): string {
  try {
    return String((JSON.parse(text) as { version?: string }).version ?? "");
  } catch {
    return "";
  }
}

/** A figure's text as published ("<3" and "12+" as the API words them). */
export const shown = (f: Figure | undefined): string => (f ? f.display.replace(/^\d+/, (n) => Number(n).toLocaleString("zh-CN")) : "—");

/** 报到率 as a percentage; "—" when nobody published is away. */
export function coverageText(area: Area | undefined): string {
  if (!area || !area.away.value) return "—";
  const text = `${(area.coverage * 100).toFixed(1)}%`;
  return area.coverage_partial ? `${text}*` : text;
}

/** The level's Chinese name. */
export const levelName = (level: string): string => ({ province: "省", city: "市", county: "县" })[level] ?? "";
