"""Calendar use cases: a county's effective calendar, the province's entry of a year, the county's overrides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from jinqiao.desk.calendar import repo
from jinqiao.desk.calendar.domain import (
    CalendarDay,
    CalendarSource,
    WorkCalendar,
    YearArrangement,
    merge_year,
    package_year,
    rules_year,
    validate_days,
)
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.kit.auth import Principal
from jinqiao.kit.clock import china_date
from jinqiao.kit.errors import NotFound, PermissionDenied
from jinqiao.kit.usecases import record_act

# A calendar is kept this long; a change made through this process drops it at once.
CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class YearStatus:
    """How a year stands for ListCalendarYears."""

    year: int
    source: CalendarSource
    missing: bool
    notice: str


def _span(deps: DeskDeps) -> tuple[int, int]:
    """The years a calendar holds: last year to the year after next (a 7-working-day clock in December reaches
    into the next year)."""
    this = china_date(deps.clock()).year
    return this - 1, this + 2


def province_of(code: str) -> str:
    """The province's code of a county or city (its first two digits)."""
    return code[:2]


async def _province_years(deps: DeskDeps, *, province: str, first: int, last: int) -> list[YearArrangement]:
    """Each year from the province's entry, else the package, else the statutory rules."""
    async with deps.db.unit_of_work_in_scope(scope=province) as uow:
        entered = await repo.entered_years(uow, first=first, last=last)
        entered_days = await repo.days(uow, first=first, last=last)
    out: list[YearArrangement] = []
    for year in range(first, last + 1):
        if year in entered:
            days = tuple(d for d in entered_days if d.day.year == year)
            out.append(YearArrangement(year, CalendarSource.PROVINCE, days, entered[year]))
        else:
            out.append(package_year(year) or rules_year(year))
    return out


async def _county_years(deps: DeskDeps, *, tenant: str, first: int, last: int) -> list[YearArrangement]:
    """The province's years with the county's own days on top."""
    base = await _province_years(deps, province=province_of(tenant), first=first, last=last)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        own = await repo.days(uow, first=first, last=last)
    return [merge_year(y, [d for d in own if d.day.year == y.year]) for y in base]


async def calendar_for(*, deps: DeskDeps, tenant: str) -> WorkCalendar:
    """CONTRACT (issue 13): the county's working-day calendar (province data, package data and the county's
    overrides), cached in ``deps.calendars`` until the data changes. Opens its own units of work: call it before
    opening the caller's."""
    first, last = _span(deps)
    kept = deps.calendars.get(tenant)
    if kept is not None and kept[2] == first:
        calendar: WorkCalendar = kept[1]
        if kept[0] <= time.monotonic():
            # Stale: served as it is while one refresh runs behind, so a burst of use cases that already hold a
            # connection never waits for a second one (the pool could be all theirs).
            _refresh_behind(deps, tenant=tenant, first=first, last=last)
        return calendar
    return await _load(deps, tenant=tenant, first=first, last=last)


def cached_calendar(*, deps: DeskDeps, tenant: str) -> WorkCalendar | None:
    """The county's calendar if this process holds one (fresh or stale), without reading the database."""
    kept = deps.calendars.get(tenant)
    found: WorkCalendar | None = None if kept is None else kept[1]
    return found


async def _load(deps: DeskDeps, *, tenant: str, first: int, last: int) -> WorkCalendar:
    """Read the county's years (one load at a time per county) and keep them."""
    lock = deps.calendars.setdefault(("lock", tenant), asyncio.Lock())
    async with lock:
        kept = deps.calendars.get(tenant)
        if kept is not None and kept[0] > time.monotonic() and kept[2] == first:
            loaded: WorkCalendar = kept[1]
            return loaded
        calendar = WorkCalendar.from_years(await _county_years(deps, tenant=tenant, first=first, last=last))
        deps.calendars[tenant] = (time.monotonic() + CACHE_SECONDS, calendar, first)
        return calendar


def _refresh_behind(deps: DeskDeps, *, tenant: str, first: int, last: int) -> None:
    """Start one background refresh of a county's stale calendar (a failed one leaves the stale copy)."""
    key = ("refresh", tenant)
    if key in deps.calendars:
        return
    task = asyncio.create_task(_load(deps, tenant=tenant, first=first, last=last))
    deps.calendars[key] = task
    task.add_done_callback(lambda done: (deps.calendars.pop(key, None),
                                         done.cancelled() or done.exception()))


