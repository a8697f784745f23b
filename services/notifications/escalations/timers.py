"""The escalation sweep: a matter nobody acknowledged climbs one office up."""

from __future__ import annotations

from datetime import datetime

from jinqiao.kit import periodic
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.escalations import service


async def sweep_all_tenants(*, deps: NotificationsDeps, now: datetime | None = None) -> int:
    """One sweep over every county (tests call it with a chosen ``now``)."""
    return await service.climb_due_all_tenants(deps=deps, now=now)


async def run_forever(*, deps: NotificationsDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled."""
    await periodic.every(interval, lambda: sweep_all_tenants(deps=deps), name="escalations", wait_first=True)
