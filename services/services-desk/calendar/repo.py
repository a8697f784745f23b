"""Calendar repository: a scope's entered years and days (the province's under its code, a county's under its own;
RLS shows the unit of work's tenant only)."""

from __future__ import annotations

from datetime import date

from jinqiao.desk.calendar.domain import CalendarDay
from jinqiao.desk.calendar.models import day_from_record
from jinqiao.kit.db import UnitOfWork


async def entered_years(uow: UnitOfWork, *, first: int, last: int) -> dict[int, str]:
    """The years entered under the unit of work's tenant (year → notice)."""
    records = await uow.conn.fetch(
        "SELECT year, notice FROM work_calendar_years WHERE year BETWEEN $1 AND $2", first, last)
    return {r["year"]: r["notice"] for r in records}


async def days(uow: UnitOfWork, *, first: int, last: int) -> list[CalendarDay]:
    """The days entered under the unit of work's tenant within the years."""
    records = await uow.conn.fetch(
        "SELECT day, working, name FROM work_calendar_days WHERE day BETWEEN $1 AND $2 ORDER BY day",
        date(first, 1, 1), date(last, 12, 31))
    return [day_from_record(r) for r in records]


async def replace_year(uow: UnitOfWork, *, year: int, days: list[CalendarDay], notice: str | None,
                       entered_by: str) -> None:
    """Replace a year's days (and, with ``notice``, its year row) under the unit of work's tenant."""
    await uow.conn.execute("DELETE FROM work_calendar_days WHERE day BETWEEN $1 AND $2",
                           date(year, 1, 1), date(year, 12, 31))
    if days:
        await uow.conn.executemany(
            "INSERT INTO work_calendar_days (tenant_id, day, working, name) VALUES ($1, $2, $3, $4)",
            [(uow.tenant, d.day, d.working, d.name) for d in days])
    if notice is not None:
        await uow.conn.execute(
            "INSERT INTO work_calendar_years (tenant_id, year, notice, entered_by, entered_at)"
            " VALUES ($1, $2, $3, $4, now()) ON CONFLICT (tenant_id, year) DO UPDATE"
            " SET notice = EXCLUDED.notice, entered_by = EXCLUDED.entered_by, entered_at = now()",
            uow.tenant, year, notice, entered_by)
