"""Replica: durable consumers of registry's and organizations' events (never their databases).

Each handler decodes the event and makes one use-case call. The org tree and the members stay in the publishing
county; a flow also reaches the county placing the member (its own durables, routed there), and the placing
county's answers also reach the origin (routed to it; the origin checks the publisher is the placing county).
Durable names are forever: never rename one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.replica import service
from jinqiao.desk.replica.domain import profile_facts
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Handler, Subscription
from jinqiao.kit.crypto import DecryptionError
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.pii import PROFILE_SEAL_COLUMN, PROFILE_SEAL_TABLE
from jinqiao.kit.process import ServiceContext

log = logging.getLogger(__name__)

# ---- the org tree


async def on_org_created(uow: UnitOfWork, event: org_events.OrgCreated, delivery: Delivery) -> None:
    """A new organisation: its name, kind and parent (as of the event's version)."""
    await service.mirror_org(uow=uow, org_id=event.org_id, name=event.name, kind=event.kind)
    await service.mirror_org_parent(uow=uow, org_id=event.org_id, parent_id=event.parent_id,
                                    version=event.meta.aggregate_version)


async def on_org_renamed(uow: UnitOfWork, event: org_events.OrgRenamed, delivery: Delivery) -> None:
    """A renamed organisation."""
    await service.mirror_org(uow=uow, org_id=event.org_id, name=event.name)


async def on_org_dissolved(uow: UnitOfWork, event: org_events.OrgDissolved, delivery: Delivery) -> None:
    """A dissolved organisation (a dissolved station keeps no queue)."""
    await service.mirror_org(uow=uow, org_id=event.org_id, dissolved=True)


async def on_org_moved(uow: UnitOfWork, event: org_events.OrgMoved, delivery: Delivery) -> None:
    """An organisation moved with its subtree under another parent."""
    await service.mirror_org_parent(uow=uow, org_id=event.org_id, parent_id=event.new_parent_id,
                                    version=event.meta.aggregate_version)


# ---- members of the publishing county


async def on_member_registered(uow: UnitOfWork, event: registry_events.MemberRegistered,
                               delivery: Delivery) -> None:
    """A member registered (created, imported, transferred in)."""
    await service.mirror_member(uow=uow, member_id=event.member_id, name=event.name,
                                home_org_id=event.home_org_id, township=event.township)


def on_member_profile_changed(deps: DeskDeps) -> Handler:
    """The facts loan programmes decide on (issue 14): the full current set, the newest by occur time kept."""

    async def handle(uow: UnitOfWork, event: registry_events.MemberProfileChanged, delivery: Delivery) -> None:
        at = event.meta.occur_time.ToDatetime(tzinfo=UTC) if event.meta.HasField("occur_time") else None
        if at is None:
            return
        await _member_profile(uow, event, delivery, at=at, birth_year=_birth_year(deps, event, delivery))

    return handle


def _birth_year(deps: DeskDeps, event: registry_events.MemberProfileChanged, delivery: Delivery) -> int:
    """The sealed birth year, opened for the publishing county's member; 0 (unknown) when it will not open."""
    if not event.birth_year_sealed:
        return 0
    try:
        text = deps.cipher.decrypt(event.birth_year_sealed, tenant=delivery.tenant, table=PROFILE_SEAL_TABLE,
                                   column=PROFILE_SEAL_COLUMN, row=event.member_id)
    except DecryptionError:
        # Sealed for another county or member, or garbled: the age rule then says the year is not known.
        log.warning("member profile: birth year does not open", extra={"tenant": delivery.tenant})
        return 0
    return int(text) if text.isdigit() else 0


async def _member_profile(uow: UnitOfWork, event: registry_events.MemberProfileChanged, delivery: Delivery, *,
                          at: datetime, birth_year: int) -> None:
    await service.member_profile(
        uow=uow, publisher=delivery.tenant, event_tenant=event.meta.tenant_id,
        facts=profile_facts(member_id=event.member_id, name=event.name, home_org_id=event.home_org_id,
                            township=event.township, active=event.active,
                            membership_status_name=event.membership_status, join_date=event.join_date,
                            birth_year=birth_year, latest_grade=event.latest_grade,
                            latest_grade_year=event.latest_grade_year, returned=event.returned, at=at),
    )


async def on_member_transferred(uow: UnitOfWork, event: registry_events.MemberTransferred,
                                delivery: Delivery) -> None:
    """组织关系转接: inactive at the origin (the destination's own MemberRegistered creates them there)."""
    await service.member_left(uow=uow, member_id=event.member_id)


async def on_flow_opened(uow: UnitOfWork, event: registry_events.FlowRegistered | registry_events.FlowRedirected,
                         delivery: Delivery) -> None:
    """At the origin: the member is away, and which county places them."""
    at = event.meta.occur_time.ToDatetime(tzinfo=UTC) if event.meta.HasField("occur_time") else None
    await service.member_flow_opened(uow=uow, member_id=event.member_id, flow_id=event.flow_id,
                                     attempt=event.attempt, destination_code=event.handover.destination_code,
                                     placing_tenant_id=event.handover.placing_tenant_id, at=at)


async def on_flow_closed(uow: UnitOfWork, event: registry_events.FlowClosed, delivery: Delivery) -> None:
    """At the origin: the flow ended."""
    await service.member_flow_closed(uow=uow, member_id=event.member_id, flow_id=event.flow_id)


# ---- the placing county's answers, at the origin (routed to origin_tenant_id)


async def on_member_offered(uow: UnitOfWork, event: org_events.TemporaryMembershipOffered,
                            delivery: Delivery) -> None:
    """The placing county offered its member a temporary membership (临时组织关系)."""
    await service.member_placed(uow=uow, member_id=event.member_id, flow_id=event.flow_id,
                                answered_by=delivery.tenant, attempt=event.attempt, status="OFFERED",
                                org_id=event.org_id, org_name=event.org_name)


async def on_member_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """The member checked in (报到) at the placing county's organisation."""
    await service.member_placed(uow=uow, member_id=event.member_id, flow_id=event.flow_id,
                                answered_by=delivery.tenant, attempt=event.attempt, status="CHECKED_IN",
                                org_id=event.org_id, org_name=event.org_name)


# ---- guests, at the placing county


async def on_guest_flow(uow: UnitOfWork, event: registry_events.FlowRegistered | registry_events.FlowRedirected,
                        delivery: Delivery) -> None:
    """The origin (the verified publisher, never a field) asks this county to place its member."""
    await service.guest_registered(
        uow=uow, origin_tenant_id=delivery.tenant, flow_id=event.flow_id, member_id=event.member_id,
        attempt=event.attempt, placing_tenant_id=event.handover.placing_tenant_id,
        out_of_province=event.handover.out_of_province, member_name=event.handover.member_name,
        id_number_masked=event.handover.id_number_masked,
    )


async def on_guest_superseded(uow: UnitOfWork, event: registry_events.FlowRedirected, delivery: Delivery) -> None:
    """The previous placing county's attempt is over."""
    await service.guest_superseded(uow=uow, origin_tenant_id=delivery.tenant, flow_id=event.flow_id,
                                   member_id=event.member_id, attempt=event.attempt)


async def on_guest_flow_closed(uow: UnitOfWork, event: registry_events.FlowClosed, delivery: Delivery) -> None:
    """The origin closed the flow: no longer a guest here."""
    await service.guest_flow_closed(uow=uow, origin_tenant_id=delivery.tenant, flow_id=event.flow_id,
                                    member_id=event.member_id)


async def on_guest_offered(uow: UnitOfWork, event: org_events.TemporaryMembershipOffered,
                           delivery: Delivery) -> None:
    """This county's organisations offered the guest a temporary membership."""
    await service.guest_placement(uow=uow, origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id,
                                  member_id=event.member_id, attempt=event.attempt, status="OFFERED",
                                  org_id=event.org_id, org_name=event.org_name)


async def on_guest_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """The guest checked in (报到) here."""
    await service.guest_placement(uow=uow, origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id,
                                  member_id=event.member_id, attempt=event.attempt, status="CHECKED_IN",
                                  org_id=event.org_id, org_name=event.org_name)


async def on_guest_refused(uow: UnitOfWork, event: org_events.TemporaryMembershipRefused,
                           delivery: Delivery) -> None:
    """This county refused the flow, or nothing fitted."""
    await service.guest_placement(uow=uow, origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id,
                                  member_id=event.member_id, attempt=event.attempt, status="REFUSED")


async def on_guest_membership_closed(uow: UnitOfWork, event: org_events.TemporaryMembershipClosed,
                                     delivery: Delivery) -> None:
    """This county closed the guest's temporary membership."""
    await service.guest_placement(uow=uow, origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id,
                                  member_id=event.member_id, attempt=event.attempt, status="CLOSED")


# ---- routes


def _placing(event: registry_events.FlowRegistered | registry_events.FlowRedirected) -> str:
    """The county placing the member; a flow placed nowhere goes back to its publisher, whose handler skips it."""
    return event.handover.placing_tenant_id or event.meta.tenant_id


def _previous_placing(event: registry_events.FlowRedirected) -> str:
    """The county that placed the previous attempt (an old producer leaving it empty means the same county)."""
    return event.previous_placing_tenant_id or _placing(event)


def _closing(event: registry_events.FlowClosed) -> str:
    """The county holding the flow's guest."""
    return event.placing_tenant_id or event.meta.tenant_id


def subscribe(ctx: ServiceContext, deps: DeskDeps) -> None:
    """Register the durable consumers."""
    to_origin = kit_broker.addressed_to("origin_tenant_id")
    ctx.subscribe(
        Subscription("desk-org-created", "organizations", org_events.OrgCreated, on_org_created),
        Subscription("desk-org-renamed", "organizations", org_events.OrgRenamed, on_org_renamed),
        Subscription("desk-org-dissolved", "organizations", org_events.OrgDissolved, on_org_dissolved),
        Subscription("desk-org-moved", "organizations", org_events.OrgMoved, on_org_moved),
        Subscription("desk-member-registered", "registry", registry_events.MemberRegistered, on_member_registered),
        Subscription("desk-replica-member-profile", "registry", registry_events.MemberProfileChanged,
                     on_member_profile_changed(deps)),
        Subscription("desk-member-transferred", "registry", registry_events.MemberTransferred,
                     on_member_transferred),
        Subscription("desk-member-flow-registered", "registry", registry_events.FlowRegistered, on_flow_opened),
        Subscription("desk-member-flow-redirected", "registry", registry_events.FlowRedirected, on_flow_opened),
        Subscription("desk-member-flow-closed", "registry", registry_events.FlowClosed, on_flow_closed),
        Subscription("desk-member-offered", "organizations", org_events.TemporaryMembershipOffered,
                     on_member_offered, to_origin),
        Subscription("desk-member-checked-in", "organizations", org_events.CheckedIn, on_member_checked_in,
                     to_origin),
        Subscription("desk-guest-flow-registered", "registry", registry_events.FlowRegistered, on_guest_flow,
                     _placing),
        Subscription("desk-guest-flow-redirected", "registry", registry_events.FlowRedirected, on_guest_flow,
                     _placing),
        Subscription("desk-guest-flow-superseded", "registry", registry_events.FlowRedirected, on_guest_superseded,
                     _previous_placing),
        Subscription("desk-guest-flow-closed", "registry", registry_events.FlowClosed, on_guest_flow_closed,
                     _closing),
        Subscription("desk-guest-offered", "organizations", org_events.TemporaryMembershipOffered, on_guest_offered),
        Subscription("desk-guest-checked-in", "organizations", org_events.CheckedIn, on_guest_checked_in),
        Subscription("desk-guest-refused", "organizations", org_events.TemporaryMembershipRefused,
                     on_guest_refused),
        Subscription("desk-guest-membership-closed", "organizations", org_events.TemporaryMembershipClosed,
                     on_guest_membership_closed),
    )
