"""Notebook event subscriptions: what the destination records of a member comes home to the 活动记事本 and to
双向评议. Each handler decodes the event and makes one use-case call; every use case is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.events.v1 import meta_pb2
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Handler, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.notebook import service


def _occurred(meta: meta_pb2.EventMeta) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC)


async def on_activity(uow: UnitOfWork, event: org_events.ActivityRecorded, delivery: Delivery) -> None:
    """An activity the destination organisation recorded."""
    await service.record_destination_activity(
        uow=uow, activity_id=event.activity_id, member_id=event.member_id, flow_id=event.flow_id,
        occurred_on=event.occurred_on, occurred_at=_occurred(event.meta), title=event.title, note=event.note,
        org_name=event.org_name, held_in=delivery.tenant,
    )


async def on_attendance(uow: UnitOfWork, event: org_events.AttendanceRecorded, delivery: Delivery) -> None:
    """Organisational life attended anywhere (the publisher's county held the meeting)."""
    await service.record_attendance(
        uow=uow, meeting_id=event.meeting_id, member_id=event.member_id, status=event.status,
        meeting_type=event.meeting_type, occurred_at=_occurred(event.meta), held_in=delivery.tenant, guest=event.guest,
    )


def on_assessment(deps: RegistryDeps) -> Handler:
    """The destination's side of 双向评议 (the member's changed facts are published with the keyring's seal)."""

    async def handle(uow: UnitOfWork, event: org_events.DestinationAssessmentGiven, delivery: Delivery) -> None:
        await service.record_destination_assessment(uow=uow, cipher=deps.cipher, member_id=event.member_id,
                                                    year=event.year, grade=event.grade, comment=event.comment,
                                                    org_name=event.org_name, held_in=delivery.tenant)

    return handle


def subscribe(ctx: ServiceContext, deps: RegistryDeps) -> None:
    """Register the durable consumers of the destination's entries and assessments (routed to the home county).

    The consumer names are the durable names on the stream and the keys of the inbox: they are the ones these
    consumers had while they lived in ``flows``, and must stay so, or a deployment would get everything again.
    """
    to_origin = kit_broker.addressed_to("origin_tenant_id")
    ctx.subscribe(
        Subscription("registry-activities", "organizations", org_events.ActivityRecorded, on_activity, to_origin),
        Subscription("registry-assessments", "organizations", org_events.DestinationAssessmentGiven,
                     on_assessment(deps), to_origin),
        Subscription("registry-attendance", "organizations", org_events.AttendanceRecorded, on_attendance,
                     kit_broker.addressed_to("home_tenant_id")),
    )
