// 党员名册: the county's members, newest first, fifty at a time.

import { listMembers } from "./api.js";
import { $, busy, cell } from "./dom.js";
import { GENDER_NAMES, STATUS_NAMES } from "./labels.js";
import { reportProblem } from "./notice.js";

function memberRow(m) {
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
  );
  return tr;
}

export function mountRoster(root, tenant) {
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
        body.append(memberRow(m));
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
      const tr = memberRow(m);
      tr.classList.add("is-new");
      body.prepend(tr);
      update();
    },
  };
}
