"""The repayments sweep: each county's repaying loans get their overdue figures recomputed and their reminders
(7, 3 and 1 days before a due date; 1, 7 and 30 days past due) sent once each."""

from __future__ import annotations

from datetime import date

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.repayments import service
from jinqiao.kit import periodic


async def sweep_all_tenants(*, deps: DeskDeps, today: date | None = None) -> int:
    """One sweep over every county with a loan being repaid (``today``: Beijing's date by ``deps.clock``);
    how many reminders went out."""
    return await service.sweep_all_tenants(deps=deps, today=today)


async def sweep_county(*, deps: DeskDeps, tenant: str, today: date) -> int:
    """One county's sweep (tests pick the county and the day)."""
    return await service.sweep_county(deps=deps, tenant=tenant, today=today)


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    await periodic.every(interval, lambda: sweep_all_tenants(deps=deps), name="repayments", wait_first=True)
