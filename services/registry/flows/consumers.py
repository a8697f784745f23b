"""Flow event subscriptions: the destination's answers come back to the origin county. Each handler decodes the
event and makes one use-case call; every use case is idempotent and order-tolerant. The publishing county (the
subject's, ``delivery.tenant``) is the one the answer is checked against: it must place the flow's current attempt."""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.events.v1 import meta_pb2
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.registry.flows import service


def _occurred(meta: meta_pb2.EventMeta) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC)


async def on_offered(uow: UnitOfWork, event: org_events.TemporaryMembershipOffered, delivery: Delivery) -> None:
    """The destination offered a temporary membership."""
    await service.apply_offer(
        uow=uow, flow_id=event.flow_id, attempt=event.attempt, rule=event.rule, reason=event.reason,
        placement=service.Placement(membership_id=event.membership_id, org_id=event.org_id, org_name=event.org_name),
        offered_at=_occurred(event.meta), answered_by=delivery.tenant,
    )


async def on_refused(uow: UnitOfWork, event: org_events.TemporaryMembershipRefused, delivery: Delivery) -> None:
    """The destination refused (or found no organisation)."""
    await service.apply_refusal(uow=uow, flow_id=event.flow_id, attempt=event.attempt, reason=event.reason,
                                advice=event.advice, membership_id=event.membership_id, answered_by=delivery.tenant)


async def on_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """报到 at the destination."""
    await service.apply_check_in(
        uow=uow, flow_id=event.flow_id, attempt=event.attempt, method=event.method,
        placement=service.Placement(membership_id=event.membership_id, org_id=event.org_id, org_name=event.org_name),
        checked_in_at=event.checked_in_at, occurred_at=_occurred(event.meta), answered_by=delivery.tenant,
    )


def subscribe(ctx: ServiceContext) -> None:
    """Register the durable consumers of the destination's answers (routed to the origin county)."""
    to_origin = kit_broker.addressed_to("origin_tenant_id")
    ctx.subscribe(
        Subscription("registry-offers", "organizations", org_events.TemporaryMembershipOffered, on_offered, to_origin),
        Subscription("registry-refusals", "organizations", org_events.TemporaryMembershipRefused, on_refused,
                     to_origin),
        Subscription("registry-check-ins", "organizations", org_events.CheckedIn, on_checked_in, to_origin),
    )
