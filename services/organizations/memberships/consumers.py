"""Organisations event subscriptions: the placing county's side of the cross-county flow (DESIGN §3)."""

from __future__ import annotations

from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.memberships import service

PLACEMENT = "organizations-placement"
# A durable consumer has one filter subject, so the redirected attempts have a consumer of their own.
PLACEMENT_REDIRECTED = "organizations-placement-redirected"
REDIRECT_CLOSE = "organizations-redirect-close"
FLOW_CLOSED = "organizations-flow-closed"
ERASURE = "organizations-member-erasure"


def _placing(event: registry_events.FlowRegistered | registry_events.FlowRedirected) -> str:
    """The county whose organisations place the member (the destination, or the origin outside the province)."""
    return event.handover.placing_tenant_id


def _previous_placing(event: registry_events.FlowRedirected) -> str:
    """The county that placed the previous attempt; an old producer that leaves it empty means the same county."""
    return event.previous_placing_tenant_id or event.handover.placing_tenant_id


def _closing(event: registry_events.FlowClosed) -> str:
    """The county holding the flow's membership."""
    return event.placing_tenant_id


def _holder(event: registry_events.MemberPersonalDataErased) -> str:
    """The county holding copies of the member's personal fields (one event per such county)."""
    return event.holder_tenant_id


def handlers(deps: OrgDeps) -> dict[str, kit_broker.Handler]:
    """The handler of each consumer, bound to the use cases' dependencies: decode, then one use-case call."""

    def placement(consumer: str) -> kit_broker.Handler:
        async def handle(uow: UnitOfWork, event: registry_events.FlowRegistered | registry_events.FlowRedirected,
                         delivery: Delivery) -> None:
            await service.open_membership(
                deps=deps, uow=uow, consumer=consumer, origin_tenant_id=delivery.tenant, flow_id=event.flow_id,
                member_id=event.member_id, attempt=event.attempt, handover=event.handover,
            )

        return handle

    async def redirect_close(uow: UnitOfWork, event: registry_events.FlowRedirected, delivery: Delivery) -> None:
        await service.close_superseded(uow=uow, consumer=REDIRECT_CLOSE, flow_id=event.flow_id, attempt=event.attempt,
                                       origin_tenant_id=delivery.tenant)

    async def flow_closed(uow: UnitOfWork, event: registry_events.FlowClosed, delivery: Delivery) -> None:
        await service.close_flow(uow=uow, consumer=FLOW_CLOSED, flow_id=event.flow_id, reason=event.reason,
                                 origin_tenant_id=delivery.tenant)

    async def erasure(uow: UnitOfWork, event: registry_events.MemberPersonalDataErased, delivery: Delivery) -> None:
        await service.erase_member_copies(uow=uow, member_id=event.member_id, origin_tenant_id=delivery.tenant)

    return {PLACEMENT: placement(PLACEMENT), PLACEMENT_REDIRECTED: placement(PLACEMENT_REDIRECTED),
            REDIRECT_CLOSE: redirect_close, FLOW_CLOSED: flow_closed, ERASURE: erasure}


async def subscribe_all(ctx: ServiceContext, deps: OrgDeps) -> None:
    """Declare the registry's stream and register every durable consumer, each routed to the county it writes in."""
    await kit_broker.ensure_stream(ctx.broker, service="registry")
    bound = handlers(deps)
    ctx.subscribe(
        Subscription(PLACEMENT, "registry", registry_events.FlowRegistered, bound[PLACEMENT], _placing),
        Subscription(PLACEMENT_REDIRECTED, "registry", registry_events.FlowRedirected, bound[PLACEMENT_REDIRECTED],
                     _placing),
        Subscription(REDIRECT_CLOSE, "registry", registry_events.FlowRedirected, bound[REDIRECT_CLOSE],
                     _previous_placing),
        Subscription(FLOW_CLOSED, "registry", registry_events.FlowClosed, bound[FLOW_CLOSED], _closing),
        Subscription(ERASURE, "registry", registry_events.MemberPersonalDataErased, bound[ERASURE], _holder),
    )
