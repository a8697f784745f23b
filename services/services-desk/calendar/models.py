"""Calendar's persistence model: rows of ``work_calendar_years`` and ``work_calendar_days`` as domain values."""

from __future__ import annotations

import asyncpg

from jinqiao.desk.calendar.domain import CalendarDay

YEARS = "work_calendar_years"
DAYS = "work_calendar_days"


def day_from_record(record: asyncpg.Record) -> CalendarDay:
    """Map a ``work_calendar_days`` row."""
    return CalendarDay(day=record["day"], working=record["working"], name=record["name"])
