"""Sla: the periodic sweep of every county's due clocks."""

from __future__ import annotations

import asyncio
import logging

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla.service import sweep_all_tenants

log = logging.getLogger(__name__)


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_all_tenants(deps=deps, now=deps.clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed sweep (e.g. the database restarting) is retried at the next interval.
            log.exception("sla sweep failed")
