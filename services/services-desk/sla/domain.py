"""SLA clocks of a ticket on the working-day calendar: due times, pauses, warnings and breaches. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from jinqiao.desk.calendar.domain import WorkCalendar


class SlaClock(StrEnum):
    """A ticket's clocks (the names events and ``ticket_sla_marks`` carry)."""

    FIRST_RESPONSE = "FIRST_RESPONSE"
    ASSIGNMENT = "ASSIGNMENT"
    UPDATE = "UPDATE"
    RESOLUTION = "RESOLUTION"


class SlaEvent(StrEnum):
    """What happened to a ticket, as its clocks see it."""

    ACCEPTED = "ACCEPTED"  # the first response
    ASSIGNED = "ASSIGNED"
    UPDATED = "UPDATED"  # a reply to the member (restarts the update clock)
    PAUSED = "PAUSED"  # 待补充材料
    RESUMED = "RESUMED"
    RESOLVED = "RESOLVED"
    REOPENED = "REOPENED"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """A category's service levels in working minutes (0: no such clock). CONTRACT (issue 13)."""

    first_response_minutes: int = 0
    assignment_minutes: int = 0
    update_minutes: int = 0
    resolution_minutes: int = 0
    same_day_first_response: bool = False
    warn_percent: int = 75

    def to_json(self) -> dict[str, Any]:
        """The form ``tickets.sla_policy`` and ``ticket_categories.sla`` keep."""
        return {"first_response_minutes": self.first_response_minutes, "assignment_minutes": self.assignment_minutes,
                "update_minutes": self.update_minutes, "resolution_minutes": self.resolution_minutes,
                "same_day_first_response": self.same_day_first_response, "warn_percent": self.warn_percent}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SlaPolicy:
        """Read the stored form (missing keys take the defaults)."""
        return cls(**{k: value[k] for k in cls.__dataclass_fields__ if k in value})


@dataclass(frozen=True, slots=True)
class TicketSla:
    """A ticket's SLA columns (``tickets``) as the clocks need them. CONTRACT (issue 13)."""

    policy: SlaPolicy
    opened_at: datetime
    first_response_due: datetime | None = None
    first_response_at: datetime | None = None
    assignment_due: datetime | None = None
    assigned_at: datetime | None = None
    update_due: datetime | None = None
    last_update_at: datetime | None = None
    resolution_due: datetime | None = None
    resolved_at: datetime | None = None
    paused_at: datetime | None = None
    paused_minutes: int = 0
    closed: bool = False


def open_clocks(*, policy: SlaPolicy, calendar: WorkCalendar, at: datetime) -> dict[str, Any]:
    """CONTRACT (issue 13): the SLA columns of a ticket filed at ``at`` (``sla_policy`` included, as JSON), with
    ``next_sla_check``; the tickets service writes them as they are."""
    raise NotImplementedError


def clock_changes(*, sla: TicketSla, event: SlaEvent, calendar: WorkCalendar, at: datetime) -> dict[str, Any]:
    """CONTRACT (issue 13): the SLA columns to change when ``event`` happens at ``at`` (with ``next_sla_check``):
    e.g. ACCEPTED sets first_response_at and starts the assignment and update clocks; PAUSED sets paused_at;
    RESUMED shifts every pending due time by the working minutes paused and clears paused_at."""
    raise NotImplementedError
