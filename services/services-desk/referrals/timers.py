"""Referrals' periodic sweep: withdraw referrals unanswered past their respond-by time (the compensation step)."""

from __future__ import annotations

from datetime import datetime

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.referrals import service
from jinqiao.kit import periodic


async def sweep(*, deps: DeskDeps, now: datetime | None = None) -> int:
    """Withdraw every county's overdue referrals; how many were withdrawn."""
    return await service.withdraw_due_all_tenants(deps=deps, now=now or deps.clock())


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled; a failed sweep is logged and retried next time."""
    await periodic.every(interval, lambda: sweep(deps=deps), name="referral")


async def sweep_county(*, deps: DeskDeps, tenant: str, now: datetime) -> int:
    """One county's overdue referrals."""
    return await service.withdraw_due(deps=deps, tenant=tenant, now=now)
