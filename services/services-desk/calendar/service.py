"""Calendar use cases: a county's effective calendar, the province's entry of a year, the county's overrides."""

from __future__ import annotations

from jinqiao.desk.calendar.domain import WorkCalendar
from jinqiao.desk.deps import DeskDeps


async def calendar_for(*, deps: DeskDeps, tenant: str) -> WorkCalendar:
    """CONTRACT (issue 13): the county's working-day calendar (province data, package data and the county's
    overrides), cached in ``deps.calendars`` until the data changes. Opens its own units of work: call it before
    opening the caller's."""
    raise NotImplementedError