async def province_calendar(*, deps: DeskDeps, province: str) -> WorkCalendar:
    """The province's calendar (no county's overrides)."""
    first, last = _span(deps)
    return WorkCalendar.from_years(await _province_years(deps, province=province, first=first, last=last))


def _year_of(calendar: WorkCalendar, year: int) -> YearArrangement:
    found = calendar.years.get(year)
    if found is None:
        raise NotFound("未找到该年度的工作日历")
    return found


async def _caller_calendar(deps: DeskDeps, principal: Principal) -> WorkCalendar:
    """A county caller's county calendar; a province or city analyst's province calendar."""
    if principal.tenant is not None:
        return await calendar_for(deps=deps, tenant=principal.tenant)
    return await province_calendar(deps=deps, province=province_of(principal.scope))


async def get_work_calendar(*, deps: DeskDeps, principal: Principal, year: int) -> YearArrangement:
    """A year of the caller's calendar (county, or the province for its analysts); a year outside the kept span
    is built on demand (2004–2100)."""
    first, last = _span(deps)
    if first <= year <= last:
        return _year_of(await _caller_calendar(deps, principal), year)
    if not 2004 <= year <= 2100:
        raise NotFound("未找到该年度的工作日历")
    if principal.tenant is not None:
        return (await _county_years(deps, tenant=principal.tenant, first=year, last=year))[0]
    return (await _province_years(deps, province=province_of(principal.scope), first=year, last=year))[0]


async def list_calendar_years(*, deps: DeskDeps, principal: Principal) -> list[YearStatus]:
    """The years the calendar holds; a needed year (this one or the next) known by rule only is missing."""
    calendar = await _caller_calendar(deps, principal)
    this = china_date(deps.clock()).year
    return [YearStatus(y.year, y.source, y.source is CalendarSource.RULES_ONLY and y.year in (this, this + 1),
                       y.notice) for y in sorted(calendar.years.values(), key=lambda a: a.year)]


def _forget(deps: DeskDeps, prefix: str) -> None:
    """Drop kept calendars of a county or of every county of a province."""
    for key in [k for k in deps.calendars if isinstance(k, str) and k.startswith(prefix)]:
        deps.calendars.pop(key, None)


async def set_province_calendar(*, deps: DeskDeps, principal: Principal, year: int,
                                days: Sequence[tuple[str, bool, str]], notice: str) -> YearArrangement:
    """Enter a year's arrangement from the State Council's notice (a province analyst only); replaces the year."""
    if principal.tenant is not None or len(principal.scope) != 2:
        raise PermissionDenied("只有省级可以录入全省工作日历")
    parsed = validate_days(year=year, days=days, notice=notice.strip() if notice is not None else "")
    province = principal.scope
    async with deps.db.unit_of_work_in_scope(scope=province) as uow:
        await repo.replace_year(uow, year=year, days=parsed, notice=notice.strip(), entered_by=principal.user)
        await record_act(uow, principal, service=SERVICE, action="calendar.set_province", object_type="work_calendar",
                         object_id=f"{province}:{year}", reason=notice.strip())
        await uow.commit()
    _forget(deps, province)
    return _year_of(await province_calendar(deps=deps, province=province), year)


async def set_county_overrides(*, deps: DeskDeps, principal: Principal, year: int,
                               days: Sequence[tuple[str, bool, str]]) -> YearArrangement:
    """Replace the county's own days of a year (a county admin)."""
    if principal.tenant is None:
        raise NotFound("未找到")
    tenant = principal.tenant
    parsed: list[CalendarDay] = validate_days(year=year, days=days, notice=None)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await repo.replace_year(uow, year=year, days=parsed, notice=None, entered_by=principal.user)
        await record_act(uow, principal, service=SERVICE, action="calendar.set_county", object_type="work_calendar",
                         object_id=f"{tenant}:{year}")
        await uow.commit()
    _forget(deps, tenant)
    return _year_of(await calendar_for(deps=deps, tenant=tenant), year)
