"""Tickets: states and the moves between them, who may do what, form and text rules. No I/O."""

from __future__ import annotations

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
