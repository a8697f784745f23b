"""Member event subscriptions: the county's organisations are mirrored, and a member transferred from another
county arrives here. Each handler decodes the event and makes one use-case call (idempotent)."""

from __future__ import annotations

from functools import partial

from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.members import service


async def on_org_created(uow: UnitOfWork, event: org_events.OrgCreated, delivery: Delivery) -> None:
    """Mirror the county's organisations (home branches are checked against this replica)."""
    await service.mirror_org(uow=uow, org_id=event.org_id, name=event.name, kind=event.kind)


async def on_org_renamed(uow: UnitOfWork, event: org_events.OrgRenamed, delivery: Delivery) -> None:
    """A renamed organisation."""
    await service.mirror_org(uow=uow, org_id=event.org_id, name=event.name)


async def on_org_dissolved(uow: UnitOfWork, event: org_events.OrgDissolved, delivery: Delivery) -> None:
    """A dissolved organisation takes no new members."""
    await service.mirror_org(uow=uow, org_id=event.org_id, dissolved=True)


async def on_org_parent(uow: UnitOfWork, event: org_events.OrgCreated | org_events.OrgMoved,
                        delivery: Delivery) -> None:
    """Mirror where an organisation sits in the tree (its parent, as of the event's version)."""
    parent = event.parent_id if isinstance(event, org_events.OrgCreated) else event.new_parent_id
    await service.mirror_org_parent(uow=uow, org_id=event.org_id, parent_id=parent,
                                    version=event.meta.aggregate_version)


async def on_member_transferred(deps: RegistryDeps, uow: UnitOfWork, event: registry_events_pb2.MemberTransferred,
                                delivery: Delivery) -> None:
    """组织关系转接: the destination county registers the member as its own."""
    await service.register_transferred_member(deps=deps, uow=uow, flow_id=event.flow_id, member=event.member,
                                              traceparent=event.meta.traceparent)


def subscribe(ctx: ServiceContext, deps: RegistryDeps) -> None:
    """Register the durable consumers of the org replica and of members transferred in."""
    # The replica stays in the publishing county (no route); a transfer is addressed to the destination.
    ctx.subscribe(
        Subscription("registry-org-created", "organizations", org_events.OrgCreated, on_org_created),
        Subscription("registry-org-renamed", "organizations", org_events.OrgRenamed, on_org_renamed),
        Subscription("registry-org-dissolved", "organizations", org_events.OrgDissolved, on_org_dissolved),
        # Added with the parent chain: new durables start at the stream's beginning, so they replay the whole tree.
        Subscription("registry-org-parents", "organizations", org_events.OrgCreated, on_org_parent),
        Subscription("registry-org-moved", "organizations", org_events.OrgMoved, on_org_parent),
        Subscription("registry-transfers-in", "registry", registry_events_pb2.MemberTransferred,
                     partial(on_member_transferred, deps), kit_broker.addressed_to("destination_tenant_id")),
    )
