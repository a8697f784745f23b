"""Temporary memberships (临时组织关系) at the placing county: states, rules, check-in codes. No framework imports."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from jinqiao.kit import authz, pii
from jinqiao.kit.authz import Permission
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant
from jinqiao.organizations.orgs.domain import Org, OrgKind, OrgStatus
from jinqiao.organizations.placement.domain import Rule

TITLE_MAX = 100
NOTE_MAX = 2000
REASON_MAX = 200
COMMENT_MAX = 500
FIRST_YEAR = 2000
CODE_PREFIX = "JQ1"
_SECRET = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Dates people write down (an activity's day, the assessment year) are China Standard Time dates.


class Status(IntEnum):
    """Where a membership stands (values match the proto enum)."""

    OFFERED = 1
    CHECKED_IN = 2
    REFUSED = 3
    CLOSED = 4


OPEN = frozenset({Status.OFFERED, Status.CHECKED_IN})
GRADES = {"EXCELLENT": "优秀", "COMPETENT": "合格", "BASICALLY_COMPETENT": "基本合格", "INCOMPETENT": "不合格"}
CLOSE_REASONS = frozenset({"RETURNED", "TRANSFERRED", "CANCELLED", "REDIRECTED"})
REDIRECTED = "REDIRECTED"
STAFF = "STAFF"
QR_CODE = "QR_CODE"
# The organisations whose QR code a member may scan: those that take mobile members in and the stations and
# centres that host them (a code covers the organisation and everything under it). A county or township code
# would let a member check in anywhere in it, so those have none.
CODE_KINDS = frozenset({
    OrgKind.TOWN_STATION, OrgKind.SERVICE_CENTER, OrgKind.TEMPORARY_BRANCH, OrgKind.EXTERNAL_GENERAL_BRANCH,
    OrgKind.EXTERNAL_BRANCH, OrgKind.ONLINE_BRANCH, OrgKind.ENTERPRISE_BRANCH, OrgKind.COMMUNITY_BRANCH,
    OrgKind.VILLAGE_BRANCH, OrgKind.INDUSTRY_BRANCH,
})


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the origin handed over for one placement attempt (already decrypted and masked)."""

    origin_tenant_id: str
    flow_id: str
    member_id: str
    attempt: int
    member_name: str
    id_number_masked: str
    phone: str
    gender: str
    industry: str
    employer: str
    address: str
    destination_code: str
    traceparent: str = ""


@dataclass(frozen=True, slots=True)
class Membership:
    """A temporary membership as the placing county holds it; the phone only masked."""

    id: str
    tenant_id: str
    origin_tenant_id: str
    flow_id: str
    member_id: str
    attempt: int
    member_name: str
    id_number_masked: str
    phone_masked: str
    gender: str
    industry: str
    employer: str
    address: str
    destination_code: str
    org_id: str | None
    org_name: str
    org_path: str | None
    rule: Rule | None
    reason: str
    advice: str
    status: Status
    refusal_reason: str
    offered_at: datetime
    check_in_at: datetime | None
    check_in_method: str
    close_reason: str
    version: int
    # The trace of the flow's first step (外出登记): every event about the membership continues it.
    traceparent: str = ""


@dataclass(frozen=True, slots=True)
class Closure:
    """What is already known to be closed for a flow in this county."""

    closed_reason: str
    closed_below_attempt: int


@dataclass(frozen=True, slots=True)
class NewActivity:
    """A validated activity of the 活动记事本."""

    occurred_on: date
    title: str
    note: str


@dataclass(frozen=True, slots=True)
class Assessment:
    """A validated yearly assessment (双向评议, the destination's part)."""

    year: int
    grade: str
    comment: str


@dataclass(frozen=True, slots=True)
class MembershipPage:
    """A page of memberships and the token of the next page ('' on the last)."""

    memberships: list[Membership]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class CheckInCode:
    """The text of an organisation's QR check-in code, and the organisation's name to print beside it."""

    code: str
    org_name: str


def ensure_may_handle(role: str) -> None:
    """County staff handle memberships inside their scope; analysts and members never see them here."""
    authz.require(role, Permission.MEMBERSHIPS_HANDLE, "当前角色无权查看或办理临时组织关系")


def should_open(*, attempt: int, latest_attempt: int | None, closure: Closure | None) -> bool:
    """Whether an arriving attempt may open a membership: not closed, not superseded, not already seen."""
    if closure is not None and (closure.closed_reason or attempt < closure.closed_below_attempt):
        return False
    return latest_attempt is None or attempt > latest_attempt


def masked_id(value: str) -> str:
    """The ID number as handed over, masked again if it ever arrives in clear (the destination never holds it)."""
    text = value.strip()
    return text if "*" in text or not text else pii.mask_id_number(text)


