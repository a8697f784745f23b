"""Tickets: states and the moves between them, who may do what, form and text rules. No I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import IntEnum


class TicketStatus(IntEnum):
    """新建 → 已受理 → 处理中 ⇄ 待补充材料 → 已办结 → 已回访 / 已关闭 (values as in the proto)."""

    NEW = 1
    ACCEPTED = 2
    IN_PROGRESS = 3
    AWAITING_INFO = 4
    RESOLVED = 5
    REVIEWED = 6
    CLOSED = 7


class Channel(IntEnum):
    """How the request came in (values as in the proto)."""

    MEMBER_APP = 1
    WALK_IN = 2
    HOME_COUNTY = 3
    GRID = 4
    REFERRAL = 5


class Priority(IntEnum):
    """Queue order (values as in the proto)."""

    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4


class CommentKind(IntEnum):
    """Who a comment is for (values as in the proto)."""

    NOTE = 1
    REPLY = 2
    MEMBER = 3


OPEN = frozenset({TicketStatus.NEW, TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS, TicketStatus.AWAITING_INFO})
STATUS_LABEL = {
    TicketStatus.NEW: "新建", TicketStatus.ACCEPTED: "已受理", TicketStatus.IN_PROGRESS: "处理中",
    TicketStatus.AWAITING_INFO: "待补充材料", TicketStatus.RESOLVED: "已办结", TicketStatus.REVIEWED: "已回访",
    TicketStatus.CLOSED: "已关闭",
}
# The queue key of the county department's own queue (a station's queue is keyed by its org id).
COUNTY_QUEUE = "county"

CLOSE_REASONS = {"WITHDRAWN": "撤回", "DUPLICATE": "重复", "UNREACHABLE": "无法联系", "OUT_OF_SCOPE": "不属于受理范围"}
# Reasons only the platform closes with (a referral accepted elsewhere).
SYSTEM_CLOSE_REASONS = frozenset({"REFERRED_AWAY", "WITHDRAWN"})
# History actions a member never sees: who works on it internally, escalations and SLA marks.
INTERNAL_ACTIONS = frozenset({"assigned", "escalated", "sla_warned", "sla_breached"})
RECEIVED_TIME_MAX_DAYS = 30


class Move(IntEnum):
    """The moves between states a person makes."""

    ACCEPT = 1
    START = 2
    REQUEST_INFO = 3
    RESUME = 4
    RESOLVE = 5
    CLOSE = 6
    RATE = 7
    REOPEN = 8


_FROM: dict[Move, frozenset[TicketStatus]] = {
    Move.ACCEPT: frozenset({TicketStatus.NEW}),
    Move.START: frozenset({TicketStatus.ACCEPTED}),
    Move.REQUEST_INFO: frozenset({TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS}),
    Move.RESUME: frozenset({TicketStatus.AWAITING_INFO}),
    Move.RESOLVE: frozenset({TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS}),
    Move.CLOSE: OPEN,
    Move.RATE: frozenset({TicketStatus.RESOLVED}),
    Move.REOPEN: frozenset({TicketStatus.RESOLVED, TicketStatus.REVIEWED}),
}
_TO: dict[Move, TicketStatus] = {
    Move.ACCEPT: TicketStatus.ACCEPTED, Move.START: TicketStatus.IN_PROGRESS,
    Move.REQUEST_INFO: TicketStatus.AWAITING_INFO, Move.RESUME: TicketStatus.IN_PROGRESS,
    Move.RESOLVE: TicketStatus.RESOLVED, Move.CLOSE: TicketStatus.CLOSED, Move.RATE: TicketStatus.REVIEWED,
    Move.REOPEN: TicketStatus.IN_PROGRESS,
}
_MOVE_LABEL = {Move.ACCEPT: "受理", Move.START: "开始办理", Move.REQUEST_INFO: "要求补充材料", Move.RESUME: "恢复办理",
               Move.RESOLVE: "办结", Move.CLOSE: "关闭", Move.RATE: "回访评价", Move.REOPEN: "重新打开"}


class WrongState(Exception):
    """A move the ticket's state does not allow; ``message`` says so in Chinese, naming the state."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def move(status: int, action: Move) -> TicketStatus:
    """The state after ``action`` from ``status``, or WrongState naming the state."""
    current = TicketStatus(status)
    if current not in _FROM[action]:
        raise WrongState(f"工单当前为“{STATUS_LABEL[current]}”状态，不能{_MOVE_LABEL[action]}")
    return _TO[action]


def text_problem(value: str, *, low: int, high: int, label: str) -> str | None:
    """What is wrong with a text of ``low``..``high`` characters (after trimming), or None."""
    length = len(value.strip())
    if length < low:
        return f"{label}：必填" if low == 1 else f"{label}：至少{low}个字"
    if length > high:
        return f"{label}：不能超过{high}个字"
    return None


def ticket_number(tenant: str, day: date, sequence: int) -> str:
    """工单号: the county, the Beijing date and the day's sequence, e.g. 411525-20261201-0007."""
    return f"{tenant}-{day:%Y%m%d}-{sequence:04d}"


def reopen_until(resolved_at: datetime, reopen_days: int) -> datetime | None:
    """Until when a resolved ticket may be reopened (None when its category allows no reopening)."""
    return resolved_at + timedelta(days=reopen_days) if reopen_days > 0 else None


def visible_to_member(action: str, comment_kind: int) -> bool:
    """Whether a history entry is shown to the member: never an internal note or an internal act."""
    return comment_kind != CommentKind.NOTE and action not in INTERNAL_ACTIONS
