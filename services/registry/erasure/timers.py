"""The scheduled erasure: every ``interval`` seconds, the departed members whose retention period ran out."""

from __future__ import annotations

from jinqiao.kit import periodic
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.erasure import service


async def run_forever(*, deps: RegistryDeps, interval: float, period_days: int) -> None:
    """Erase what is due every ``interval`` seconds until cancelled; a failed run is logged and retried next time."""
    await periodic.every(interval, lambda: service.erase_due_all_tenants(deps=deps, period_days=period_days),
                         name="member erasure")
