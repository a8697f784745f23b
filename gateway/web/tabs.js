// Tabs across the top of a page (WAI-ARIA tabs pattern). The chosen tab lives in the address's fragment,
// so a reload stays where the user was; nothing personal ever goes there.

import { el, fromTemplate } from "./dom.js";

/**
 * tabs: [{ id, label, template, mount(panel) → { show() } | undefined }]. A panel is mounted when first
 * shown; its show() runs on every later visit (to fetch what changed meanwhile).
 */
export function mountTabs(view, tabs, label) {
  const list = el("div", { className: "tabs", attrs: { role: "tablist", "aria-label": label } });
  const mounted = new Map();
  const buttons = [];
  const panels = [];

  for (const tab of tabs) {
    const button = el("button", {
      className: "tabs__tab", text: tab.label,
      attrs: { type: "button", role: "tab", id: `tab-${tab.id}`, "aria-controls": `panel-${tab.id}` },
    });
    const panel = el("div", {
      className: "tabpanel", attrs: { role: "tabpanel", id: `panel-${tab.id}`, "aria-labelledby": `tab-${tab.id}` },
    });
    panel.hidden = true;
    button.addEventListener("click", () => select(tab.id, true));
    button.addEventListener("keydown", (event) => {
      const at = buttons.indexOf(button);
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      select(next.id, true);
      buttons[tabs.indexOf(next)].focus();
    });
    buttons.push(button);
    panels.push(panel);
    list.append(button);
  }

  function select(id, remember) {
    const index = Math.max(0, tabs.findIndex((t) => t.id === id));
    tabs.forEach((tab, i) => {
      const on = i === index;
      buttons[i].setAttribute("aria-selected", String(on));
      buttons[i].tabIndex = on ? 0 : -1;
      panels[i].hidden = !on;
    });
    const tab = tabs[index];
    if (remember) history.replaceState(null, "", `#${tab.id}`);
    if (!mounted.has(tab.id)) {
      if (tab.template) panels[index].append(fromTemplate(tab.template));
      mounted.set(tab.id, tab.mount?.(panels[index]) || {});
    } else {
      mounted.get(tab.id).show?.();
    }
  }

  view.replaceChildren(list, ...panels);
  select(location.hash.slice(1), false);
  return { select: (id) => select(id, true) };
}
