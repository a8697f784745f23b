"""Referrals' periodic sweep: withdraw referrals unanswered past their respond-by time (the compensation step)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.referrals import service

log = logging.getLogger("jinqiao.desk.referrals.timers")


async def sweep(*, deps: DeskDeps, now: datetime | None = None) -> int:
    """Withdraw every county's overdue referrals; how many were withdrawn."""
    return await service.withdraw_due_all_tenants(deps=deps, now=now or deps.clock())


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled; a failed sweep is logged and retried next time."""
    while True:
        try:
            await sweep(deps=deps)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("referral sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)


async def sweep_county(*, deps: DeskDeps, tenant: str, now: datetime) -> int:
    """One county's overdue referrals."""
    return await service.withdraw_due(deps=deps, tenant=tenant, now=now)
