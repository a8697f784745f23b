"""Flows (外出登记 → 临时组织关系 → 报到 → 回归/转出): states, rules and policy timers. No framework imports."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum

from jinqiao.kit import fields, pii
from jinqiao.kit.authz import Permission, require
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, ForgedEvent, InvalidArgument
from jinqiao.kit.regions import name_of
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant, province_of

TEXT_MAX = 100
MAX_EXPECTED_MONTHS = 120


class FlowStatus(IntEnum):
    """Values match the proto enum."""

    REGISTERED = 1
    OFFERED = 2
    REFUSED = 3
    MANAGED = 4
    RETURNED = 5
    TRANSFERRED = 6


OPEN = frozenset({FlowStatus.REGISTERED, FlowStatus.OFFERED, FlowStatus.REFUSED, FlowStatus.MANAGED})
STATUS_LABEL = {
    FlowStatus.REGISTERED: "待接收", FlowStatus.OFFERED: "已接收待报到", FlowStatus.REFUSED: "被拒收待重新安置",
    FlowStatus.MANAGED: "已报到", FlowStatus.RETURNED: "已回归", FlowStatus.TRANSFERRED: "已转出",
}


class Timer:
    """Names of the policy timers (also the wire values of PolicyTimerFired.timer)."""

    CHECK_IN_OVERDUE = "CHECK_IN_OVERDUE"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    REPORT_BACK_DUE = "REPORT_BACK_DUE"
    TRANSFER_DUE = "TRANSFER_DUE"


@dataclass(frozen=True, slots=True)
class Policy:
    """A county's policy timers; the defaults are the rules of DOMAIN.md and seed 001."""

    check_in_days: int = 30
    escalate_township_days: int = 15
    escalate_county_days: int = 15
    certificate_months: int = 12
    report_back_months: int = 12
    transfer_due_months: int = 6
    placement_timeout_hours: int = 72
    is_default: bool = True


_POLICY_LIMITS = {
    "check_in_days": (1, 365), "escalate_township_days": (1, 365), "escalate_county_days": (1, 365),
    "certificate_months": (1, 36), "report_back_months": (1, 24), "transfer_due_months": (1, 60),
    "placement_timeout_hours": (1, 24 * 30),
}


def validate_policy(values: dict[str, int]) -> Policy:
    """Every timer within its bounds; all violations at once."""
    violations = [FieldViolation(f"policy.{k}", f"须在 {lo} 至 {hi} 之间")
                  for k, (lo, hi) in _POLICY_LIMITS.items() if not lo <= values.get(k, 0) <= hi]
    if violations:
        raise InvalidArgument(violations)
    return Policy(**{k: values[k] for k in _POLICY_LIMITS}, is_default=False)


@dataclass(frozen=True, slots=True)
class Flow:
    """A flow as the origin county sees it."""

    id: str
    tenant_id: str
    member_id: str
    member_name: str
    attempt: int
    status: FlowStatus
    destination_code: str
    placing_tenant_id: str
    out_of_province: bool
    address: str
    employer: str
    industry: str
    start_date: date
    destination_since: date
    expected_months: int
    contact_phone_masked: str
    certificate_serial: str
    certificate_valid_until: date
    membership_id: str | None
    org_id: str | None
    org_name: str
    placement_rule: str
    placement_reason: str
    refusal_reason: str
    refusal_advice: str
    offered_at: datetime | None
    checked_in_at: datetime | None
    check_in_method: str
    last_report_date: date | None
    closed_on: date | None
    created_at: datetime
    version: int

    @property
    def is_open(self) -> bool:
        """Not yet returned or transferred."""
        return self.status in OPEN


@dataclass(frozen=True, slots=True)
class Outflow:
    """A validated 外出登记."""

    destination_code: str
    placing_tenant_id: str
    out_of_province: bool
    address: str
    employer: str
    industry: str
    start_date: date
    expected_months: int
    contact_phone: str | None


def ensure_may_write(role: str) -> None:
    """Flows are registered and closed by the county's organisation department."""
    require(role, Permission.FLOWS_WRITE, "当前角色无权办理流动党员外出登记")


