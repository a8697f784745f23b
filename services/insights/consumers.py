"""Insights event subscriptions: which events feed which read model."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.insights import service
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.process import ServiceContext

# Durable name → (event, handler). The origin publishes these itself, so they land in the publisher's county.
_REGISTRY: dict[str, tuple[type[Message], kit_broker.Handler]] = {
    "insights-member-counts": (reg_events.MemberRegistered, service.on_member_registered),
    "insights-member-counts-transferred": (reg_events.MemberTransferred, service.on_member_transferred),
    "insights-flows-registered": (reg_events.FlowRegistered, service.on_flow_registered),
    "insights-flows-redirected": (reg_events.FlowRedirected, service.on_flow_redirected),
    "insights-flows-closed": (reg_events.FlowClosed, service.on_flow_closed),
    "insights-flows-policy-timers": (reg_events.PolicyTimerFired, service.on_policy_timer_fired),
}
# The placing county publishes these; routed to the origin they name.
_ORGANIZATIONS: dict[str, tuple[type[Message], kit_broker.Handler]] = {
    "insights-flows-membership-offered": (org_events.TemporaryMembershipOffered, service.on_membership_offered),
    "insights-flows-membership-refused": (org_events.TemporaryMembershipRefused, service.on_membership_refused),
    "insights-flows-checked-in": (org_events.CheckedIn, service.on_checked_in),
    "insights-flows-membership-closed": (org_events.TemporaryMembershipClosed, service.on_membership_closed),
}


def to_origin(event: Any) -> str:
    """Every flow fact is stored under the origin county, whoever published it."""
    return str(event.origin_tenant_id)


async def subscribe_all(ctx: ServiceContext) -> None:
    """Declare the source streams and register every durable consumer."""
    await kit_broker.ensure_stream(ctx.broker, service="registry")
    await kit_broker.ensure_stream(ctx.broker, service="organizations")
    for consumer, (event, handler) in _REGISTRY.items():
        kit_broker.subscribe(ctx.broker, db=ctx.db, consumer=consumer, source_service="registry", event=event,
                             handler=handler, retry=ctx.retry_policy())
    for consumer, (event, handler) in _ORGANIZATIONS.items():
        kit_broker.subscribe(ctx.broker, db=ctx.db, consumer=consumer, source_service="organizations", event=event,
                             handler=handler, retry=ctx.retry_policy(), route=to_origin)
