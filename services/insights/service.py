"""Insights use cases: apply events to read models, answer aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.insights import domain, repo
from jinqiao.kit.auth import Principal
from jinqiao.kit.broker import Delivery, PoisonMessage
from jinqiao.kit.db import Database, UnitOfWork

SERVICE = "insights"


@dataclass(frozen=True, slots=True)
class InsightsDeps:
    """What the use cases need, built once in ``server.py``."""

    db: Database
    suppression_threshold: int = domain.SUPPRESSION_THRESHOLD


async def on_member_registered(uow: UnitOfWork, event: reg_events.MemberRegistered, delivery: Delivery) -> None:
    """Count a newly registered member in its county (the inbox has already ruled out duplicates)."""
    await repo.add_members(uow, count=1)


async def on_member_transferred(uow: UnitOfWork, event: reg_events.MemberTransferred, delivery: Delivery) -> None:
    """The origin no longer holds a transferred member; the destination counts them on its MemberRegistered."""
    await repo.add_members(uow, count=-1)


async def on_flow_registered(uow: UnitOfWork, event: reg_events.FlowRegistered, delivery: Delivery) -> None:
    """Record an outflow: where, when and in which trade."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, registered=True, month=domain.month_of(event.start_date),
        destination_code=event.handover.destination_code, industry=event.handover.industry, authoritative=True,
        placing_tenant_id=_placing(event.handover, origin=delivery.tenant),
    ))


async def on_flow_redirected(uow: UnitOfWork, event: reg_events.FlowRedirected, delivery: Delivery) -> None:
    """A new placement attempt: its destination and trade count from now on, older answers no longer do."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, destination_code=event.handover.destination_code, industry=event.handover.industry,
        authoritative=True, placing_tenant_id=_placing(event.handover, origin=delivery.tenant),
    ))


def _placing(handover: handover_pb2.Handover, *, origin: str) -> str:
    # The origin publishes registrations and redirections itself (not routed): the publisher is the origin.
    return domain.placing_county(origin=origin, destination_code=handover.destination_code,
                                 named=handover.placing_tenant_id)


async def on_flow_closed(uow: UnitOfWork, event: reg_events.FlowClosed, delivery: Delivery) -> None:
    """The member returned or transferred, or the outflow was cancelled: no longer away."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        closed=True, destination_code=event.destination_code, industry=event.industry,
    ))
    returned = domain.month_in_beijing(event.closed_on) if event.reason == domain.RETURNED else None
    if returned:
        await repo.record_month(uow, flow_id=event.flow_id, kind=domain.RETURNED, month=returned)


async def on_policy_timer_fired(uow: UnitOfWork, event: reg_events.PolicyTimerFired, delivery: Delivery) -> None:
    """A 报到 overdue timer marks the flow overdue until a check-in; other timers change no figure."""
    if event.timer != domain.CHECK_IN_OVERDUE:
        return
    await _merge(uow, event.flow_id, domain.FlowFact(
        overdue=True, destination_code=event.destination_code, industry=event.industry,
    ))


async def on_membership_offered(
    uow: UnitOfWork, event: org_events.TemporaryMembershipOffered, delivery: Delivery
) -> None:
    """An organisation offered a temporary membership for an attempt (held at the destination unless online)."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, offered=True, placed=domain.holds_at_destination(event.rule),
        destination_code=event.destination_code,
    ), answered_by=delivery.tenant)


async def on_membership_refused(
    uow: UnitOfWork, event: org_events.TemporaryMembershipRefused, delivery: Delivery
) -> None:
    """The placing county refused an attempt, or no organisation fitted."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, refused=True, destination_code=event.destination_code,
    ), answered_by=delivery.tenant)


async def on_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """The member checked in (报到) for an attempt: managed, which implies offered."""
    await _merge(uow, event.flow_id, domain.FlowFact(attempt=event.attempt, checked_in=True),
                 answered_by=delivery.tenant)
    month = domain.month_in_beijing(event.checked_in_at)
    if month:
        await repo.record_month(uow, flow_id=event.flow_id, kind=domain.CHECKED_IN, month=month)


