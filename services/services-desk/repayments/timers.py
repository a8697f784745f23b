"""The repayments sweep (CONTRACT, issue 14; the body is the repayments concept's): see the module of its service."""

from __future__ import annotations

import asyncio
import logging

from jinqiao.desk.deps import DeskDeps

log = logging.getLogger(__name__)


async def sweep_all_tenants(*, deps: DeskDeps) -> None:
    """One sweep over every county with something due (to be written by the repayments concept)."""


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
            log.exception("repayments sweep failed")
