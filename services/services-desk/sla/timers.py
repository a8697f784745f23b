"""Sla: the periodic sweep of every county's due clocks."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla.service import sweep_all_tenants
from jinqiao.kit import periodic


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    await periodic.every(interval, lambda: sweep_all_tenants(deps=deps, now=deps.clock()), name="sla", wait_first=True)
