"""Meetings' event subscriptions: the replica of the county's members, against which member ids are checked.

Organisations do not own members (the registry does); attendance and grids name members by id, so the county keeps
the ids the registry announced (MemberRegistered, also for a member transferred in) and drops those it handed over
(MemberTransferred). Each handler decodes the event and makes one use-case call; both are idempotent.
"""

from __future__ import annotations

from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit.broker import Delivery, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.organizations.meetings import service

MEMBERS_REGISTERED = "organizations-members-registered"
MEMBERS_TRANSFERRED = "organizations-members-transferred"


async def on_registered(uow: UnitOfWork, event: registry_events.MemberRegistered, delivery: Delivery) -> None:
    """A member the publishing county now holds."""
    await service.hold_member(uow=uow, member_id=event.member_id, held=True)


async def on_transferred(uow: UnitOfWork, event: registry_events.MemberTransferred, delivery: Delivery) -> None:
    """A member the publishing county handed over (组织关系转接); the destination announces its own record."""
    await service.hold_member(uow=uow, member_id=event.member_id, held=False)


def subscribe(ctx: ServiceContext) -> None:
    """Register the replica's durable consumers; the effect stays in the publishing county (no route).

    The registry's stream is declared by the memberships' consumers, which ``server.py`` subscribes first.
    """
    ctx.subscribe(
        Subscription(MEMBERS_REGISTERED, "registry", registry_events.MemberRegistered, on_registered),
        Subscription(MEMBERS_TRANSFERRED, "registry", registry_events.MemberTransferred, on_transferred),
    )
