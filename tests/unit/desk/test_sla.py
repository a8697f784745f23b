"""SLA clocks: due times on the working-day calendar, pauses (待补充材料), warnings, breaches, reopening."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from jinqiao.desk.calendar.domain import BEIJING, WorkCalendar, package_year, rules_year, working_days
from jinqiao.desk.sla.domain import (
    LEGAL_AID,
    WAGES_GREEN_CHANNEL,
    MarkKind,
    SlaClock,
    SlaEvent,
    SlaPolicy,
    SlaState,
    TicketSla,
    clock_changes,
    due_marks,
    met,
    open_clocks,
    timers,
    working_minutes_open,
)


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Beijing instant."""
    return datetime(y, m, d, hh, mm, tzinfo=BEIJING)


def calendar() -> WorkCalendar:
    """2026 from the package, 2027 by rule."""
    p = package_year(2026)
    assert p is not None
    return WorkCalendar.from_years([p, rules_year(2027)])


POLICY = SlaPolicy(first_response_minutes=working_days(1), update_minutes=working_days(2),
                   resolution_minutes=working_days(5), warn_percent=75)


def sla_of(policy: SlaPolicy, cols: dict[str, Any], opened: datetime) -> TicketSla:
    """A TicketSla from the columns the functions return."""
    keys = set(TicketSla.__dataclass_fields__) - {"policy", "opened_at", "closed", "reopened_count"}
    return TicketSla(policy=policy, opened_at=opened, **{k: v for k, v in cols.items() if k in keys})


def apply(sla: TicketSla, changes: dict[str, Any]) -> TicketSla:
    """Apply clock_changes' columns."""
    keys = set(TicketSla.__dataclass_fields__)
    return replace(sla, **{k: v for k, v in changes.items() if k in keys})


def test_ticket_filed_before_national_day_is_due_after_it() -> None:
    cal = calendar()
    opened = bj(2026, 9, 30, 15, 0)
    cols = open_clocks(policy=POLICY, calendar=cal, at=opened)
    assert cols["first_response_due"] == bj(2026, 10, 8, 15, 0)
    assert cols["resolution_due"] > bj(2026, 10, 8)
    assert cols["sla_policy"]["resolution_minutes"] == working_days(5)
    # Warn at 75 % of a working day: 105 working minutes before the due time.
    assert cols["next_sla_check"] == bj(2026, 10, 8, 11, 45)


def test_pause_stops_the_clocks_and_resume_shifts_the_due() -> None:
    cal = calendar()
    opened = bj(2026, 11, 2, 9, 0)  # Monday
    sla = sla_of(POLICY, open_clocks(policy=POLICY, calendar=cal, at=opened), opened)
    paused = apply(sla, clock_changes(sla=sla, event=SlaEvent.PAUSED, calendar=cal, at=bj(2026, 11, 2, 10, 0)))
    assert paused.paused_at is not None
    assert clock_changes(sla=sla, event=SlaEvent.PAUSED, calendar=cal, at=bj(2026, 11, 2, 10, 0))[
        "next_sla_check"] is None
    assert [t.state for t in timers(paused, bj(2026, 11, 3, 12, 0))] == [SlaState.PAUSED, SlaState.PAUSED]
    assert due_marks(paused, cal, bj(2026, 11, 20)) == []
    # Resumed the next day at 10:00: 420 working minutes paused.
    changes = clock_changes(sla=paused, event=SlaEvent.RESUMED, calendar=cal, at=bj(2026, 11, 3, 10, 0))
    resumed = apply(paused, changes)
    assert resumed.paused_at is None and resumed.paused_minutes == 420
    assert resumed.first_response_due == bj(2026, 11, 3, 17, 30)
    assert resumed.resolution_due == cal.add_working_minutes(sla.resolution_due or opened, 420)
    assert working_minutes_open(resumed, cal, bj(2026, 11, 3, 11, 0)) == 60 + 60


def test_same_day_first_response_for_wages() -> None:
    cal = calendar()
    cols = open_clocks(policy=WAGES_GREEN_CHANNEL, calendar=cal, at=bj(2026, 11, 6, 10, 0))
    assert cols["first_response_due"] == bj(2026, 11, 6, 17, 30)
    after_hours = open_clocks(policy=WAGES_GREEN_CHANNEL, calendar=cal, at=bj(2026, 11, 6, 19, 0))  # Friday night
    assert after_hours["first_response_due"] == bj(2026, 11, 9, 17, 30)