def check_in_transition(status: Status) -> bool:
    """True when an offered membership checks in; False when already checked in (nothing changes)."""
    if status is Status.OFFERED:
        return True
    if status is Status.CHECKED_IN:
        return False
    raise FailedPrecondition("该临时组织关系已被拒绝或已结束，不能报到")


def ensure_may_refuse(status: Status) -> None:
    """Only an offer not yet taken up may be refused."""
    if status is not Status.OFFERED:
        raise FailedPrecondition("只有待报到的临时组织关系可以拒绝接收")


def ensure_checked_in(status: Status) -> None:
    """Activities are recorded for members who have checked in and are still managed here."""
    if status is not Status.CHECKED_IN:
        raise FailedPrecondition("该流动党员尚未报到或临时组织关系已结束，不能记录活动")


def ensure_was_checked_in(membership: Membership) -> None:
    """An assessment needs a member who checked in here (it may come after the membership closed)."""
    if membership.check_in_at is None:
        raise FailedPrecondition("该流动党员未在本组织报到，不能评议")


def parse_statuses(values: list[int]) -> list[int]:
    """Status filters from the wire, each once, in order."""
    try:
        return sorted({int(Status(v)) for v in values})
    except ValueError:
        raise InvalidArgument.field("statuses", "状态无效（待报到、已报到、已拒绝、已结束）") from None


def clean_reason(value: str) -> str:
    """A refusal reason: required, white space collapsed, at most REASON_MAX characters."""
    reason = " ".join(value.split())
    if not reason:
        raise InvalidArgument.field("reason", "拒绝接收须说明原因")
    if len(reason) > REASON_MAX:
        raise InvalidArgument.field("reason", f"不能超过 {REASON_MAX} 个字符")
    return reason


def validate_activity(*, occurred_on: str, title: str, note: str, today: date) -> NewActivity:
    """All violations at once: an ISO date not in the future, a title, a short note."""
    violations: list[FieldViolation] = []
    day: date | None = None
    try:
        day = date.fromisoformat(occurred_on.strip())
    except ValueError:
        violations.append(FieldViolation("occurred_on", "须为 YYYY-MM-DD 格式的日期"))
    if day is not None and day > today:
        violations.append(FieldViolation("occurred_on", "不能晚于今天"))
    clean_title = " ".join(title.split())
    if not clean_title:
        violations.append(FieldViolation("title", "必填"))
    elif len(clean_title) > TITLE_MAX:
        violations.append(FieldViolation("title", f"不能超过 {TITLE_MAX} 个字符"))
    clean_note = note.strip()
    if len(clean_note) > NOTE_MAX:
        violations.append(FieldViolation("note", f"不能超过 {NOTE_MAX} 个字符"))
    if violations:
        raise InvalidArgument(violations)
    assert day is not None
    return NewActivity(occurred_on=day, title=clean_title, note=clean_note)


def validate_assessment(*, year: int, grade: str, comment: str, today: date) -> Assessment:
    """All violations at once: a year up to this one, one of the four grades, a short comment."""
    violations: list[FieldViolation] = []
    if not FIRST_YEAR <= year <= today.year:
        violations.append(FieldViolation("year", f"须在 {FIRST_YEAR} 年至今年之间"))
    clean_grade = grade.strip().upper()
    if clean_grade not in GRADES:
        violations.append(FieldViolation("grade", "须为 EXCELLENT（优秀）、COMPETENT（合格）、"
                                                  "BASICALLY_COMPETENT（基本合格）或 INCOMPETENT（不合格）"))
    clean_comment = comment.strip()
    if len(clean_comment) > COMMENT_MAX:
        violations.append(FieldViolation("comment", f"不能超过 {COMMENT_MAX} 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return Assessment(year=year, grade=clean_grade, comment=clean_comment)


def ensure_code_org(org: Org) -> None:
    """Only an active organisation that takes mobile members in (or hosts them) has a check-in code."""
    if org.status is OrgStatus.DISSOLVED:
        raise FailedPrecondition("该组织已撤销")
    if org.kind not in CODE_KINDS:
        raise FailedPrecondition("该组织不直接接收流动党员报到，请使用其下设党支部或工作站的报到码")


def make_code(*, tenant: str, org_id: str, secret: str) -> str:
    """``JQ1.<tenant>.<org_id>.<secret>``, the text of the QR code."""
    return f"{CODE_PREFIX}.{tenant}.{org_id}.{secret}"


def parse_code(code: str) -> tuple[str, str, str] | None:
    """(tenant, org id, secret) of a well-formed code, else None (the caller answers NOT_FOUND either way)."""
    parts = code.strip().split(".")
    if len(parts) != 4 or parts[0] != CODE_PREFIX or not _SECRET.fullmatch(parts[3]):
        return None
    try:
        return parse_tenant(parts[1]), str(uuid.UUID(parts[2])), parts[3]
    except (InvalidTenant, ValueError):
        return None
