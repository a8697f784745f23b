"""The review tiers' sweep: an application left at a tier past its working-day limit is reported once
(LoanStepOverdue)."""

from __future__ import annotations

from datetime import datetime

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.loans import service
from jinqiao.kit import periodic


async def sweep_all_tenants(*, deps: DeskDeps, now: datetime | None = None) -> int:
    """One sweep over every county with a review step past its time limit: each reported once (LoanStepOverdue);
    how many were reported."""
    return await service.report_step_overdue_all_tenants(deps=deps, now=now or deps.clock())


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    await periodic.every(interval, lambda: sweep_all_tenants(deps=deps), name="loans", wait_first=True)