def destination(*, origin: str, code: str, violations: list[FieldViolation],
                field: str = "destination_code") -> tuple[str, str, bool]:
    """(destination, placing county, out of province): in the province the destination county places the
    member; outside it the origin places them in its own 驻外 organisations (DESIGN §3)."""
    try:
        clean = parse_tenant(code.strip())
    except InvalidTenant:
        violations.append(FieldViolation(field, "流入地须为 6 位行政区划代码（省内县区或省外城市）"))
        return "", "", False
    if clean == origin:
        violations.append(FieldViolation(field, "流入地不能是本县"))
    out = province_of(clean) != province_of(origin)
    return clean, (origin if out else clean), out


def validate_outflow(*, origin: str, destination_code: str, address: str, employer: str, industry: str,
                     start_date: str, expected_months: int, contact_phone: str, today: date) -> Outflow:
    """Check a 外出登记, reporting every violation at once."""
    violations: list[FieldViolation] = []
    dest, placing, out = destination(origin=origin, code=destination_code, violations=violations)
    clean_address = fields.text(address, field="address", limit=TEXT_MAX, required=True, violations=violations)
    clean_employer = fields.text(employer, field="employer", limit=TEXT_MAX, required=False, violations=violations)
    clean_industry = fields.text(industry, field="industry", limit=TEXT_MAX, required=True, violations=violations)
    start: date | None = None
    try:
        start = date.fromisoformat(start_date.strip())
        if start > today + timedelta(days=90):
            violations.append(FieldViolation("start_date", "外出日期不能晚于今天之后 90 天"))
        elif start < today - timedelta(days=365 * 5):
            violations.append(FieldViolation("start_date", "外出日期过早，请核实"))
    except ValueError:
        violations.append(FieldViolation("start_date", "日期格式应为 YYYY-MM-DD"))
    if not 1 <= expected_months <= MAX_EXPECTED_MONTHS:
        violations.append(FieldViolation("expected_months", f"预计外出时长须在 1 至 {MAX_EXPECTED_MONTHS} 个月之间"))
    phone: str | None = None
    if contact_phone.strip():
        try:
            phone = pii.validate_phone(contact_phone, field="contact_phone")
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if violations or start is None:
        raise InvalidArgument(violations)
    return Outflow(destination_code=dest, placing_tenant_id=placing, out_of_province=out, address=clean_address,
                   employer=clean_employer, industry=clean_industry, start_date=start,
                   expected_months=expected_months, contact_phone=phone)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (clamped to the month's end)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def certificate_serial(*, tenant: str, year: int, number: int) -> str:
    """The 活动证 serial: unique per county and year (e.g. 411525-2026-00017)."""
    return f"{tenant}-{year}-{number:05d}"


def certificate_validity(*, start: date, expected_months: int, policy: Policy) -> date:
    """A certificate serves at most the policy's months (6 months or less away is the rule; DOMAIN)."""
    return add_months(start, min(expected_months, policy.certificate_months)) - timedelta(days=1)


def introduction_letter(*, origin: str, member_name: str, id_number_masked: str, flow: Outflow, serial: str,
                        valid_until: date, issued: date) -> str:
    """The 流动党员证明信 addressed to the destination organisation."""
    where = name_of(flow.destination_code)
    addressee = f"{where}党组织" if not flow.out_of_province else f"{name_of(origin)}委驻{where}党组织"
    return (
        f"{addressee}：\n"
        f"兹有{member_name}同志（身份证号 {id_number_masked}），系中共{name_of(origin)}所属党员，"
        f"因外出务工经商前往{where}（{flow.address}），从事{flow.industry}"
        f"{'，工作单位' + flow.employer if flow.employer else ''}，预计外出 {flow.expected_months} 个月。"
        f"现介绍前往你处建立临时组织关系，请接洽并及时安排报到、参加组织生活。\n"
        f"流动党员活动证编号：{serial}，有效期至 {valid_until.isoformat()}。\n"
        f"中共{name_of(origin)}委员会组织部\n{issued.isoformat()}"
    )


# ------------------------------------------------------------------------------------------------ the saga


def accepts_answer(*, status: FlowStatus, attempt: int, answered_attempt: int) -> bool:
    """An answer of the destination counts only for the current attempt of an open flow."""
    return status in OPEN and answered_attempt == attempt


def ensure_answer_origin(*, placing_tenant_id: str, attempt: int, answered_by: str, answered_attempt: int) -> None:
    """An answer about a flow is the placing county's, about the current attempt; anything else is refused."""
    if answered_attempt < 1 or answered_attempt > attempt:
        raise ForgedEvent(f"来自 {answered_by} 的答复针对第 {answered_attempt} 次安置，该外出登记只有 {attempt} 次")
    if answered_attempt < attempt:
        # The earlier attempt's county is no longer asked; its late word must not undo the current placement.
        raise FailedPrecondition(f"来自 {answered_by} 的答复针对已被取代的第 {answered_attempt} 次安置"
                                 f"（当前第 {attempt} 次），不予采用")
    if answered_by != placing_tenant_id:
        raise ForgedEvent(f"答复来自 {answered_by}，但该外出登记第 {attempt} 次安置由 {placing_tenant_id} 负责")


def ensure_same_placement(*, offered_membership: str | None, offered_org: str | None, membership_id: str,
                          org_id: str) -> None:
    """A check-in names the temporary membership and organisation that were offered (when the offer came first)."""
    if offered_membership and membership_id != offered_membership:
        raise ForgedEvent("报到所指的临时组织关系与安置时提供的不一致")
    if offered_org and org_id != offered_org:
        raise ForgedEvent("报到所在的党组织与安置时提供的不一致")


def after_offer(status: FlowStatus) -> FlowStatus:
    """An offer moves a waiting flow on; a check-in that arrived first already went further."""
    return FlowStatus.OFFERED if status in (FlowStatus.REGISTERED, FlowStatus.REFUSED) else status


def after_refusal(status: FlowStatus) -> FlowStatus:
    """A refusal of the current attempt stops it, unless the member already checked in."""
    return status if status is FlowStatus.MANAGED else FlowStatus.REFUSED


def ensure_open(flow: Flow) -> None:
    """Closed flows change no more."""
    if not flow.is_open:
        raise FailedPrecondition(f"该流动已结束（{STATUS_LABEL[flow.status]}）")


# ------------------------------------------------------------------------------------------------ timers


@dataclass(frozen=True, slots=True)
class Due:
    """A timer that has run out for a flow: which, its escalation level and the date it fell due."""

    timer: str
    level: int
    due_date: date


def due_timers(flow: Flow, *, policy: Policy, today: date) -> list[Due]:
    """Every timer of an open flow that is due on ``today`` (firing is idempotent per (timer, level, date))."""
    if not flow.is_open:
        return []
    due: list[Due] = []
    if flow.status is not FlowStatus.MANAGED:
        first = flow.start_date + timedelta(days=policy.check_in_days)
        steps = (first, first + timedelta(days=policy.escalate_township_days),
                 first + timedelta(days=policy.escalate_township_days + policy.escalate_county_days))
        # village → township → county: each level fires once, when its date has come.
        due += [Due(Timer.CHECK_IN_OVERDUE, level, when) for level, when in enumerate(steps, start=1)
                if today >= when]
    if today > flow.certificate_valid_until:
        due.append(Due(Timer.CERTIFICATE_EXPIRED, 1, flow.certificate_valid_until + timedelta(days=1)))
    report_due = add_months(flow.last_report_date or flow.start_date, policy.report_back_months)
    if today >= report_due:
        due.append(Due(Timer.REPORT_BACK_DUE, 1, report_due))
    if flow.status is FlowStatus.MANAGED:
        transfer_due = add_months(flow.destination_since, policy.transfer_due_months)
        if today >= transfer_due:
            due.append(Due(Timer.TRANSFER_DUE, 1, transfer_due))
    return due


def placement_timed_out(flow: Flow, *, requested_at: datetime, policy: Policy, now: datetime) -> bool:
    """No answer from the placing county within the policy's hours: ask again (a new attempt)."""
    waited = now - requested_at
    return flow.status is FlowStatus.REGISTERED and waited >= timedelta(hours=policy.placement_timeout_hours)


# ------------------------------------------------------------------------------------------------ alerts


@dataclass(frozen=True, slots=True)
class Alert:
    """A fired policy timer."""

    flow_id: str
    member_id: str
    member_name: str
    timer: str
    level: int
    due_date: date
    fired_at: datetime


class AlertState(IntEnum):
    """Where a 预警 case stands (values match the proto enum)."""

    OPEN = 1
    ACKNOWLEDGED = 2
    CLOSED = 3


ACTIVE_ALERT_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
# What a case closed by the flow's own end (回归, 转出) says.
FLOW_ENDED_NOTE = "流动已结束（回归或转出），预警自动办结"
NOTE_MAX = 500
ALERT_TIMERS = (Timer.CHECK_IN_OVERDUE, Timer.CERTIFICATE_EXPIRED, Timer.REPORT_BACK_DUE, Timer.TRANSFER_DUE)


@dataclass(frozen=True, slots=True)
class AlertCase:
    """A 预警 case: one timer of one flow, its fired levels, and how an office handled it."""

    id: str
    flow_id: str
    member_id: str
    member_name: str
    timer: str
    level: int
    levels: tuple[tuple[int, datetime], ...]
    state: AlertState
    first_fired_at: datetime
    last_fired_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str
    closed_at: datetime | None
    closed_by: str
    note: str
    destination_code: str
    township_name: str
    version: int


def alert_note(value: str, *, required: bool) -> str:
    """A handling note: optional on acknowledging, required (处理结果) on closing, at most 500 characters."""
    clean = value.strip()
    if required and not clean:
        raise InvalidArgument.field("note", "请填写处理结果")
    if len(clean) > NOTE_MAX:
        raise InvalidArgument.field("note", f"不能超过 {NOTE_MAX} 个字符")
    return clean


def ensure_may_acknowledge(state: AlertState) -> None:
    """Only an open case is acknowledged; a closed one is re-opened by the timers alone."""
    if state is AlertState.ACKNOWLEDGED:
        raise FailedPrecondition("该预警已确认，无需重复确认")
    if state is AlertState.CLOSED:
        raise FailedPrecondition("该预警已办结")


def ensure_may_close(state: AlertState) -> None:
    """A case is closed once; a later escalation re-opens it."""
    if state is AlertState.CLOSED:
        raise FailedPrecondition("该预警已办结，不能重复办结")


def alert_filters(*, timer: str, level: int) -> tuple[str, int]:
    """The list's filters, checked: a known timer (or none) and a level 1–3 (or 0: any)."""
    name = timer.strip().upper()
    if name and name not in ALERT_TIMERS:
        raise InvalidArgument.field("timer", "预警类型无效")
    if level not in (0, 1, 2, 3):
        raise InvalidArgument.field("level", "预警级别应为 1、2 或 3")
    return name, level


# ------------------------------------------------------------------------------------------------ 回归工程


@dataclass(frozen=True, slots=True)
class ReturneeFacts:
    """What 回归工程 records of a returnee."""

    started_business: bool = False
    business_name: str = ""
    joined_reserve_pool: bool = False
    elected_village_committee: bool = False
    village_post: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Returnee:
    """A member who came home, with the 回归工程 facts."""

    member_id: str
    member_name: str
    flow_id: str
    destination_code: str
    return_date: date
    facts: ReturneeFacts
    township: str
    village: str


def validate_returnee_facts(facts: ReturneeFacts) -> ReturneeFacts:
    """The facts of a return, trimmed; all violations at once."""
    violations: list[FieldViolation] = []
    for field in ("business_name", "village_post"):
        if len(getattr(facts, field)) > TEXT_MAX:
            violations.append(FieldViolation(f"facts.{field}", f"不能超过 {TEXT_MAX} 个字符"))
    if facts.started_business and not facts.business_name.strip():
        violations.append(FieldViolation("facts.business_name", "返乡创业的须填写企业或项目名称"))
    if facts.elected_village_committee and not facts.village_post.strip():
        violations.append(FieldViolation("facts.village_post", "当选村“两委”的须填写职务"))
    if len(facts.note) > 500:
        violations.append(FieldViolation("facts.note", "不能超过 500 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return ReturneeFacts(started_business=facts.started_business, business_name=facts.business_name.strip(),
                         joined_reserve_pool=facts.joined_reserve_pool,
                         elected_village_committee=facts.elected_village_committee,
                         village_post=facts.village_post.strip(), note=facts.note.strip())
