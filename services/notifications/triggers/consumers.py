"""The triggers: every service's events that concern somebody, each turned into a notice for its recipients.

Each handler decodes nothing more than its event and makes one use-case call in the routed county's unit of work
(inbox-deduplicated per durable). Durable names are forever: ``notifications-trigger-<event>[-<side>]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from jinqiao.events.v1 import desk_events_pb2 as desk_events
from jinqiao.events.v1 import loan_events_pb2 as loan_events
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery, Handler, Subscription
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.process import ServiceContext
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.triggers import service

_Use = Callable[[UnitOfWork, NotificationsDeps, Any, Delivery], Awaitable[object]]


def _bind(deps: NotificationsDeps, use: _Use) -> Handler:
    """A broker handler running ``use`` with the service's deps."""

    async def handle(uow: UnitOfWork, event: Any, delivery: Delivery) -> None:
        await use(uow, deps, event, delivery)

    return handle


# ---- flows (organizations, registry)


async def on_offer_station(uow: UnitOfWork, deps: NotificationsDeps, event: org_events.TemporaryMembershipOffered,
                           delivery: Delivery) -> None:
    """Destination county (the publisher): the station expects the member."""
    await service.membership_offered_to_station(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_offer_member(uow: UnitOfWork, deps: NotificationsDeps, event: org_events.TemporaryMembershipOffered,
                          delivery: Delivery) -> None:
    """Origin county (routed there): the member learns where to 报到."""
    await service.membership_offered_to_member(uow, deps=deps, event=event, event_id=delivery.event_id,
                                               publisher=delivery.tenant)


async def on_checked_in(uow: UnitOfWork, deps: NotificationsDeps, event: org_events.CheckedIn,
                        delivery: Delivery) -> None:
    """Origin county (routed there): the home branch hears of the 报到."""
    await service.checked_in(uow, deps=deps, event=event, event_id=delivery.event_id, publisher=delivery.tenant)


async def on_policy_timer(uow: UnitOfWork, deps: NotificationsDeps, event: registry_events.PolicyTimerFired,
                          delivery: Delivery) -> None:
    """A policy timer of a flow ran out (home county)."""
    await service.policy_timer_fired(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_alert_acknowledged(uow: UnitOfWork, deps: NotificationsDeps, event: registry_events.AlertAcknowledged,
                                delivery: Delivery) -> None:
    """The registry's 预警 case was acknowledged."""
    await service.alert_settled(uow, deps=deps, timer=event.timer, flow_id=event.flow_id, by=event.acknowledged_by)


async def on_alert_closed(uow: UnitOfWork, deps: NotificationsDeps, event: registry_events.AlertClosed,
                          delivery: Delivery) -> None:
    """The registry's 预警 case was closed."""
    await service.alert_settled(uow, deps=deps, timer=event.timer, flow_id=event.flow_id, by=event.closed_by)


async def on_flow_closed(uow: UnitOfWork, deps: NotificationsDeps, event: registry_events.FlowClosed,
                         delivery: Delivery) -> None:
    """The flow ended."""
    await service.flow_closed(uow, deps=deps, event=event)


async def on_meeting(uow: UnitOfWork, deps: NotificationsDeps, event: org_events.MeetingScheduled,
                     delivery: Delivery) -> None:
    """A meeting was scheduled: its attendees, guests included."""
    await service.meeting_scheduled(uow, deps=deps, event=event, event_id=delivery.event_id)


# ---- tickets (desk)


async def on_ticket_opened(uow: UnitOfWork, deps: NotificationsDeps, event: desk_events.TicketOpened,
                           delivery: Delivery) -> None:
    """A new ticket in a queue."""
    await service.ticket_opened(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_ticket_replied(uow: UnitOfWork, deps: NotificationsDeps, event: desk_events.TicketReplied,
                            delivery: Delivery) -> None:
    """The office answered a member (routed to the member's home county)."""
    await service.ticket_replied(uow, deps=deps, event=event, event_id=delivery.event_id,
                                 publisher=delivery.tenant)


async def on_ticket_sla_warned(uow: UnitOfWork, deps: NotificationsDeps, event: desk_events.TicketSlaWarned,
                               delivery: Delivery) -> None:
    """A ticket's time limit is near."""
    await service.ticket_sla_warned(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_ticket_sla_breached(uow: UnitOfWork, deps: NotificationsDeps, event: desk_events.TicketSlaBreached,
                                 delivery: Delivery) -> None:
    """A ticket's time limit passed."""
    await service.ticket_sla_breached(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_ticket_ended(uow: UnitOfWork, deps: NotificationsDeps,
                          event: desk_events.TicketResolved | desk_events.TicketClosed, delivery: Delivery) -> None:
    """A ticket was resolved or closed."""
    await service.ticket_ended(uow, deps=deps, ticket_id=event.ticket_id)


# ---- loans (desk)


async def on_loan_pending(uow: UnitOfWork, deps: NotificationsDeps,
                          event: loan_events.LoanApplied | loan_events.LoanReviewed, delivery: Delivery) -> None:
    """An application waits for its next reviewer."""
    await service.loan_review_pending(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_loan_decided(uow: UnitOfWork, deps: NotificationsDeps,
                          event: loan_events.LoanRefused | loan_events.LoanWithdrawn | loan_events.LoanCreditGranted,
                          delivery: Delivery) -> None:
    """The review ended one way or another."""
    await service.loan_decided(uow, deps=deps, loan_id=event.loan_id)


async def on_loan_step_overdue(uow: UnitOfWork, deps: NotificationsDeps, event: loan_events.LoanStepOverdue,
                               delivery: Delivery) -> None:
    """A review tier let its limit pass."""
    await service.loan_step_overdue(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_instalment_due(uow: UnitOfWork, deps: NotificationsDeps, event: loan_events.LoanInstalmentDue,
                            delivery: Delivery) -> None:
    """An instalment comes due."""
    await service.instalment_due(uow, deps=deps, event=event, event_id=delivery.event_id)


async def on_loan_overdue(uow: UnitOfWork, deps: NotificationsDeps, event: loan_events.LoanOverdue,
                          delivery: Delivery) -> None:
    """A loan is past due."""
    await service.loan_overdue(uow, deps=deps, event=event, event_id=delivery.event_id)


# (durable name, source service, event, use case, route): routes name the county the effect is written in.
_TO_ORIGIN = kit_broker.addressed_to("origin_tenant_id")
_TO_MEMBER_HOME = kit_broker.addressed_to("member_home_tenant_id")
TRIGGERS: tuple[tuple[str, str, Any, _Use, kit_broker.Route | None], ...] = (
    ("notifications-trigger-membership-offered-station", "organizations", org_events.TemporaryMembershipOffered,
     on_offer_station, None),
    ("notifications-trigger-membership-offered-member", "organizations", org_events.TemporaryMembershipOffered,
     on_offer_member, _TO_ORIGIN),
    ("notifications-trigger-checked-in", "organizations", org_events.CheckedIn, on_checked_in, _TO_ORIGIN),
    ("notifications-trigger-policy-timer-fired", "registry", registry_events.PolicyTimerFired, on_policy_timer,
     None),
    ("notifications-trigger-alert-acknowledged", "registry", registry_events.AlertAcknowledged,
     on_alert_acknowledged, None),
    ("notifications-trigger-alert-closed", "registry", registry_events.AlertClosed, on_alert_closed, None),
    ("notifications-trigger-flow-closed", "registry", registry_events.FlowClosed, on_flow_closed, None),
    ("notifications-trigger-meeting-scheduled", "organizations", org_events.MeetingScheduled, on_meeting, None),
    ("notifications-trigger-ticket-opened", "desk", desk_events.TicketOpened, on_ticket_opened, None),
    ("notifications-trigger-ticket-replied", "desk", desk_events.TicketReplied, on_ticket_replied,
     _TO_MEMBER_HOME),
    ("notifications-trigger-ticket-sla-warned", "desk", desk_events.TicketSlaWarned, on_ticket_sla_warned, None),
    ("notifications-trigger-ticket-sla-breached", "desk", desk_events.TicketSlaBreached, on_ticket_sla_breached,
     None),
    ("notifications-trigger-ticket-resolved", "desk", desk_events.TicketResolved, on_ticket_ended, None),
    ("notifications-trigger-ticket-closed", "desk", desk_events.TicketClosed, on_ticket_ended, None),
    ("notifications-trigger-loan-applied", "desk", loan_events.LoanApplied, on_loan_pending, None),
    ("notifications-trigger-loan-reviewed", "desk", loan_events.LoanReviewed, on_loan_pending, None),
    ("notifications-trigger-loan-refused", "desk", loan_events.LoanRefused, on_loan_decided, None),
    ("notifications-trigger-loan-withdrawn", "desk", loan_events.LoanWithdrawn, on_loan_decided, None),
    ("notifications-trigger-loan-credit-granted", "desk", loan_events.LoanCreditGranted, on_loan_decided, None),
    ("notifications-trigger-loan-step-overdue", "desk", loan_events.LoanStepOverdue, on_loan_step_overdue, None),
    ("notifications-trigger-loan-instalment-due", "desk", loan_events.LoanInstalmentDue, on_instalment_due, None),
    ("notifications-trigger-loan-overdue", "desk", loan_events.LoanOverdue, on_loan_overdue, None),
)


def subscribe(ctx: ServiceContext, deps: NotificationsDeps) -> None:
    """Subscribe the triggers' durable consumers."""
    ctx.subscribe(*(Subscription(name, source, event, _bind(deps, use), route)
                    for name, source, event, use, route in TRIGGERS))
