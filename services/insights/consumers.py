"""Insights event subscriptions: which events feed which read model."""

from __future__ import annotations

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.insights import service
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.process import ServiceContext


async def subscribe_all(ctx: ServiceContext) -> None:
    """Declare the source streams and register every durable consumer."""
    await kit_broker.ensure_stream(ctx.broker, service="registry")
    kit_broker.subscribe(
        ctx.broker, db=ctx.db, consumer="insights-member-counts", source_service="registry",
        event=registry_events_pb2.MemberRegistered, handler=service.on_member_registered,
        retry=ctx.retry_policy(),
    )
