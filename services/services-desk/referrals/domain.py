"""Referrals (转办) between counties: states, directions, the rules of referring and answering. No I/O."""

from __future__ import annotations

from enum import IntEnum

from jinqiao.kit.errors import FailedPrecondition, ForgedEvent, InvalidArgument
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant


class ReferralStatus(IntEnum):
    """Where a referral stands (values as in the proto)."""

    PENDING = 1
    ACCEPTED = 2
    DECLINED = 3
    WITHDRAWN = 4
    RESOLVED = 5


class Direction(IntEnum):
    """Which way a referral goes (values as in the proto)."""

    TO_HOME = 1
    TO_STATION = 2


STATUS_LABEL = {
    ReferralStatus.PENDING: "待答复", ReferralStatus.ACCEPTED: "已受理", ReferralStatus.DECLINED: "已退回",
    ReferralStatus.WITHDRAWN: "已撤回", ReferralStatus.RESOLVED: "已办结",
}
REASON_MIN = 2
REASON_MAX = 500
SUMMARY_MAX = 500
REQUEST_ID_MAX = 100
# The receiving county answers within 3 working days (7 working hours a day), or the referral is withdrawn.
RESPOND_WORKING_MINUTES = 3 * 420
# What the withdrawal event says.
TIMED_OUT = "TIMED_OUT"
# The name the origin's ticket shows while the county department serves it (no station named).
COUNTY_QUEUE_NAME = "县（区）党员服务中心"
NOT_FOUND = "未找到该转办"


def clean_reason(value: str, *, field: str = "reason") -> str:
    """A required free-text reason: whitespace collapsed, 2–500 characters."""
    clean = " ".join(value.split())
    if len(clean) < REASON_MIN:
        raise InvalidArgument.field(field, f"请填写理由（至少 {REASON_MIN} 个字）")
    if len(clean) > REASON_MAX:
        raise InvalidArgument.field(field, f"不能超过 {REASON_MAX} 个字符")
    return clean


def target_county(*, origin: str, to_tenant_id: str) -> str:
    """The receiving county: a county code, not the referring county itself."""
    value = to_tenant_id.strip()
    try:
        parse_tenant(value)
    except InvalidTenant:
        raise InvalidArgument.field("to_tenant_id", "请填写接收转办的县（区）代码（6 位）") from None
    if value == origin:
        raise InvalidArgument.field("to_tenant_id", "不能转办给本县（区）")
    return value


def direction_for(*, origin: str, to_tenant_id: str, member_home_tenant_id: str,
                  placing_tenant_id: str | None) -> Direction:
    """TO_HOME when the receiving county is the member's home county; TO_STATION when this county is the home county
    and the member is placed in the receiving county (``placing_tenant_id`` from the replica); anything else is
    refused."""
    if to_tenant_id == member_home_tenant_id:
        return Direction.TO_HOME
    if origin == member_home_tenant_id and placing_tenant_id == to_tenant_id:
        return Direction.TO_STATION
    raise InvalidArgument.field("to_tenant_id", "该党员不在该县（区）")


def summary_of(description: str) -> str:
    """What the receiving county is told of the request: the description, trimmed."""
    text = description.strip()
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def ensure_referable(*, ticket_open: bool, pending: bool) -> None:
    """Only an open ticket without an unanswered referral may be referred."""
    if not ticket_open:
        raise FailedPrecondition("工单已办结或关闭，不能转办")
    if pending:
        raise FailedPrecondition("该工单已有待对方答复的转办")


def ensure_answerable(status: ReferralStatus) -> None:
    """Only a pending referral may be accepted or declined."""
    if status is not ReferralStatus.PENDING:
        raise FailedPrecondition(f"该转办{STATUS_LABEL[status]}，不能再答复")


def ensure_answer_origin(*, to_tenant_id: str, attempt: int, answered_by: str, answered_attempt: int) -> None:
    """An answer must come from the county the referral was sent to, about the attempt it was sent as."""
    if answered_by != to_tenant_id:
        raise ForgedEvent(f"转办答复来自 {answered_by}，而该转办发往 {to_tenant_id}")
    if answered_attempt != attempt:
        raise ForgedEvent(f"答复所指的第 {answered_attempt} 次转办与本县记录的第 {attempt} 次不符")


def ensure_referral_origin(*, to_tenant_id: str, published_by: str) -> None:
    """A referral is sent by one county to another: never addressed to the county that published it."""
    if to_tenant_id == published_by:
        raise ForgedEvent(f"来自 {published_by} 的转办发给了其自身")


def ensure_withdrawal_origin(*, from_tenant_id: str, published_by: str) -> None:
    """Only the county that sent a referral may withdraw it."""
    if published_by != from_tenant_id:
        raise ForgedEvent(f"撤回来自 {published_by}，而该转办由 {from_tenant_id} 发出")


def accepts_answer(status: ReferralStatus) -> bool:
    """Whether an answer still applies: only to a pending referral (a late one after the withdrawal is ignored)."""
    return status is ReferralStatus.PENDING


def accepts_resolution(status: ReferralStatus) -> bool:
    """A resolution applies to an accepted referral, or a pending one whose acceptance it overtook."""
    return status in (ReferralStatus.ACCEPTED, ReferralStatus.PENDING)


def parse_statuses(values: list[int]) -> list[int]:
    """The status filter of a list; an unknown value names the field."""
    try:
        return [int(ReferralStatus(v)) for v in values]
    except ValueError:
        raise InvalidArgument.field("statuses", "转办状态无效") from None


def resolution_text(resolution: str) -> str:
    """The origin ticket's resolution when the county it was referred to resolved it."""
    return f"（转办办结）{resolution.strip()}"
