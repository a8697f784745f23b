"""Policy timers (DESIGN §3 step 4): a sweep, county by county, on an injectable clock; each timer fires once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.clock import china_date
from jinqiao.registry import flows, repo
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flow_service import _redirect
from jinqiao.registry.service import record

log = logging.getLogger("jinqiao.registry.timers")
SYSTEM = Principal(user="system:policy-timers", role=Role.SERVICE, scope="41", tenant=None)


async def sweep(*, deps: RegistryDeps, now: datetime | None = None) -> int:
    """Fire every due timer of every open flow; return how many fired (PolicyTimerFired, or a new placement)."""
    at = now or deps.clock()
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_with_open_flows_all_tenants(conn)
    fired = 0
    for county in counties:
        fired += await sweep_county(deps=deps, tenant=county, now=at)
    return fired


async def sweep_county(*, deps: RegistryDeps, tenant: str, now: datetime) -> int:
    """One county's timers, in one transaction (alerts and their events commit together)."""
    fired = 0
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        policy = await repo.policy(uow)
        open_flows = await repo.open_flows(uow)
        timed_out = []
        for row, name in open_flows:
            flow = row.to_domain(member_name=name)
            if flows.placement_timed_out(flow, requested_at=row.placement_requested_at, policy=policy, now=now):
                timed_out.append(row)
            for due in flows.due_timers(flow, policy=policy, today=china_date(now)):
                if await repo.insert_alert(uow, flow_id=row.id, member_id=row.member_id, timer=due.timer,
                                           level=due.level, due_date=due.due_date, fired_at=now):
                    fired += 1
                    await record(uow, SYSTEM, action="flow.timer", object_type="flow", object_id=row.id,
                                 reason=f"{due.timer}:{due.level}", event=registry_events_pb2.PolicyTimerFired(
                                     flow_id=row.id, member_id=row.member_id, timer=due.timer, level=due.level,
                                     due_date=due.due_date.isoformat(), destination_code=row.destination_code,
                                     industry=row.industry), saga_trace=row.traceparent)
        await uow.commit()
    # A placement nobody answered is asked again (compensation): each in its own transaction.
    for row in timed_out:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            found = await repo.get_flow(uow, flow_id=row.id, for_update=True)
            if found and found[0].attempt == row.attempt and found[0].status == flows.FlowStatus.REGISTERED:
                await _redirect(deps, uow, SYSTEM, row=found[0], changed={}, reason="TIMED_OUT")
                fired += 1
    return fired


async def run_forever(*, deps: RegistryDeps, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled; a failed sweep is logged and retried next time."""
    while True:
        try:
            await sweep(deps=deps)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("policy timer sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)
