"""Policy timers (DESIGN §3 step 4): a sweep, county by county, on an injectable clock; each timer fires once."""

from __future__ import annotations

from datetime import datetime

from jinqiao.kit import periodic
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import service


async def sweep(*, deps: RegistryDeps, now: datetime | None = None) -> int:
    """Fire every due timer of every open flow; return how many fired (PolicyTimerFired, or a new placement)."""
    return await service.fire_due_timers_all_tenants(deps=deps, now=now or deps.clock())


async def sweep_county(*, deps: RegistryDeps, tenant: str, now: datetime) -> int:
    """One county's timers."""
    return await service.fire_due_timers(deps=deps, tenant=tenant, now=now)


async def run_forever(*, deps: RegistryDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled; a failed sweep is logged and retried next time."""
    await periodic.every(interval, lambda: sweep(deps=deps), name="policy timer")
