"""The platform's default texts: every kind × channel in zh-CN (a county may override any of them).

Each kind is written once as its parts (title, what happened, what to do next, where in the console, the SMS line)
and composed per channel: the inbox shows the title and two sentences, an e-mail adds a greeting and the way into
the platform, an SMS is one short line under the 【金桥】 signature, a group robot gets the title and the facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.templates.domain import KINDS, TemplateView

_TO_MEMBER = "{% if member_name %}{{ member_name }}同志{% else %}您好{% endif %}："
_TO_OFFICE = "您好："
_ACK = "请在平台上确认本提醒；未确认的提醒将逐级上报上级党组织。"
_SIGNATURE = "金桥·流动党员服务平台\n（本邮件由系统自动发送，请勿直接回复。）"


@dataclass(frozen=True, slots=True)
class _Parts:
    title: str
    happened: str
    next_step: str
    where: str
    sms: str
    greeting: str = _TO_OFFICE


_PARTS: dict[str, _Parts] = {
    "membership_offered": _Parts(
        "流动党员{{ member_name }}待报到（临时组织关系）",
        "来自{{ home_county }}的流动党员{{ member_name }}已按“{{ rule }}”安排到{{ org_name }}，建立临时组织关系。",
        "请及时与该党员联系，组织其报到，并纳入本组织的日常管理和组织生活。",
        "控制台「报到接收」（/receive）",
        "【金桥】{{ home_county }}流动党员{{ member_name }}已安排到{{ org_name }}，请做好报到接收。"),
    "membership_offered_member": _Parts(
        "您的临时组织关系已安排",
        "您在{{ destination }}的临时组织关系已安排到{{ org_name }}。",
        "请尽快到该组织报到，按时参加三会一课等组织生活。",
        "金桥平台「我的流动」（/m/flows）",
        "【金桥】您在{{ destination }}的临时组织关系已安排到{{ org_name }}，请尽快报到。",
        _TO_MEMBER),
    "checked_in": _Parts(
        "流动党员{{ member_name }}已报到",
        "流动党员{{ member_name }}已于{{ checked_in_at }}到{{ org_name }}报到。",
        "请在流动党员台账中核对，并与流入地党组织保持联系，共同做好教育管理。",
        "控制台「流动管理」（/flows）",
        "【金桥】流动党员{{ member_name }}已于{{ checked_in_at }}到{{ org_name }}报到。"),
    "check_in_overdue": _Parts(
        "第{{ level }}级提醒：{{ level_label }}｜流动党员{{ member_name }}报到逾期",
        "流动党员{{ member_name }}外出至{{ destination }}，应于{{ due_date }}前报到，至今未报到。"
        "本提醒发送至{{ org_name }}。",
        "请尽快联系该党员及流入地党组织，督促其报到。" + _ACK,
        "控制台「预警」（/alerts）",
        "【金桥】第{{ level }}级提醒：流动党员{{ member_name }}应于{{ due_date }}前报到，至今未报到，"
        "请督促并登录平台确认。"),
    "certificate_expiring": _Parts(
        "流动党员活动证即将到期",
        "您的流动党员活动证将于{{ due_date }}到期。",
        "请及时向流出地党组织申请换发或办理延期手续。",
        "金桥平台「我的流动」（/m/flows）",
        "【金桥】您的流动党员活动证将于{{ due_date }}到期，请及时向流出地党组织申请换发。",
        _TO_MEMBER),
    "report_back_due": _Parts(
        "请向流出地党组织汇报",
        "按照流动党员管理要求，您每年应向流出地党组织汇报思想、工作和参加组织生活情况；"
        "本年度汇报请于{{ due_date }}前完成。",
        "请在平台上提交汇报，或与流出地党支部联系。",
        "金桥平台「我的流动」（/m/flows）",
        "【金桥】请于{{ due_date }}前向流出地党组织汇报本年度思想、工作和参加组织生活情况。",
        _TO_MEMBER),
    "transfer_due": _Parts(
        "应转尽转提醒：流动党员{{ member_name }}",
        "流动党员{{ member_name }}外出至{{ destination }}，已于{{ due_date }}满六个月。",
        "按照应转尽转要求，请与该党员沟通，符合条件的及时将党组织关系转至流入地党组织。",
        "控制台「流动管理」（/flows）",
        "【金桥】流动党员{{ member_name }}外出{{ destination }}已满六个月，请按应转尽转要求办理党组织关系转接。"),
    "meeting_scheduled": _Parts(
        "组织生活通知：{{ title }}",
        "{{ org_name }}定于{{ start_time }}召开{{ meeting_type }}“{{ title }}”。",
        "请准时参加；确有特殊情况不能参加的，请提前向支部请假。",
        "金桥平台「组织生活」（/m）",
        "【金桥】{{ org_name }}定于{{ start_time }}召开{{ meeting_type }}“{{ title }}”，请准时参加。"),
    "ticket_opened": _Parts(
        "新工单待受理：{{ ticket_id }}",
        "{{ org_name }}收到一件新的{{ category_label }}工单（编号{{ ticket_id }}，优先级：{{ priority }}）。",
        "请及时受理，并在时限内答复和办结。",
        "控制台「工单」（/tickets）",
        "【金桥】{{ org_name }}有新的{{ category_label }}工单{{ ticket_id }}，请及时受理。"),
    "ticket_replied": _Parts(
        "您的工单有新回复",
        "您提交的{{ category_label }}工单“{{ title }}”（编号{{ ticket_id }}）收到{{ org_name }}的{{ reply_kind }}。",
        "请查看回复内容；如需补充情况或材料，请在工单中回复。",
        "金桥平台「我的工单」（/m/tickets）",
        "【金桥】您的工单{{ ticket_id }}收到{{ org_name }}的{{ reply_kind }}，请登录金桥平台查看。"),
    "ticket_sla_warned": _Parts(
        "工单即将超时：{{ ticket_id }}",
        "{{ category_label }}工单{{ ticket_id }}（{{ org_name }}）的{{ clock }}时限将于{{ due_at }}到期。",
        "请抓紧受理和办理，避免超时。",
        "控制台「工单」（/tickets）",
        "【金桥】工单{{ ticket_id }}的{{ clock }}时限将于{{ due_at }}到期，请抓紧办理。"),
    "ticket_sla_breached": _Parts(
        "第{{ level }}级提醒：{{ level_label }}｜工单已超时：{{ ticket_id }}",
        "{{ category_label }}工单{{ ticket_id }}（受理站点：{{ org_name }}）的{{ clock }}时限已于{{ due_at }}到期，"
        "尚未办结。",
        "请督促受理站点尽快办结。" + _ACK,
        "控制台「工单」（/tickets）",
        "【金桥】第{{ level }}级提醒：工单{{ ticket_id }}的{{ clock }}时限已于{{ due_at }}到期，"
        "请督办并登录平台确认。"),
    "loan_review_pending": _Parts(
        "{{ programme_name }}申请待{{ tier_label }}",
        "{{ member_name }}申请的{{ programme_name }}（金额{{ amount_yuan }}元）已进入{{ tier_label }}环节，"
        "请于{{ due_at }}前办理。",
        "请审核申请材料并提出意见（党员先锋贷依次经支部推荐、乡镇审核、县级审批后送合作银行）。",
        "控制台「贷款」（/loans）",
        "【金桥】{{ member_name }}的{{ programme_name }}申请待{{ tier_label }}，请于{{ due_at }}前办理。"),
    "loan_step_overdue": _Parts(
        "第{{ level }}级提醒：{{ level_label }}｜贷款{{ tier_label }}超时",
        "{{ member_name }}申请的{{ programme_name }}（金额{{ amount_yuan }}元）在{{ tier_label }}环节"
        "已超过办理时限（{{ due_at }}）。",
        "请督促尽快办理。" + _ACK,
        "控制台「贷款」（/loans）",
        "【金桥】第{{ level }}级提醒：{{ member_name }}的{{ programme_name }}申请{{ tier_label }}已超时，"
        "请督办并登录平台确认。"),
    "loan_instalment_due": _Parts(
        "还款提醒：第{{ seq }}期",
        "您在{{ bank_name }}的贷款第{{ seq }}期应于{{ due_date }}还款{{ due_yuan }}元。",
        "请提前备足资金，按时还款，保持良好信用。",
        "金桥平台「我的贷款」（/m/loans）",
        "【金桥】您的贷款第{{ seq }}期应于{{ due_date }}还款{{ due_yuan }}元，请按时还款。",
        _TO_MEMBER),
    "loan_overdue": _Parts(
        "贷款逾期提醒",
        "您在{{ bank_name }}的贷款自{{ since }}起已逾期{{ days_past_due }}天，逾期金额{{ overdue_yuan }}元。",
        "请尽快还款；如有困难，请及时与放款银行或所在党支部联系。",
        "金桥平台「我的贷款」（/m/loans）",
        "【金桥】您的贷款已逾期{{ days_past_due }}天，逾期金额{{ overdue_yuan }}元，请尽快还款。",
        _TO_MEMBER),
}


def _compose(parts: _Parts, channel: Channel) -> tuple[str, str]:
    """One kind's subject and body on one channel."""
    if channel is Channel.SMS:
        return "", parts.sms
    if channel is Channel.EMAIL:
        body = (f"{parts.greeting}\n\n{parts.happened}\n{parts.next_step}\n\n"
                f"请登录金桥平台处理：{parts.where}。\n\n{_SIGNATURE}")
        return f"【金桥】{parts.title}", body
    if channel is Channel.WEBHOOK:
        return parts.title, f"{parts.title}\n{parts.happened}\n{parts.next_step}\n请登录金桥平台处理：{parts.where}"
    return parts.title, f"{parts.happened}{parts.next_step}"


DEFAULTS: dict[tuple[str, Channel], tuple[str, str]] = {
    (kind, channel): _compose(_PARTS[kind], channel) for kind in KINDS for channel in Channel
}


def default_view(kind: str, channel: Channel) -> TemplateView:
    """The platform's default of ``kind`` × ``channel`` (version 0)."""
    subject, body = DEFAULTS[(kind, channel)]
    return TemplateView(kind=kind, channel=int(channel), subject=subject, body=body)
