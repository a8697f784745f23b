"""Flow event subscriptions: the destination's answers come back to the origin county. Each handler decodes the
event and makes one use-case call; every use case is idempotent and order-tolerant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message

from jinqiao.events.v1 import meta_pb2
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Handler, Route
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
        offered_at=_occurred(event.meta),
    )


async def on_refused(uow: UnitOfWork, event: org_events.TemporaryMembershipRefused, delivery: Delivery) -> None:
    """The destination refused (or found no organisation)."""
    await service.apply_refusal(uow=uow, flow_id=event.flow_id, attempt=event.attempt, reason=event.reason,
                                advice=event.advice, membership_id=event.membership_id)


async def on_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """报到 at the destination."""
    await service.apply_check_in(
        uow=uow, flow_id=event.flow_id, attempt=event.attempt, method=event.method,
        placement=service.Placement(membership_id=event.membership_id, org_id=event.org_id, org_name=event.org_name),
        checked_in_at=event.checked_in_at, occurred_at=_occurred(event.meta),
    )


async def on_activity(uow: UnitOfWork, event: org_events.ActivityRecorded, delivery: Delivery) -> None:
    """An activity the destination organisation recorded."""
    await service.record_destination_activity(
        uow=uow, activity_id=event.activity_id, member_id=event.member_id, flow_id=event.flow_id,
        occurred_on=event.occurred_on, occurred_at=_occurred(event.meta), title=event.title, note=event.note,
        org_name=event.org_name,
    )


async def on_attendance(uow: UnitOfWork, event: org_events.AttendanceRecorded, delivery: Delivery) -> None:
    """Organisational life attended anywhere (the publisher's county held the meeting)."""
    await service.record_attendance(
        uow=uow, meeting_id=event.meeting_id, member_id=event.member_id, status=event.status,
        meeting_type=event.meeting_type, occurred_at=_occurred(event.meta), held_in=delivery.tenant, guest=event.guest,
    )


async def on_assessment(uow: UnitOfWork, event: org_events.DestinationAssessmentGiven, delivery: Delivery) -> None:
    """The destination's side of 双向评议."""
    await service.record_destination_assessment(uow=uow, member_id=event.member_id, year=event.year,
                                                grade=event.grade, comment=event.comment, org_name=event.org_name)


def subscribe(ctx: ServiceContext) -> None:
    """Register the durable consumers of the destination's answers (routed to the origin county)."""
    retry = ctx.retry_policy()

    def to_origin(e: Any) -> str:
        return str(e.origin_tenant_id)

    def to_home(e: Any) -> str:
        return str(e.home_tenant_id)

    plan: list[tuple[str, type[Message], Handler, Route]] = [
        ("registry-offers", org_events.TemporaryMembershipOffered, on_offered, to_origin),
        ("registry-refusals", org_events.TemporaryMembershipRefused, on_refused, to_origin),
        ("registry-check-ins", org_events.CheckedIn, on_checked_in, to_origin),
        ("registry-activities", org_events.ActivityRecorded, on_activity, to_origin),
        ("registry-assessments", org_events.DestinationAssessmentGiven, on_assessment, to_origin),
        ("registry-attendance", org_events.AttendanceRecorded, on_attendance, to_home),
    ]
    for consumer, event, handler, route in plan:
        kit_broker.subscribe(ctx.broker, db=ctx.db, consumer=consumer, source_service="organizations", event=event,
                             handler=handler, retry=retry, route=route)
