"""The directory's consumers: orgs, officers, members and guests from organizations' and registry's events.

Each handler decodes the event and makes one use-case call in the publishing county (no route: the directory of a
county is what that county published; a guest is kept at the county holding its temporary membership). Every call is
an upsert that only moves a row forward, so duplicates and events out of order converge. Durable names are forever.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit.broker import Delivery, Handler, Subscription
from jinqiao.kit.clock import utc_now
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory import service


def _at(event: org_events.OrgCreated | org_events.OrgMoved | org_events.OfficerAppointed
        | org_events.OfficerAppointmentEnded | registry_events.MemberProfileChanged
        | org_events.TemporaryMembershipOffered | org_events.CheckedIn | org_events.TemporaryMembershipClosed
        | registry_events.FlowRegistered | registry_events.FlowRedirected | registry_events.FlowClosed
        ) -> datetime:
    """The event's occur time (an event without one, from an old producer, counts as now)."""
    return event.meta.occur_time.ToDatetime(tzinfo=UTC) if event.meta.HasField("occur_time") else utc_now()


# ---- the org tree


async def on_org_created(uow: UnitOfWork, event: org_events.OrgCreated, delivery: Delivery) -> None:
    """A new org: kind, name and parent (a later move is never undone)."""
    await service.org_placed(uow, org_id=event.org_id, parent_id=event.parent_id, at=_at(event), kind=event.kind,
                             name=event.name)


async def on_org_moved(uow: UnitOfWork, event: org_events.OrgMoved, delivery: Delivery) -> None:
    """An org moved under another parent."""
    await service.org_placed(uow, org_id=event.org_id, parent_id=event.new_parent_id, at=_at(event))


async def on_org_renamed(uow: UnitOfWork, event: org_events.OrgRenamed, delivery: Delivery) -> None:
    """An org renamed."""
    await service.org_renamed(uow, org_id=event.org_id, name=event.name)


async def on_org_dissolved(uow: UnitOfWork, event: org_events.OrgDissolved, delivery: Delivery) -> None:
    """An org dissolved."""
    await service.org_dissolved(uow, org_id=event.org_id)


# ---- officers


def on_officer_appointed(deps: NotificationsDeps) -> Handler:
    """An appointment (任职): the officer's phone re-sealed for the directory."""

    async def handle(uow: UnitOfWork, event: org_events.OfficerAppointed, delivery: Delivery) -> None:
        await service.officer_appointed(
            uow, deps=deps, publisher=delivery.tenant, appointment_id=event.appointment_id,
            officer_id=event.officer_id, org_id=event.org_id, position=event.position,
            officer_name=event.officer_name, phone_sealed=event.phone_sealed, phone_masked=event.phone_masked,
            at=_at(event),
        )

    return handle


async def on_appointment_ended(uow: UnitOfWork, event: org_events.OfficerAppointmentEnded,
                               delivery: Delivery) -> None:
    """An appointment ended (离任)."""
    await service.appointment_ended(uow, appointment_id=event.appointment_id, officer_id=event.officer_id,
                                    org_id=event.org_id, position=event.position, at=_at(event))


# ---- the county's members


async def on_member_profile(uow: UnitOfWork, event: registry_events.MemberProfileChanged,
                            delivery: Delivery) -> None:
    """A member's current facts: name, home branch, township, still on the roster."""
    await service.member_profile(uow, member_id=event.member_id, name=event.name, home_org_id=event.home_org_id,
                                 township=event.township, active=event.active, at=_at(event))


async def on_flow_placed(uow: UnitOfWork, event: registry_events.FlowRegistered | registry_events.FlowRedirected,
                         delivery: Delivery) -> None:
    """An outflow registered or redirected: the county that places this attempt (the only other county whose word
    about the member is believed: its offer, its station's replies, its meetings)."""
    await service.flow_placed(uow, flow_id=event.flow_id, member_id=event.member_id,
                              placing_tenant_id=event.handover.placing_tenant_id, attempt=event.attempt,
                              at=_at(event))


async def on_flow_closed(uow: UnitOfWork, event: registry_events.FlowClosed, delivery: Delivery) -> None:
    """The outflow ended (回归, 转出, cancelled)."""
    await service.flow_closed(uow, flow_id=event.flow_id, member_id=event.member_id,
                              placing_tenant_id=event.placing_tenant_id, at=_at(event))


# ---- guests at the county's orgs (the publisher is the destination county)


async def on_guest_offered(uow: UnitOfWork, event: org_events.TemporaryMembershipOffered,
                           delivery: Delivery) -> None:
    """A temporary membership (临时组织关系) offered at one of the county's orgs."""
    await service.guest_state(uow, membership_id=event.membership_id, member_id=event.member_id,
                              origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id, org_id=event.org_id,
                              state="offered", at=_at(event))


async def on_guest_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """The guest checked in (报到)."""
    await service.guest_state(uow, membership_id=event.membership_id, member_id=event.member_id,
                              origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id, org_id=event.org_id,
                              state="checked_in", at=_at(event))


async def on_guest_closed(uow: UnitOfWork, event: org_events.TemporaryMembershipClosed, delivery: Delivery) -> None:
    """The temporary membership closed: no longer a guest."""
    await service.guest_state(uow, membership_id=event.membership_id, member_id=event.member_id,
                              origin_tenant_id=event.origin_tenant_id, flow_id=event.flow_id, org_id="",
                              state="closed", at=_at(event))


def subscribe(ctx: ServiceContext, deps: NotificationsDeps) -> None:
    """Subscribe the directory's consumers."""
    ctx.subscribe(
        Subscription("notifications-directory-org-created", "organizations", org_events.OrgCreated, on_org_created),
        Subscription("notifications-directory-org-moved", "organizations", org_events.OrgMoved, on_org_moved),
        Subscription("notifications-directory-org-renamed", "organizations", org_events.OrgRenamed, on_org_renamed),
        Subscription("notifications-directory-org-dissolved", "organizations", org_events.OrgDissolved,
                     on_org_dissolved),
        Subscription("notifications-directory-officer-appointed", "organizations", org_events.OfficerAppointed,
                     on_officer_appointed(deps)),
        Subscription("notifications-directory-officer-appointment-ended", "organizations",
                     org_events.OfficerAppointmentEnded, on_appointment_ended),
        Subscription("notifications-directory-member-profile-changed", "registry",
                     registry_events.MemberProfileChanged, on_member_profile),
        Subscription("notifications-directory-flow-registered", "registry", registry_events.FlowRegistered,
                     on_flow_placed),
        Subscription("notifications-directory-flow-redirected", "registry", registry_events.FlowRedirected,
                     on_flow_placed),
        Subscription("notifications-directory-flow-closed", "registry", registry_events.FlowClosed, on_flow_closed),
        Subscription("notifications-directory-temporary-membership-offered", "organizations",
                     org_events.TemporaryMembershipOffered, on_guest_offered),
        Subscription("notifications-directory-checked-in", "organizations", org_events.CheckedIn,
                     on_guest_checked_in),
        Subscription("notifications-directory-temporary-membership-closed", "organizations",
                     org_events.TemporaryMembershipClosed, on_guest_closed),
    )
