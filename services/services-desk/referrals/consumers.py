"""Referral event subscriptions on the desk's own stream: each event is routed to the county it addresses.

TicketReferred and ReferralWithdrawn go to the receiving county (``to_tenant_id``); ReferralAccepted, Declined and
Resolved come back to the referring county (``origin_tenant_id``). Each handler decodes the event and makes one
use-case call; the publishing county (``delivery.tenant``, verified from the subject) is what the use case checks:
an answer from any other county than the one the referral was sent to is forged (dead-lettered, never applied).
"""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.referrals import service
from jinqiao.events.v1 import desk_events_pb2 as desk_events
from jinqiao.events.v1 import meta_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext

# Durable names: never rename them (they key the inbox).
REFERRALS_IN = "desk-referrals-in"
WITHDRAWALS_IN = "desk-referral-withdrawals"
ACCEPTANCES = "desk-referral-acceptances"
DECLINES = "desk-referral-declines"
RESOLUTIONS = "desk-referral-resolutions"


def _occurred(meta: meta_pb2.EventMeta) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC)


def handlers(deps: DeskDeps) -> dict[str, kit_broker.Handler]:
    """The handler of each consumer, bound to the use cases' dependencies."""

    async def referred(uow: UnitOfWork, event: desk_events.TicketReferred, delivery: Delivery) -> None:
        await service.record_incoming(uow=uow, event=event, published_by=delivery.tenant)

    async def withdrawn(uow: UnitOfWork, event: desk_events.ReferralWithdrawn, delivery: Delivery) -> None:
        await service.apply_withdrawal(deps=deps, uow=uow, referral_id=event.referral_id, attempt=event.attempt,
                                       published_by=delivery.tenant)

    async def accepted(uow: UnitOfWork, event: desk_events.ReferralAccepted, delivery: Delivery) -> None:
        await service.apply_acceptance(uow=uow, referral_id=event.referral_id, attempt=event.attempt,
                                       remote_ticket_id=event.ticket_id, remote_org_name=event.serving_org_name,
                                       answered_by=delivery.tenant, answered_at=_occurred(event.meta))

    async def declined(uow: UnitOfWork, event: desk_events.ReferralDeclined, delivery: Delivery) -> None:
        await service.apply_decline(uow=uow, referral_id=event.referral_id, attempt=event.attempt,
                                    reason=event.reason, answered_by=delivery.tenant,
                                    answered_at=_occurred(event.meta))

    async def resolved(uow: UnitOfWork, event: desk_events.ReferralResolved, delivery: Delivery) -> None:
        await service.apply_resolution(deps=deps, uow=uow, referral_id=event.referral_id,
                                       resolution=event.resolution, answered_by=delivery.tenant,
                                       answered_at=_occurred(event.meta))

    return {REFERRALS_IN: referred, WITHDRAWALS_IN: withdrawn, ACCEPTANCES: accepted, DECLINES: declined,
            RESOLUTIONS: resolved}


def subscribe(ctx: ServiceContext, deps: DeskDeps) -> None:
    """Register the durable consumers of the referral saga (the desk's own stream, declared in ``server.py``)."""
    bound = handlers(deps)
    to_receiver = kit_broker.addressed_to("to_tenant_id")
    to_origin = kit_broker.addressed_to("origin_tenant_id")
    ctx.subscribe(
        Subscription(REFERRALS_IN, "desk", desk_events.TicketReferred, bound[REFERRALS_IN], to_receiver),
        Subscription(WITHDRAWALS_IN, "desk", desk_events.ReferralWithdrawn, bound[WITHDRAWALS_IN], to_receiver),
        Subscription(ACCEPTANCES, "desk", desk_events.ReferralAccepted, bound[ACCEPTANCES], to_origin),
        Subscription(DECLINES, "desk", desk_events.ReferralDeclined, bound[DECLINES], to_origin),
        Subscription(RESOLUTIONS, "desk", desk_events.ReferralResolved, bound[RESOLUTIONS], to_origin),
    )
