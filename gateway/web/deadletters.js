// 事件异常: events the county's services could not apply (dead letters), why, and a way to apply them again
// once the cause is fixed (重新处理). The event's content never comes here: only what it was and why it stopped.

import { listDeadLetters, replayDeadLetter } from "./api.js";
import { $, busy, cell, el, formatTime, rowButton } from "./dom.js";
import { EVENT_NAMES, SERVICE_NAMES } from "./labels.js";
import { reportProblem, showNotice } from "./notice.js";

const OUTCOMES = {
  applied: ["success", "已重新处理", "事件已应用，记录已标记为已处理。"],
  already_applied: ["success", "无需重复处理", "该事件此前已经应用过，未重复应用；记录已标记为已处理。"],
  failed: ["error", "重新处理未成功", "原因见该行；排除原因后可再次重新处理。"],
};

function eventName(type) {
  const short = (type || "").split(".").pop();
  return EVENT_NAMES[short] || short;
}

function stateCell(letter) {
  const td = cell("td", letter.replayed ? "已处理" : "待处理");
  const by = letter.replayed ? `${letter.replayed_by || ""} ${formatTime(letter.replayed_at)}`.trim() : "";
  if (by) td.append(el("span", { className: "cell__sub", text: by }));
  if (!letter.replayed && letter.last_replay_error) {
    td.append(el("span", { className: "cell__sub", text: `上次重新处理失败：${letter.last_replay_error}` }));
  }
  return td;
}

export function mountDeadLetters(root, tenant) {
  const body = $("#dead-letters tbody", root);
  const more = $("#dead-letters-more", root);
  const pendingOnly = $("#dead-letters-pending", root);
  let next = "";
  let generation = 0;

  function row(letter) {
    const tr = document.createElement("tr");
    const when = cell("th", formatTime(letter.created_at));
    when.scope = "row";
    const what = cell("td", eventName(letter.event_type));
    what.append(el("span", { className: "cell__sub mono", text: letter.event_id }));
    const where = cell("td", SERVICE_NAMES[letter.service] || letter.service);
    where.append(el("span", { className: "cell__sub", text: letter.consumer }));
    const actions = document.createElement("td");
    if (!letter.replayed) {
      actions.append(rowButton("重新处理", `${eventName(letter.event_type)} ${formatTime(letter.created_at)}`,
        async () => {
          try {
            const done = await replayDeadLetter(tenant, letter.service, letter.id);
            const [kind, title, detail] = OUTCOMES[done.outcome] || OUTCOMES.failed;
            showNotice(kind, title, done.outcome === "failed" ? `${done.message || ""} ${detail}`.trim() : detail);
            tr.replaceWith(row(done.dead_letter));
          } catch (error) {
            reportProblem(error);
          }
        }));
    }
    tr.append(when, what, where, cell("td", letter.reason, "wrap"), cell("td", letter.deliveries), stateCell(letter),
      actions);
    return tr;
  }

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    const page = await listDeadLetters(tenant, { pendingOnly: pendingOnly.checked, pageToken: reset ? "" : next });
    if (mine !== generation) return;
    if (reset) body.replaceChildren();
    body.append(...page.dead_letters.map(row));
    next = page.next_page_token;
    const count = body.rows.length;
    $("#dead-letters-count", root).textContent = count ? `${count}${next ? "+" : ""} 条` : "";
    $("#dead-letters-empty", root).hidden = count > 0;
    more.hidden = !next;
  }

  const reload = () => load(true).catch(reportProblem);
  more.addEventListener("click", () => busy(more, () => load(false).catch(reportProblem)));
  pendingOnly.addEventListener("change", reload);
  $("#dead-letters-reload", root).addEventListener("click", (event) => busy(event.currentTarget, reload));
  reload();
  return { show: reload };
}
