"""Queues' persistence model: a row of ``desk_duty`` (one person's duty in one queue) and its mapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

DESK_DUTY = "desk_duty"


@dataclass(frozen=True, slots=True)
class DutyRow:
    """One person on a queue's roster (on or off duty), with their open assigned tickets in the county."""

    queue: str
    user_name: str
    display_name: str
    on_duty: bool
    since: datetime
    last_assigned_at: datetime | None
    open_assigned: int = 0

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> DutyRow:
        """Map a ``desk_duty`` row (``open_assigned`` when the query counted it)."""
        keys = record.keys()
        return cls(queue=record["queue"], user_name=record["user_name"], display_name=record["display_name"],
                   on_duty=record["on_duty"], since=record["since"], last_assigned_at=record["last_assigned_at"],
                   open_assigned=int(record["open_assigned"]) if "open_assigned" in keys else 0)


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Open tickets of one queue: all, unassigned, warned (not breached), breached (or escalated)."""

    open: int = 0
    unassigned: int = 0
    warned: int = 0
    breached: int = 0
