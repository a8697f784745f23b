"""Queues: the round-robin choice among the staff on duty, and the rules of a duty entry. No I/O."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jinqiao.kit.errors import InvalidArgument

DISPLAY_NAME_MAX = 30
NOT_ON_ROSTER = "该工作人员不在本队列"
NOBODY_ON_DUTY = "该队列当前无人值班，请手动分派"


@dataclass(frozen=True, slots=True)
class DutyCandidate:
    """A staff member on duty in a queue, as round robin weighs them."""

    user: str
    last_assigned_at: datetime | None
    open_assigned: int


def turn_order(candidate: DutyCandidate) -> tuple[int, float, int, str]:
    """Sort key of round robin: never assigned first, then the oldest last assignment, then the lighter load, then
    the login name (so every caller sees the same order)."""
    last = candidate.last_assigned_at
    return (0 if last is None else 1, 0.0 if last is None else last.timestamp(), candidate.open_assigned,
            candidate.user)


def pick_round_robin(candidates: Iterable[DutyCandidate]) -> DutyCandidate | None:
    """Whose turn it is among the staff on duty; None when nobody is on duty."""
    return min(candidates, key=turn_order, default=None)


def clean_display_name(text: str, *, default: str) -> str:
    """How the caller is shown on a queue's roster: trimmed, no control characters, at most 30 characters;
    empty falls back to ``default`` (the login name)."""
    value = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    if len(value) > DISPLAY_NAME_MAX:
        raise InvalidArgument.field("display_name", f"显示名称不能超过 {DISPLAY_NAME_MAX} 个字")
    return value or default[:DISPLAY_NAME_MAX]
