"""SLA clocks of a ticket on the working-day calendar: due times, pauses, warnings and breaches. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from jinqiao.desk.calendar.domain import WORKING_DAY_MINUTES, WorkCalendar, working_days


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
    # Cycles of the resolution clock (a reopened ticket starts a new one); the sweep's marks carry it.
    reopened_count: int = 0


class SlaState(StrEnum):
    """How a clock stands (the wire's SlaState without its prefix)."""

    RUNNING = "RUNNING"
    WARNED = "WARNED"
    BREACHED = "BREACHED"
    PAUSED = "PAUSED"
    MET = "MET"
    MISSED = "MISSED"


class MarkKind(StrEnum):
    """What the sweep marks on a clock (``ticket_sla_marks.kind``)."""

    WARNED = "WARNED"
    BREACHED = "BREACHED"


# 法律援助: a decision (the first response) within 7 working days, a lawyer within 3 working days of it.
LEGAL_AID = SlaPolicy(first_response_minutes=working_days(7), assignment_minutes=working_days(3))
# 讨薪 green channel: answered the same working day it is filed on.
WAGES_GREEN_CHANNEL = SlaPolicy(same_day_first_response=True)


@dataclass(frozen=True, slots=True)
class ClockTimer:
    """One clock's state for ``Ticket.sla``."""

    clock: SlaClock
    state: SlaState
    due: datetime | None
    done: datetime | None


@dataclass(frozen=True, slots=True)
class SlaMark:
    """A warning or breach the sweep records (once per clock, kind and cycle)."""

    clock: SlaClock
    kind: MarkKind
    cycle: int
    due: datetime


_COLUMNS = ("first_response_due", "first_response_at", "assignment_due", "assigned_at", "update_due",
            "last_update_at", "resolution_due", "resolved_at", "paused_at", "paused_minutes")


def _span(sla: TicketSla, clock: SlaClock) -> int:
    """A clock's working span in minutes (the warning falls at warn_percent of it)."""
    p = sla.policy
    if clock is SlaClock.FIRST_RESPONSE:
        return WORKING_DAY_MINUTES if p.same_day_first_response else p.first_response_minutes
    if clock is SlaClock.ASSIGNMENT:
        return p.assignment_minutes
    if clock is SlaClock.UPDATE:
        return p.update_minutes
    return p.resolution_minutes


def _due(sla: TicketSla, clock: SlaClock) -> datetime | None:
    # An if-chain, not a dict: the sweep calls this hundreds of thousands of times.
    if clock is SlaClock.FIRST_RESPONSE:
        return sla.first_response_due
    if clock is SlaClock.RESOLUTION:
        return sla.resolution_due
    if clock is SlaClock.UPDATE:
        return sla.update_due
    return sla.assignment_due


def _done(sla: TicketSla, clock: SlaClock) -> datetime | None:
    if clock is SlaClock.FIRST_RESPONSE:
        return sla.first_response_at
    if clock is SlaClock.ASSIGNMENT:
        return sla.assigned_at
    # The update clock waits for the next reply; resolving the ticket answers it too.
    return sla.resolved_at


def _cycle(sla: TicketSla, clock: SlaClock) -> int:
    """Which cycle of the clock is running: the update clock's starts at each reply (its minute since the epoch
    identifies it), the resolution clock's at each reopening."""
    if clock is SlaClock.UPDATE:
        start = sla.last_update_at or sla.first_response_at or sla.opened_at
        return int(start.timestamp() // 60)
    if clock is SlaClock.RESOLUTION:
        return sla.reopened_count
    return 0


def pending_clocks(sla: TicketSla) -> list[SlaClock]:
    """The clocks still running (none while paused, resolved or closed)."""
    if sla.closed or sla.resolved_at is not None or sla.paused_at is not None:
        return []
    return [c for c in SlaClock if _due(sla, c) is not None and (c is SlaClock.UPDATE or c is SlaClock.RESOLUTION
                                                                  or _done(sla, c) is None)]


def warn_at(sla: TicketSla, clock: SlaClock, calendar: WorkCalendar) -> datetime | None:
    """When a clock warns: at warn_percent of its working span (None without a warning)."""
    due = _due(sla, clock)
    pct = sla.policy.warn_percent
    if due is None or not 0 < pct < 100:
        return None
    return calendar.subtract_working_minutes(due, _span(sla, clock) * (100 - pct) // 100)


def next_check(sla: TicketSla, calendar: WorkCalendar, *, after: datetime | None = None) -> datetime | None:
    """The earliest warn-or-due instant of a pending clock (after ``after`` if given; else the earliest not yet
    passed over by a sweep may lie in the past, and the next sweep looks at it); None while paused or done."""
    points: list[datetime] = []
    for clock in pending_clocks(sla):
        due = _due(sla, clock)
        assert due is not None
        for point in (warn_at(sla, clock, calendar), due):
            if point is not None and (after is None or point > after):
                points.append(point)
    return min(points) if points else None


def due_marks(sla: TicketSla, calendar: WorkCalendar, now: datetime) -> list[SlaMark]:
    """The warnings and breaches of pending clocks reached by ``now`` (the sweep inserts them once)."""
    marks: list[SlaMark] = []
    for clock in pending_clocks(sla):
        due = _due(sla, clock)
        assert due is not None
        warn = warn_at(sla, clock, calendar)
        if due <= now:
            marks.append(SlaMark(clock, MarkKind.BREACHED, _cycle(sla, clock), due))
        elif warn is not None and warn <= now:
            marks.append(SlaMark(clock, MarkKind.WARNED, _cycle(sla, clock), due))
    return marks


def sweep_step(sla: TicketSla, calendar: WorkCalendar, now: datetime) -> tuple[list[SlaMark], datetime | None]:
    """``due_marks`` and ``next_check(after=now)`` in one pass (each warning instant computed once)."""
    marks: list[SlaMark] = []
    points: list[datetime] = []
    for clock in pending_clocks(sla):
        due = _due(sla, clock)
        assert due is not None
        warn = warn_at(sla, clock, calendar)
        if due <= now:
            marks.append(SlaMark(clock, MarkKind.BREACHED, _cycle(sla, clock), due))
        else:
            points.append(due)
            if warn is not None and warn <= now:
                marks.append(SlaMark(clock, MarkKind.WARNED, _cycle(sla, clock), due))
            elif warn is not None:
                points.append(warn)
    return marks, (min(points) if points else None)


def _columns(sla: TicketSla) -> dict[str, Any]:
    return {name: getattr(sla, name) for name in _COLUMNS}


def open_clocks(*, policy: SlaPolicy, calendar: WorkCalendar, at: datetime) -> dict[str, Any]:
    """CONTRACT (issue 13): the SLA columns of a ticket filed at ``at`` (``sla_policy`` included, as JSON), with
    ``next_sla_check``; the tickets service writes them as they are."""
    at = at.astimezone(UTC)
    if policy.same_day_first_response:
        first = calendar.end_of_working_day(at)
    elif policy.first_response_minutes > 0:
        first = calendar.add_working_minutes(at, policy.first_response_minutes)
    else:
        first = None
    resolution = calendar.add_working_minutes(at, policy.resolution_minutes) if policy.resolution_minutes else None
    sla = TicketSla(policy=policy, opened_at=at, first_response_due=first, resolution_due=resolution)
    return {"sla_policy": policy.to_json(), **_columns(sla), "next_sla_check": next_check(sla, calendar, after=at)}


def clock_changes(*, sla: TicketSla, event: SlaEvent, calendar: WorkCalendar, at: datetime) -> dict[str, Any]:
    """CONTRACT (issue 13): the SLA columns to change when ``event`` happens at ``at`` (with ``next_sla_check``):
    e.g. ACCEPTED sets first_response_at and starts the assignment and update clocks; PAUSED sets paused_at;
    RESUMED shifts every pending due time by the working minutes paused and clears paused_at."""
    at = at.astimezone(UTC)
    p = sla.policy
    new = sla
    if event is SlaEvent.ACCEPTED and sla.first_response_at is None:
        new = replace(sla, first_response_at=at,
                      assignment_due=calendar.add_working_minutes(at, p.assignment_minutes)
                      if p.assignment_minutes and sla.assigned_at is None else sla.assignment_due,
                      update_due=calendar.add_working_minutes(at, p.update_minutes) if p.update_minutes else None)
    elif event is SlaEvent.ASSIGNED and sla.assigned_at is None:
        new = replace(sla, assigned_at=at)
    elif event is SlaEvent.UPDATED:
        new = replace(sla, last_update_at=at,
                      update_due=calendar.add_working_minutes(at, p.update_minutes)
                      if p.update_minutes and sla.first_response_at is not None else sla.update_due)
    elif event is SlaEvent.PAUSED and sla.paused_at is None:
        new = replace(sla, paused_at=at)
    elif event is SlaEvent.RESUMED and sla.paused_at is not None:
        paused = calendar.working_minutes_between(sla.paused_at, at)
        shifted: dict[str, Any] = {}
        for clock, name in ((SlaClock.FIRST_RESPONSE, "first_response_due"), (SlaClock.ASSIGNMENT, "assignment_due"),
                            (SlaClock.UPDATE, "update_due"), (SlaClock.RESOLUTION, "resolution_due")):
            due = _due(sla, clock)
            waiting = clock in (SlaClock.UPDATE, SlaClock.RESOLUTION) or _done(sla, clock) is None
            if due is not None and waiting and paused:
                shifted[name] = calendar.add_working_minutes(due, paused)
        new = replace(sla, paused_at=None, paused_minutes=sla.paused_minutes + paused, **shifted)
    elif event is SlaEvent.RESOLVED:
        new = replace(sla, resolved_at=at, paused_at=None)
    elif event is SlaEvent.REOPENED:
        new = replace(sla, resolved_at=None, paused_at=None, reopened_count=sla.reopened_count + 1,
                      resolution_due=calendar.add_working_minutes(at, p.resolution_minutes)
                      if p.resolution_minutes else None,
                      last_update_at=at if p.update_minutes else sla.last_update_at,
                      update_due=calendar.add_working_minutes(at, p.update_minutes) if p.update_minutes else None)
    elif event is SlaEvent.CLOSED:
        new = replace(sla, closed=True, paused_at=None)
    before, after = _columns(sla), _columns(new)
    changes = {k: v for k, v in after.items() if before[k] != v}
    changes["next_sla_check"] = next_check(new, calendar)
    return changes


def timers(sla: TicketSla, now: datetime, *, calendar: WorkCalendar | None = None) -> list[ClockTimer]:
    """Each clock's state, due and done instants for ``Ticket.sla`` (WARNED needs the calendar)."""
    out: list[ClockTimer] = []
    for clock in SlaClock:
        due = _due(sla, clock)
        if due is None:
            continue
        done = _done(sla, clock)
        if done is not None:
            state = SlaState.MET if done <= due else SlaState.MISSED
        elif sla.closed:
            state = SlaState.MET if sla.resolved_at is None and now <= due else SlaState.MISSED
        elif sla.paused_at is not None:
            state = SlaState.PAUSED
        elif now >= due:
            state = SlaState.BREACHED
        else:
            warn = warn_at(sla, clock, calendar) if calendar is not None else None
            state = SlaState.WARNED if warn is not None and now >= warn else SlaState.RUNNING
        out.append(ClockTimer(clock, state, due, done))
    return out


def met(sla: TicketSla) -> tuple[bool, bool]:
    """(first response met, resolution met) for TicketResolved; a clock the policy lacks counts as met."""
    first = sla.first_response_due is None or (
        sla.first_response_at is not None and sla.first_response_at <= sla.first_response_due)
    resolved = sla.resolution_due is None or (sla.resolved_at is not None and sla.resolved_at <= sla.resolution_due)
    return first, resolved


def working_minutes_open(sla: TicketSla, calendar: WorkCalendar, at: datetime) -> int:
    """Working minutes the ticket has been open (until resolved, or ``at``), pauses left out."""
    end = sla.resolved_at or at
    paused = sla.paused_minutes
    if sla.paused_at is not None and sla.resolved_at is None:
        paused += calendar.working_minutes_between(sla.paused_at, at)
    return max(0, calendar.working_minutes_between(sla.opened_at, end) - paused)
