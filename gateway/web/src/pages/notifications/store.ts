// The bell's state, shared by the bell and the inbox pages: one summary, live over the stream (fetch-event-source, the
// bearer header), falling back to polling every 30 s while the stream is unavailable.
import { ref } from "vue";
import { followSummary, inboxSummary, type InboxSummary } from "./api";

const POLL_MS = 30_000;
const RECONNECT_MS = 60_000;
const ENDED_RECONNECT_MS = 5_000;

export const summary = ref<InboxSummary>({ unread_count: 0, urgent_unread_count: 0, latest_id: "", latest_at: null });

/** Ask for the summary now (after the inbox changed it, or when polling). */
export async function refreshSummary(): Promise<void> {
  try {
    summary.value = await inboxSummary();
  } catch {
    // The bell keeps its last count; the next poll or event corrects it.
  }
}

let users = 0;
let controller: AbortController | null = null;
let poller: ReturnType<typeof setInterval> | null = null;
let reconnect: ReturnType<typeof setTimeout> | null = null;

function poll(on: boolean): void {
  if (on && !poller) poller = setInterval(refreshSummary, POLL_MS);
  if (!on && poller) {
    clearInterval(poller);
    poller = null;
  }
}

async function follow(): Promise<void> {
  controller = new AbortController();
  const signal = controller.signal;
  let ended = false;
  try {
    ({ ended } = await followSummary((s) => {
      summary.value = s;
      poll(false);
    }, signal));
  } catch {
    // Network trouble or no stream support: polling covers it.
  }
  if (signal.aborted) return;
  poll(true);
  // The session's token ended the stream: the next poll renews it, so come back soon; otherwise wait longer.
  reconnect = setTimeout(() => {
    reconnect = null;
    if (users > 0) void follow();
  }, ended ? ENDED_RECONNECT_MS : RECONNECT_MS);
}

/** Start following (the first bell mounted starts the stream; later ones share it). */
export function startBell(): void {
  users += 1;
  if (users > 1) return;
  void refreshSummary();
  poll(true);
  void follow();
}

/** Stop following when the last bell goes away (logging out, leaving the layout). */
export function stopBell(): void {
  users = Math.max(0, users - 1);
  if (users) return;
  controller?.abort();
  controller = null;
  poll(false);
  if (reconnect) clearTimeout(reconnect);
  reconnect = null;
}
