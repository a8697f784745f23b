"""SLA sweep: warnings and breaches of the tickets' clocks, each emitted once, and escalation up the org tree."""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.message import Message

from jinqiao.desk.calendar.domain import BEIJING
from jinqiao.desk.calendar.service import calendar_for
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.replica import service as replica
from jinqiao.desk.sla import repo
from jinqiao.desk.sla.domain import MarkKind, SlaClock, sweep_step
from jinqiao.desk.sla.models import sla_from_record
from jinqiao.events.v1 import desk_events_pb2
from jinqiao.kit import telemetry
from jinqiao.kit.audit import AuditEntry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.events import new_event

# The platform's own principal for the acts of the sweep.
SYSTEM = Principal(user="system:sla-sweep", role=Role.SERVICE, scope="41", tenant=None)
BATCH = 500
CLOCK_LABEL = {SlaClock.FIRST_RESPONSE: "首次响应", SlaClock.ASSIGNMENT: "指派承办人", SlaClock.UPDATE: "进展答复",
               SlaClock.RESOLUTION: "办结"}


async def sweep_all_tenants(*, deps: DeskDeps, now: datetime) -> int:
    """Every county's due clocks; crosses tenants only to learn which counties have something due (a SECURITY
    DEFINER function), then sweeps each under its own tenant. Returns the events emitted."""
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_with_sla_due_all_tenants(conn, at=now)
    emitted = 0
    for tenant in counties:
        emitted += await sweep_county(deps=deps, tenant=tenant, now=now)
    return emitted


async def _escalation_target(uow: UnitOfWork, start: str | None, cache: dict[str | None, str | None]) -> str | None:
    """One step up from ``start``: its nearest station or organisation above, or None for the county department."""
    if start is None:
        return None
    if start not in cache:
        ups = await replica.ancestors(uow, org_id=start)
        target: str | None = None
        if len(ups) > 1:  # the last ancestor is the county committee: that is the county department's queue
            station = await replica.nearest_station(uow, org_id=ups[0].id)
            target = station.id if station is not None else ups[0].id
        cache[start] = target
    return cache[start]


def _when(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


async def sweep_county(*, deps: DeskDeps, tenant: str, now: datetime) -> int:
    """A county's tickets due a look by ``now``, in batches (one transaction each); returns the events emitted."""
    calendar = await calendar_for(deps=deps, tenant=tenant)
    trace = telemetry.current_traceparent()
    trace_id = trace.split("-")[1] if trace else None
    emitted = 0
    escalations: dict[str | None, str | None] = {}
    while True:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            rows = await repo.due_batch(uow, at=now, limit=BATCH)
            if not rows:
                return emitted
            ids: list[str] = []
            checks: list[datetime | None] = []
            m_ids: list[str] = []
            m_clocks: list[str] = []
            m_kinds: list[str] = []
            m_cycles: list[int] = []
            by_id = {}
            for row in rows:
                sla = sla_from_record(row)
                tid = str(row["id"])
                by_id[tid] = (row, sla)
                marks, check = sweep_step(sla, calendar, now)
                for mark in marks:
                    m_ids.append(tid)
                    m_clocks.append(mark.clock.value)
                    m_kinds.append(mark.kind.value)
                    m_cycles.append(mark.cycle)
                ids.append(tid)
                checks.append(check)
            fresh = await repo.insert_marks(uow, ticket_ids=m_ids, clocks=m_clocks, kinds=m_kinds, cycles=m_cycles,
                                            at=now) if m_ids else set()
            h_ids: list[str] = []
            h_tickets: list[str] = []
            h_actions: list[str] = []
            h_bodies: list[str] = []
            h_status: list[int] = []
            esc_ids: list[str] = []
            esc_targets: list[str | None] = []
            acts: list[AuditEntry] = []
            for tid, clock_name, kind, _cycle in sorted(fresh):
                row, sla = by_id[tid]
                clock = SlaClock(clock_name)
                due = {SlaClock.FIRST_RESPONSE: sla.first_response_due, SlaClock.ASSIGNMENT: sla.assignment_due,
                       SlaClock.UPDATE: sla.update_due, SlaClock.RESOLUTION: sla.resolution_due}[clock]
                assert due is not None
                serving = str(row["serving_org_id"]) if row["serving_org_id"] else ""
                h_ids.append(str(uuid.uuid4()))
                h_tickets.append(tid)
                h_status.append(row["status"])
                event: Message
                if kind == MarkKind.WARNED:
                    h_actions.append("sla_warned")
                    h_bodies.append(f"{CLOCK_LABEL[clock]}时限将至（{_when(due)}）")
                    event = desk_events_pb2.TicketSlaWarned(
                        ticket_id=tid, category=row["category"], serving_org_id=serving, clock=clock.value,
                        due_at=due.isoformat(), assignee=row["assignee"])
                    action = "ticket.sla_warned"
                else:
                    h_actions.append("sla_breached")
                    h_bodies.append(f"{CLOCK_LABEL[clock]}已超时（时限 {_when(due)}）")
                    if tid in esc_ids:
                        target = esc_targets[esc_ids.index(tid)]
                    else:
                        start = (str(row["escalated_to_org_id"]) if row["escalated_to_org_id"] else None) \
                            if row["escalated"] else (serving or None)
                        target = await _escalation_target(uow, start, escalations)
                        esc_ids.append(tid)
                        esc_targets.append(target)
                        h_ids.append(str(uuid.uuid4()))
                        h_tickets.append(tid)
                        h_status.append(row["status"])
                        h_actions.append("escalated")
                        h_bodies.append("已逐级上报至" + ("上级党组织" if target else "县级党员服务中心"))
                    event = desk_events_pb2.TicketSlaBreached(
                        ticket_id=tid, category=row["category"], serving_org_id=serving, clock=clock.value,
                        due_at=due.isoformat(), assignee=row["assignee"], escalated_to_org_id=target or "")
                    action = "ticket.sla_breached"
                # What record_act does, for a batch: the event into the outbox, the audit row chained (below).
                uow.add_event(new_event(event, service=SERVICE, tenant=tenant, aggregate_id=tid,
                                        aggregate_version=row["version"], traceparent=trace))
                acts.append(AuditEntry(actor=SYSTEM.user, role=SYSTEM.role, action=action, object_type="ticket",
                                       object_id=tid, reason=clock.value, trace_id=trace_id))
                emitted += 1
            await repo.append_audit(uow, acts)
            if h_ids:
                await repo.add_history(uow, ids=h_ids, ticket_ids=h_tickets, actions=h_actions, bodies=h_bodies,
                                       at=now, status=h_status)
            if esc_ids:
                await repo.escalate(uow, ticket_ids=esc_ids, targets=esc_targets, at=now)
            await repo.set_next_checks(uow, ticket_ids=ids, checks=checks)
            await uow.commit()