async def on_membership_closed(
    uow: UnitOfWork, event: org_events.TemporaryMembershipClosed, delivery: Delivery
) -> None:
    """The destination released the member for an attempt."""
    await _merge(uow, event.flow_id, domain.FlowFact(attempt=event.attempt, membership_closed=True),
                 answered_by=delivery.tenant)


async def _merge(uow: UnitOfWork, flow_id: str, fact: domain.FlowFact, *, answered_by: str | None = None) -> None:
    """Merge one fact; an answer (``answered_by``: its publishing county) only from the county placing its attempt.

    A forged answer raises ``ForgedEvent`` (dead-lettered at once); one that overtook the origin's registration or
    redirection raises ``PlacementNotKnownYet`` (not a domain error: redelivered with back-off). Either way the unit
    of work rolls back, so the row ``lock_flow`` may have created goes with it.
    """
    if not flow_id:
        raise PoisonMessage("the event names no flow")
    current = await repo.lock_flow(uow, flow_id=flow_id)
    if answered_by is not None:
        current.ensure_answer_origin(attempt=fact.attempt, answered_by=answered_by)
    merged = current.apply(fact)
    # A duplicate or superseded fact changes nothing; the lock already bumped updated_at, nothing else to write.
    if merged != current:
        await repo.save_flow(uow, flow_id=flow_id, state=merged)


async def member_counts(*, deps: InsightsDeps, principal: Principal, scope: str) -> domain.CountyCounts:
    """Members per county inside a scope the caller may read; small counties hidden unless it is the own county."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        counts = await repo.member_counts(uow)
    return domain.disclose_member_counts(counts, threshold=threshold)


async def flow_matrix(
    *, deps: InsightsDeps, principal: Principal, scope: str, from_month: str, to_month: str, industry: str
) -> domain.FlowMatrix:
    """Origin → destination counts, coverage and unorganised destinations of the origins inside a scope."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    filters = domain.matrix_filter(from_month=from_month, to_month=to_month, industry=industry)
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        matrix = await repo.flow_matrix(uow, filters=filters)
        if not threshold:
            return domain.disclose_matrix(cells=matrix.cells, coverage_atoms=None, exact_coverage=matrix.coverage,
                                          unorganised=matrix.unorganised, threshold=0)
        # A wider scope: the filters choose cells only; coverage and unorganised places cover every flow.
        whole = matrix if filters == domain.NO_FILTER else await repo.flow_matrix(uow, filters=domain.NO_FILTER)
        atoms = await repo.coverage_atoms(uow)
    return domain.disclose_matrix(cells=matrix.cells, coverage_atoms=atoms, exact_coverage=[],
                                  unorganised=whole.unorganised, threshold=threshold)


async def dashboard(*, deps: InsightsDeps, principal: Principal, scope: str, to_month: str) -> domain.Dashboard:
    """A scope's figures, next level down, flows by destination and trends; small cells hidden unless own county."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    last = domain.dashboard_month(to_month, today=datetime.now(domain.BEIJING).date())
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        counts = await repo.member_counts(uow)
        matrix = await repo.flow_matrix(uow, filters=domain.NO_FILTER)
        atoms = await repo.coverage_atoms(uow)
        months = await repo.month_cells(uow, from_month=domain.trend_months(to_month=last)[0])
    coverage = domain.suppress_coverage(atoms, threshold=threshold) if threshold else domain.coverage_of(atoms)
    return domain.build_dashboard(scope=readable, counts=counts, coverage=coverage, cells=matrix.cells,
                                  month_cells=months, to_month=last, threshold=threshold)


async def dashboard_version(*, deps: InsightsDeps, principal: Principal, scope: str) -> str:
    """The scope's version mark (one cheap query): changes whenever a figure may have changed."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    async with deps.db.scope_reader(scope=readable) as uow:
        return await repo.version(uow)
