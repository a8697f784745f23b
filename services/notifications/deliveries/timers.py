"""The delivery worker: sends what is due, every few seconds."""

from __future__ import annotations

from datetime import datetime

from jinqiao.kit import periodic
from jinqiao.notifications.deliveries import service
from jinqiao.notifications.deps import NotificationsDeps


async def sweep_all_tenants(*, deps: NotificationsDeps, now: datetime | None = None) -> int:
    """One worker pass over every county (tests call it with a chosen ``now``)."""
    return await service.send_due_all_tenants(deps=deps, now=now)


async def run_forever(*, deps: NotificationsDeps, interval: float) -> None:
    """Send every ``interval`` seconds until cancelled."""
    await periodic.every(interval, lambda: sweep_all_tenants(deps=deps), name="deliveries", wait_first=False)
