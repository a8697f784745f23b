// 党员名册: the county's members, newest first, fifty at a time.

import { listMembers } from "./api.js";
import { $, busy, cell, el } from "./dom.js";
import { FLOW_STATUS_NAMES, GENDER_NAMES, OPEN_FLOW_STATUSES, STATUS_NAMES } from "./labels.js";
import { reportProblem } from "./notice.js";

/** 流动情况: the open flow's status and destination, or nothing for a member at home. */
function flowCell(m) {
  const td = document.createElement("td");
  if (m.flow_status && OPEN_FLOW_STATUSES.has(m.flow_status)) {
    td.append(el("span", { className: `flag flag--${m.flow_status}`, text: FLOW_STATUS_NAMES[m.flow_status] }));
    if (m.destination_name) td.append(el("span", { className: "code", text: m.destination_name }));
  } else {
    td.textContent = m.flow_status ? FLOW_STATUS_NAMES[m.flow_status] || "—" : "—";
  }
  return td;
}

function memberRow(m, onOutflow) {
  const tr = document.createElement("tr");
  tr.dataset.memberId = m.id;
  const name = cell("th", m.name);
  name.scope = "row";
  tr.append(
    name,
    cell("td", GENDER_NAMES[m.gender]),
    cell("td", m.birth_date, "nowrap"),
    // Both numbers arrive masked from the gateway; the console never sees them in full.
    cell("td", m.id_number_masked, "mono"),
    cell("td", m.phone_masked, "mono"),
    cell("td", STATUS_NAMES[m.membership_status], `status status--${m.membership_status}`),
    cell("td", m.township),
    cell("td", m.village),
    cell("td", m.occupation),
    cell("td", m.join_date, "nowrap"),
    flowCell(m),
  );
  const actions = document.createElement("td");
  // A member already away has an open flow: changes go through 流动党员 (重新安置/回归/转出).
  if (onOutflow && !(m.flow_status && OPEN_FLOW_STATUSES.has(m.flow_status)) && m.flow_status !== "transferred") {
    const button = el("button", {
      className: "btn btn--small", text: "外出登记", attrs: { type: "button", "aria-label": `外出登记 ${m.name}` },
    });
    button.addEventListener("click", () => onOutflow(m));
    actions.append(button);
  }
  tr.append(actions);
  return tr;
}

export function mountRoster(root, tenant, { onOutflow } = {}) {
  const body = $("#roster tbody", root);
  const more = $("#roster-more", root);
  // Ids already on screen: a member registered here may come back again on a later page.
  const shown = new Set();
  let next = "";

  function update() {
    $("#roster-count", root).textContent = `已显示 ${shown.size} 人${next ? "，还有更多" : ""}`;
    $("#roster-empty", root).hidden = shown.size > 0;
    more.hidden = !next;
  }

  async function load() {
    try {
      const page = await listMembers(tenant, next);
      for (const m of page.members) {
        if (shown.has(m.id)) continue;
        shown.add(m.id);
        body.append(memberRow(m, onOutflow));
      }
      next = page.next_page_token;
      update();
    } catch (error) {
      reportProblem(error);
    }
  }

  more.addEventListener("click", () => busy(more, load));
  load();

  return {
    prepend(m) {
      if (shown.has(m.id)) return;
      shown.add(m.id);
      const tr = memberRow(m, onOutflow);
      tr.classList.add("is-new");
      body.prepend(tr);
      update();
    },
    /** The member's row after an outflow was registered (or anything else changed). */
    replace(m) {
      const old = body.querySelector(`tr[data-member-id="${CSS.escape(m.id)}"]`);
      if (!old) return;
      const tr = memberRow(m, onOutflow);
      tr.classList.add("is-new");
      old.replaceWith(tr);
    },
  };
}