def test_legal_aid_assignment_starts_at_decision() -> None:
    cal = calendar()
    opened = bj(2026, 11, 2, 9, 0)
    sla = sla_of(LEGAL_AID, open_clocks(policy=LEGAL_AID, calendar=cal, at=opened), opened)
    assert sla.first_response_due == bj(2026, 11, 10, 17, 30)
    accepted = apply(sla, clock_changes(sla=sla, event=SlaEvent.ACCEPTED, calendar=cal, at=bj(2026, 11, 4, 9, 0)))
    assert accepted.assignment_due == bj(2026, 11, 6, 17, 30)
    assigned = apply(accepted, clock_changes(sla=accepted, event=SlaEvent.ASSIGNED, calendar=cal,
                                             at=bj(2026, 11, 5, 9, 0)))
    states = {t.clock: t.state for t in timers(assigned, bj(2026, 11, 5, 10, 0))}
    assert states == {SlaClock.FIRST_RESPONSE: SlaState.MET, SlaClock.ASSIGNMENT: SlaState.MET}


def test_warn_then_breach_marks_and_update_cycles() -> None:
    cal = calendar()
    opened = bj(2026, 11, 2, 9, 0)
    sla = sla_of(POLICY, open_clocks(policy=POLICY, calendar=cal, at=opened), opened)
    marks = due_marks(sla, cal, bj(2026, 11, 2, 16, 0))
    assert [(m.clock, m.kind) for m in marks] == [(SlaClock.FIRST_RESPONSE, MarkKind.WARNED)]
    marks = due_marks(sla, cal, bj(2026, 11, 3, 9, 30))
    assert [(m.clock, m.kind) for m in marks] == [(SlaClock.FIRST_RESPONSE, MarkKind.BREACHED)]
    accepted = apply(sla, clock_changes(sla=sla, event=SlaEvent.ACCEPTED, calendar=cal, at=bj(2026, 11, 3, 10, 0)))
    assert timers(accepted, bj(2026, 11, 3, 11, 0))[0].state is SlaState.MISSED
    updated = apply(accepted, clock_changes(sla=accepted, event=SlaEvent.UPDATED, calendar=cal,
                                            at=bj(2026, 11, 4, 10, 0)))
    assert updated.update_due == bj(2026, 11, 6, 10, 0)
    late = bj(2026, 11, 20)
    cycles = {m.cycle for m in due_marks(accepted, cal, late) if m.clock is SlaClock.UPDATE}
    cycles2 = {m.cycle for m in due_marks(updated, cal, late) if m.clock is SlaClock.UPDATE}
    assert cycles and cycles2 and cycles != cycles2


def test_resolved_stops_everything_and_reopen_starts_new_resolution() -> None:
    cal = calendar()
    opened = bj(2026, 11, 2, 9, 0)
    sla = sla_of(POLICY, open_clocks(policy=POLICY, calendar=cal, at=opened), opened)
    changes = clock_changes(sla=sla, event=SlaEvent.RESOLVED, calendar=cal, at=bj(2026, 11, 2, 11, 0))
    assert changes["next_sla_check"] is None
    resolved = apply(sla, changes)
    assert met(resolved) == (False, True)
    reopened_at = bj(2026, 11, 16, 9, 0)
    reopened = apply(resolved, clock_changes(sla=resolved, event=SlaEvent.REOPENED, calendar=cal, at=reopened_at))
    assert reopened.resolved_at is None
    assert reopened.resolution_due == cal.add_working_minutes(reopened_at, working_days(5))
    closed = clock_changes(sla=reopened, event=SlaEvent.CLOSED, calendar=cal, at=reopened_at + timedelta(hours=1))
    assert closed["next_sla_check"] is None


def test_sweep_step_agrees_with_marks_and_next_check() -> None:
    from jinqiao.desk.sla.domain import next_check, sweep_step

    cal = calendar()
    opened = bj(2026, 11, 2, 9, 0)
    sla = sla_of(POLICY, open_clocks(policy=POLICY, calendar=cal, at=opened), opened)
    for now in (bj(2026, 11, 2, 10, 0), bj(2026, 11, 2, 16, 0), bj(2026, 11, 3, 9, 30), bj(2026, 11, 20)):
        marks, check = sweep_step(sla, cal, now)
        assert marks == due_marks(sla, cal, now)
        assert check == next_check(sla, cal, after=now)


def test_a_clock_past_its_warning_point_reads_warned_only_with_the_calendar() -> None:
    cal = calendar()
    opened = bj(2026, 12, 1, 9, 0)
    sla = sla_of(POLICY, open_clocks(policy=POLICY, calendar=cal, at=opened), opened)
    # 6 of the first response's 7 working hours gone: past 75 %, before the due.
    now = bj(2026, 12, 1, 16, 30)
    first = {t.clock: t.state for t in timers(sla, now, calendar=cal)}[SlaClock.FIRST_RESPONSE]
    assert first is SlaState.WARNED
    assert {t.clock: t.state for t in timers(sla, bj(2026, 12, 1, 10, 0), calendar=cal)}[
        SlaClock.FIRST_RESPONSE] is SlaState.RUNNING
