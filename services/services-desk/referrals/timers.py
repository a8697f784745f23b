"""Referrals: the periodic sweep (being built, issue 13)."""

from __future__ import annotations

import asyncio

from jinqiao.desk.deps import DeskDeps


async def run_forever(*, deps: DeskDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
