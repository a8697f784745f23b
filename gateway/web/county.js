// The county organisation department's page: register or import members and browse the roster.

import { fromTemplate } from "./dom.js";
import { mountImport } from "./import.js";
import { mountRegisterForm } from "./register.js";
import { mountRoster } from "./roster.js";

export function renderCounty(view, who) {
  view.replaceChildren(fromTemplate("tpl-county"));
  const roster = mountRoster(view, who.tenant);
  mountRegisterForm(view, who.tenant, (member) => roster.prepend(member));
  mountImport(view, who.tenant, () => renderCounty(view, who));
}
