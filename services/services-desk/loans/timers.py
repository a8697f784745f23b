"""The loans sweep (CONTRACT, issue 14; the body is the loans concept's): see the module of its service."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.loans import service

log = logging.getLogger(__name__)


async def sweep_all_tenants(*, deps: DeskDeps, now: datetime | None = None) -> int:
    """One sweep over every county with a review step past its time limit: each reported once (LoanStepOverdue);
    how many were reported."""
    return await service.report_step_overdue_all_tenants(deps=deps, now=now or deps.clock())


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_all_tenants(deps=deps)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed sweep (e.g. the database restarting) is retried at the next interval.
            log.exception("loans sweep failed")
