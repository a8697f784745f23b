"""The triggers' mapping: which event tells whom, with which template kind, facts and link. No framework imports.

Every function here is pure: the service looks up names (members, orgs) and hands them in; a ``Plan`` names the
template kind, the facts (strings), the console link and the target, which the service turns into recipients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from jinqiao.notifications.directory.domain import Audience

# China keeps one offset all year (no daylight saving): a fixed zone needs no tz database.
_BEIJING = timezone(timedelta(hours=8))

# ---- targets: whom a plan is for (the service resolves them into recipients)


@dataclass(frozen=True, slots=True)
class Office:
    """The office for ``audience`` at ``org_id`` (walking up when nobody is there); None: the county department."""

    org_id: str | None
    audience: Audience


@dataclass(frozen=True, slots=True)
class MemberTarget:
    """A member of the county the plan runs in (known to the directory or not)."""

    member_id: str


@dataclass(frozen=True, slots=True)
class UserTarget:
    """One login (a ticket's assignee)."""

    username: str


@dataclass(frozen=True, slots=True)
class SeatTarget:
    """An office that is not an org of the tree (a partner bank's officers)."""

    role: str
    org: str
    label: str


Target = Office | MemberTarget | UserTarget | SeatTarget


@dataclass(frozen=True, slots=True)
class Plan:
    """One notice to send: its template kind, facts, console link and target."""

    kind: str
    facts: Mapping[str, str]
    link: str
    target: Target


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """A matter that climbs the org tree until somebody acknowledges it (``escalations.raise_escalation``)."""

    kind: str
    subject_id: str
    member_id: str | None
    start_org_id: str | None
    level: int
    facts: Mapping[str, str] = field(default_factory=dict)
    link: str = ""


# ---- labels (zh-CN)

TICKET_CATEGORY_LABELS: dict[str, str] = {
    "legal_wages": "讨薪", "legal_labor": "劳动关系", "legal_injury": "工伤", "employment": "岗位推荐",
    "training": "技能培训", "insurance": "医保/社保", "civil_relief": "民政救助", "schooling": "子女就学",
    "family_care": "留守家属关爱", "other": "其他",
}
PRIORITY_LABELS: dict[str, str] = {"LOW": "低", "NORMAL": "普通", "HIGH": "高", "URGENT": "紧急"}
CLOCK_LABELS: dict[str, str] = {"FIRST_RESPONSE": "首次响应", "ASSIGNMENT": "指派", "UPDATE": "进展更新",
                                "RESOLUTION": "办结"}
REPLY_KIND_LABELS: dict[str, str] = {"COMMENT": "办理回复", "INFO_REQUESTED": "请补充材料", "RESOLVED": "已办结"}
TIER_LABELS: dict[str, str] = {"BRANCH": "支部推荐", "TOWNSHIP": "乡镇审核", "COUNTY": "县级审批", "BANK": "银行审批"}
PRODUCT_LABELS: dict[str, str] = {"PIONEER": "党员先锋贷", "MICRO_CREDIT": "小额信用贷款",
                                  "STARTUP_GUARANTEE": "创业担保贷款"}
MEETING_TYPE_LABELS: dict[str, str] = {
    "GENERAL_MEETING": "支部党员大会", "COMMITTEE_MEETING": "支委会", "GROUP_MEETING": "党小组会",
    "PARTY_LECTURE": "党课", "THEME_DAY": "主题党日",
}
PLACEMENT_RULE_LABELS: dict[str, str] = {
    "EMPLOYER_BRANCH": "雇主党组织", "RESIDENCE_COMMUNITY_BRANCH": "居住地社区党组织",
    "FRINGE_VILLAGE_BRANCH": "城郊村党组织", "STATION_TEMPORARY_BRANCH": "工作站临时党支部",
    "EXTERNAL_BRANCH_IN_CITY": "驻外党组织", "INDUSTRY_BRANCH": "行业党组织", "ONLINE_BRANCH": "网上党支部",
}
# The registry's policy timers (PolicyTimerFired.timer).
CHECK_IN_OVERDUE = "CHECK_IN_OVERDUE"
CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
REPORT_BACK_DUE = "REPORT_BACK_DUE"
TRANSFER_DUE = "TRANSFER_DUE"
# The escalation kinds the triggers open and settle (escalations.domain.LADDERS).
ESC_CHECK_IN = "check_in_overdue"
ESC_TICKET = "ticket_sla_breached"
ESC_LOAN = "loan_step_overdue"
# The role whose logins a partner bank's seat holds (directory's seat:<role>:<bank code>).
BANK_OFFICER_ROLE = "bank_officer"


def label(table: Mapping[str, str], code: str) -> str:
    """A code's zh-CN label, or the code itself when the table does not know it (never empty for a known code)."""
    return table.get(code, code)


# ---- formatting: money and time as the templates show them


def yuan(fen: int) -> str:
    """Integer 分 as yuan text with thousands separators: 145833 → "1,458.33" (integer arithmetic, never float)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def beijing_minute(text: str) -> str:
    """An RFC 3339 instant as Beijing wall time to the minute ("2026-12-02 17:30"); a bare date or anything that does
    not parse is returned as it came (the template still shows something)."""
    if not text or "T" not in text:
        return text
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M")


# ---- flows (organizations, registry)


def offer_to_station(*, org_id: str, org_name: str, member_name: str, home_county: str, rule: str) -> Plan:
    """临时组织关系 offered: the station serving the org (destination county) is to expect the member's 报到."""
    return Plan("membership_offered",
                {"member_name": member_name, "org_name": org_name, "home_county": home_county,
                 "rule": label(PLACEMENT_RULE_LABELS, rule)},
                "/receive", Office(org_id or None, Audience.STATION))


def offer_to_member(*, member_id: str, member_name: str, org_name: str, destination: str) -> Plan:
    """临时组织关系 offered: the member (origin county) learns where to 报到."""
    return Plan("membership_offered_member",
                {"member_name": member_name, "org_name": org_name, "destination": destination},
                "/m/flows", MemberTarget(member_id))


def checked_in(*, flow_id: str, home_org_id: str | None, member_name: str, org_name: str,
               checked_in_at: str) -> Plan:
    """报到 done: the member's home branch (origin county) hears of it."""
    return Plan("checked_in",
                {"member_name": member_name, "org_name": org_name, "checked_in_at": beijing_minute(checked_in_at)},
                f"/flows/{flow_id}", Office(home_org_id or None, Audience.BRANCH))


def policy_timer(*, timer: str, flow_id: str, member_id: str, home_org_id: str | None, member_name: str,
                 level: int, due_date: str, destination: str) -> Plan | EscalationPlan | None:
    """A registry policy timer ran out: 报到 overdue escalates; 活动证 expiry and report-back tell the member;
    应转尽转 tells the home branch. None for a timer the triggers do not know (a newer producer)."""
    member_facts = {"member_name": member_name, "due_date": due_date}
    if timer == CHECK_IN_OVERDUE:
        return EscalationPlan(ESC_CHECK_IN, flow_id, member_id or None, home_org_id or None, max(level, 1),
                              {**member_facts, "destination": destination}, "/alerts")
    if timer == CERTIFICATE_EXPIRED:
        return Plan("certificate_expiring", member_facts, "/m/flows", MemberTarget(member_id))
    if timer == REPORT_BACK_DUE:
        return Plan("report_back_due", member_facts, "/m/flows", MemberTarget(member_id))
    if timer == TRANSFER_DUE:
        return Plan("transfer_due", {**member_facts, "destination": destination}, f"/flows/{flow_id}",
                    Office(home_org_id or None, Audience.BRANCH))
    return None


def meeting(*, org_name: str, title: str, meeting_type: str, start_time: str) -> tuple[str, dict[str, str], str]:
    """三会一课 scheduled: the kind, facts and link every attendee gets (the attendees come from the directory)."""
    return ("meeting_scheduled",
            {"org_name": org_name, "title": title, "meeting_type": label(MEETING_TYPE_LABELS, meeting_type),
             "start_time": beijing_minute(start_time)},
            "/m")


# ---- tickets (desk)


def _ticket_facts(*, ticket_id: str, category: str, org_name: str) -> dict[str, str]:
    return {"ticket_id": ticket_id, "category_label": label(TICKET_CATEGORY_LABELS, category), "org_name": org_name}


def ticket_opened(*, ticket_id: str, category: str, serving_org_id: str, org_name: str, priority: str) -> Plan:
    """A new ticket in a queue: the serving station's office, or the county department's when none serves it."""
    return Plan("ticket_opened",
                {**_ticket_facts(ticket_id=ticket_id, category=category, org_name=org_name),
                 "priority": label(PRIORITY_LABELS, priority)},
                f"/tickets/{ticket_id}",
                Office(serving_org_id or None, Audience.STATION if serving_org_id else Audience.COUNTY))


def ticket_replied(*, ticket_id: str, member_id: str, category: str, org_name: str, title: str,
                   reply_kind: str) -> Plan:
    """The office answered the member's ticket (a reply, a request for materials, the resolution): the member."""
    return Plan("ticket_replied",
                {**_ticket_facts(ticket_id=ticket_id, category=category, org_name=org_name), "title": title,
                 "reply_kind": label(REPLY_KIND_LABELS, reply_kind)},
                f"/m/tickets/{ticket_id}", MemberTarget(member_id))


def ticket_sla_warned(*, ticket_id: str, category: str, serving_org_id: str, org_name: str, assignee: str,
                      clock: str, due_at: str) -> Plan:
    """A ticket's time limit is near: its assignee, else the queue's office."""
    target: Target = (UserTarget(assignee) if assignee else
                      Office(serving_org_id or None, Audience.STATION if serving_org_id else Audience.COUNTY))
    return Plan("ticket_sla_warned",
                {**_ticket_facts(ticket_id=ticket_id, category=category, org_name=org_name),
                 "clock": label(CLOCK_LABELS, clock), "due_at": beijing_minute(due_at)},
                f"/tickets/{ticket_id}", target)


def ticket_sla_breached(*, ticket_id: str, category: str, serving_org_id: str, org_name: str, clock: str,
                        due_at: str) -> EscalationPlan:
    """A ticket's time limit passed: escalate from the serving station up to the county until acknowledged."""
    return EscalationPlan(ESC_TICKET, ticket_id, None, serving_org_id or None, 1,
                          {**_ticket_facts(ticket_id=ticket_id, category=category, org_name=org_name),
                           "clock": label(CLOCK_LABELS, clock), "due_at": beijing_minute(due_at)},
                          f"/tickets/{ticket_id}")


# ---- loans (desk)


def loan_facts(*, member_name: str, amount_fen: int, programme_name: str, tier: str, due_at: str) -> dict[str, str]:
    """The facts of a loan's review notices (money as yuan text)."""
    return {"member_name": member_name, "amount_yuan": yuan(amount_fen), "programme_name": programme_name,
            "tier_label": label(TIER_LABELS, tier), "due_at": beijing_minute(due_at)}


def loan_reviewer(*, pending_tier: str, home_org_id: str | None, bank_code: str) -> Target | None:
    """Who decides next: the home branch (BRANCH), the township above it (TOWNSHIP), the county department (COUNTY),
    the partner bank's officers (BANK); None when nobody does (the review ended)."""
    if pending_tier == "BRANCH":
        return Office(home_org_id or None, Audience.BRANCH)
    if pending_tier == "TOWNSHIP":
        return Office(home_org_id or None, Audience.TOWNSHIP)
    if pending_tier == "COUNTY":
        return Office(None, Audience.COUNTY)
    if pending_tier == "BANK" and bank_code:
        return SeatTarget(BANK_OFFICER_ROLE, bank_code, f"合作银行（{bank_code}）")
    return None


def loan_review_pending(*, loan_id: str, pending_tier: str, home_org_id: str | None, bank_code: str,
                        facts: Mapping[str, str]) -> Plan | None:
    """An application waits for its next reviewer; None when no tier is pending."""
    target = loan_reviewer(pending_tier=pending_tier, home_org_id=home_org_id, bank_code=bank_code)
    if target is None:
        return None
    return Plan("loan_review_pending", dict(facts), f"/loans/{loan_id}", target)


def loan_step_subject(loan_id: str, tier: str) -> str:
    """One escalation per loan and tier: a later tier running late is a new matter, not the settled one again."""
    return f"{loan_id}:{tier}"


LOAN_TIERS = ("BRANCH", "TOWNSHIP", "COUNTY", "BANK")


def loan_step_overdue(*, loan_id: str, tier: str, member_id: str | None, start_org_id: str | None,
                      facts: Mapping[str, str]) -> EscalationPlan:
    """A review tier let its limit pass: escalate from that tier's office (None: the county department)."""
    return EscalationPlan(ESC_LOAN, loan_step_subject(loan_id, tier), member_id or None, start_org_id or None, 1,
                          dict(facts), f"/loans/{loan_id}")


def instalment_due(*, loan_id: str, member_id: str, member_name: str, seq: int, due_date: str, due_fen: int,
                   bank_name: str) -> Plan:
    """An instalment comes due: the borrower."""
    return Plan("loan_instalment_due",
                {"member_name": member_name, "seq": str(seq), "due_date": due_date, "due_yuan": yuan(due_fen),
                 "bank_name": bank_name},
                f"/m/loans/{loan_id}", MemberTarget(member_id))


def loan_overdue(*, loan_id: str, member_id: str, member_name: str, days_past_due: int, overdue_fen: int,
                 since: str, bank_name: str) -> Plan:
    """A loan is past due: the borrower."""
    return Plan("loan_overdue",
                {"member_name": member_name, "days_past_due": str(days_past_due), "overdue_yuan": yuan(overdue_fen),
                 "since": since, "bank_name": bank_name},
                f"/m/loans/{loan_id}", MemberTarget(member_id))
