// 外出登记: a member of the roster leaves; the registry issues the 活动证 and the 证明信 and asks the
// destination to take them in.

import { registerFlow } from "./api.js";
import { $, el, today } from "./dom.js";
import { checkRequired, mountDialog, submitForm } from "./forms.js";
import { DESTINATIONS, FLOW_STATUS_NAMES, regionName } from "./labels.js";
import { showNotice } from "./notice.js";

const OTHER = "other";

/** The demo destinations as option groups, before the select's “其他地区” option; a code box for the rest. */
export function mountDestinationSelect(form) {
  const select = form.elements.destination_code;
  const other = form.elements.destination_other;
  const otherOption = [...select.options].find((o) => o.value === OTHER);
  for (const { group, codes } of DESTINATIONS) {
    const optgroup = el("optgroup", { attrs: { label: group } });
    for (const code of codes) optgroup.append(el("option", { text: `${regionName(code)}（${code}）`, attrs: { value: code } }));
    select.insertBefore(optgroup, otherOption);
  }
  const sync = () => {
    other.hidden = select.value !== OTHER;
    if (other.hidden) other.value = "";
  };
  select.addEventListener("change", () => {
    sync();
    if (!other.hidden) other.focus();
  });
  form.addEventListener("reset", () => setTimeout(sync));
  return {
    /** The code to send: the chosen option, or what was typed for “其他地区”. */
    value: () => (select.value === OTHER ? other.value.trim() : select.value),
    sync,
  };
}

const REQUIRED = [
  ["destination_code", "请选择流入地。"],
  ["address", "请填写流入地居住地址。"],
  ["industry", "请填写从事行业。"],
  ["start_date", "请填写外出日期。"],
  ["expected_months", "请填写预计外出时长。"],
];

export function mountOutflowDialog(root, tenant, onRegistered) {
  const dialog = $("#outflow-dialog", root);
  const form = $("#outflow-form", root);
  const destination = mountDestinationSelect(form);

  return mountDialog(dialog, {
    onOpen(f, member) {
      destination.sync();
      $("#outflow-who", dialog).textContent = `党员：${member.name}（${member.id_number_masked}）`;
      f.elements.start_date.value = today();
    },
    async onSubmit(f, member, key) {
      if (!checkRequired(f, REQUIRED)) return false;
      const outflow = {
        destination_code: destination.value(),
        address: f.elements.address.value.trim(),
        employer: f.elements.employer.value.trim(),
        industry: f.elements.industry.value.trim(),
        start_date: f.elements.start_date.value,
        expected_months: Number(f.elements.expected_months.value),
        contact_phone: f.elements.contact_phone.value.trim(),
      };
      const flow = await submitForm(f, () => registerFlow(tenant, member.id, outflow, key));
      if (!flow) return false;
      onRegistered({ ...member, flow_id: flow.id, flow_status: flow.status, destination_code: flow.destination_code,
        destination_name: flow.destination_name }, flow);
      showNotice("success", "外出登记成功",
        `已为 ${flow.member_name} 开具流动党员活动证（编号 ${flow.certificate_serial}），流入地：${flow.destination_name}，`
        + `当前状态：${FLOW_STATUS_NAMES[flow.status] || flow.status}。接收情况请在“流动党员”中查看。`);
      return true;
    },
  });
}
