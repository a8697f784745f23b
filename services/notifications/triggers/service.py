"""The triggers' use cases: one per event, each runs in the routed county's unit of work (the consumer's) and tells
the people it concerns through deliveries.notify, or opens/settles an escalation. Idempotent: a redelivered event
makes the same idempotency keys (event id × recipient × channel), so nobody hears of it twice."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from jinqiao.events.v1 import desk_events_pb2 as desk_events
from jinqiao.events.v1 import loan_events_pb2 as loan_events
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import ForgedEvent
from jinqiao.kit.regions import name_of
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.deliveries import service as deliveries
from jinqiao.notifications.deliveries.domain import Notice
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory import service as directory
from jinqiao.notifications.directory.domain import (
    TOWNSHIP_KIND,
    MemberEntry,
    Recipient,
    member_address,
    seat_address,
    user_address,
)
from jinqiao.notifications.escalations import service as escalations
from jinqiao.notifications.triggers import domain
from jinqiao.notifications.triggers.domain import (
    EscalationPlan,
    MemberTarget,
    Office,
    Plan,
    SeatTarget,
    Target,
    UserTarget,
)

log = logging.getLogger(__name__)
# A meeting is never worth an SMS: the inbox and e-mail only.
MEETING_CHANNELS = frozenset({Channel.IN_APP, Channel.EMAIL})
# A bound on walking up the tree (a cycle in a replica must not hang a consumer).
_MAX_DEPTH = 12


# ---- shared steps


async def _member(uow: UnitOfWork, member_id: str) -> MemberEntry | None:
    """The county's own member, or None (unknown yet, or another county's)."""
    if not member_id:
        return None
    return await directory.member(uow, member_id=member_id)


async def _org_name(uow: UnitOfWork, org_id: str) -> str:
    """An org's name as the county's directory knows it ("" when it does not)."""
    if not org_id:
        return ""
    found = await directory.org(uow, org_id=org_id)
    return found.name if found is not None else ""


async def _recipients(uow: UnitOfWork, target: Target, *, member_label: str = "") -> list[Recipient]:
    """The recipients a target names, in ``uow``'s county (an office walks up the tree when nobody is there)."""
    if isinstance(target, Office):
        found, _steps = await directory.resolve(uow, org_id=target.org_id, audience=target.audience)
        return [found]
    if isinstance(target, MemberTarget):
        # A member the county does not know yet is still told (their inbox is keyed on the id).
        return [Recipient(address=member_address(target.member_id), tenant=uow.tenant, label=member_label)]
    if isinstance(target, UserTarget):
        return [Recipient(address=user_address(target.username), tenant=uow.tenant, label=target.username)]
    assert isinstance(target, SeatTarget)
    return [Recipient(address=seat_address(target.role, target.org), tenant=uow.tenant, label=target.label,
                      org_id=target.org)]


def _notice(plan: Plan | tuple[str, dict[str, str], str], event_id: str,
            channels: frozenset[Channel] = frozenset()) -> Notice:
    kind, facts, link = (plan.kind, plan.facts, plan.link) if isinstance(plan, Plan) else plan
    return Notice(source_key=event_id, kind=kind, facts=dict(facts), link=link, event_id=event_id,
                  channels=channels)


async def _tell(uow: UnitOfWork, deps: NotificationsDeps, plan: Plan, event_id: str, *, member_label: str = "",
                now: datetime | None = None) -> int:
    """Resolve the plan's target and hand the notice to deliveries; how many delivery rows were made."""
    recipients = await _recipients(uow, plan.target, member_label=member_label)
    return await deliveries.notify(uow, deps=deps, notice=_notice(plan, event_id), recipients=recipients,
                                   now=now or deps.clock())


async def _escalate(uow: UnitOfWork, deps: NotificationsDeps, plan: EscalationPlan, event_id: str) -> None:
    """Open the matter's escalation (or climb it to the event's level)."""
    await escalations.raise_escalation(uow, deps=deps, kind=plan.kind, subject_id=plan.subject_id,
                                       member_id=plan.member_id, start_org_id=plan.start_org_id, level=plan.level,
                                       facts=dict(plan.facts), link=plan.link, event_id=event_id, now=deps.clock())


async def _settle(uow: UnitOfWork, deps: NotificationsDeps, kind: str, subject_id: str, by: str = "") -> None:
    """The matter was acknowledged (``by``) or ended (""): its escalation stops climbing."""
    if subject_id:
        await escalations.settle(uow, kind=kind, subject_id=subject_id, acknowledged_by=by, now=deps.clock())


# ---- flows


class FlowNotYetKnown(Exception):
    """A flow's registration has not reached this county's directory yet (its own stream): retried with back-off,
    never a DomainError, which would dead-letter it at once."""


async def _placed_by_publisher(uow: UnitOfWork, *, flow_id: str, member_id: str, publisher: str) -> bool:
    """Whether another county's word about one of this county's flows is believed: that county places the flow's
    current attempt for that member (DESIGN §5: an event's origin must agree with the state it claims to change).
    False when the flow has ended; a flow not known yet is retried; a disagreeing one is dead-lettered as forged."""
    if publisher == uow.tenant:
        return True
    known = await directory.flow_placing(uow, flow_id=flow_id)
    if known is None:
        raise FlowNotYetKnown(flow_id)
    member, placing, closed = known
    if member != member_id or placing != publisher:
        raise ForgedEvent(f"{publisher} 并非该外出登记当前的安置县")
    return not closed


async def membership_offered_to_station(uow: UnitOfWork, *, deps: NotificationsDeps,
                                        event: org_events.TemporaryMembershipOffered, event_id: str) -> int:
    """Destination county: the station serving the offered org expects the member's 报到."""
    entry = await _member(uow, event.member_id)
    plan = domain.offer_to_station(org_id=event.org_id, org_name=event.org_name,
                                   member_name=entry.name if entry else "",
                                   home_county=name_of(event.origin_tenant_id), rule=event.rule)
    return await _tell(uow, deps, plan, event_id)


async def membership_offered_to_member(uow: UnitOfWork, *, deps: NotificationsDeps,
                                       event: org_events.TemporaryMembershipOffered, event_id: str,
                                       publisher: str) -> int:
    """Origin county: the member learns which org to 报到 at (only from the county placing the flow)."""
    if not await _placed_by_publisher(uow, flow_id=event.flow_id, member_id=event.member_id, publisher=publisher):
        return 0
    entry = await _member(uow, event.member_id)
    name = entry.name if entry else ""
    plan = domain.offer_to_member(member_id=event.member_id, member_name=name, org_name=event.org_name,
                                  destination=name_of(event.destination_code or publisher))
    return await _tell(uow, deps, plan, event_id, member_label=name)


async def checked_in(uow: UnitOfWork, *, deps: NotificationsDeps, event: org_events.CheckedIn,
                     event_id: str, publisher: str) -> int:
    """Origin county: the home branch hears of the 报到, and an overdue-报到 escalation stops (only the county
    placing the flow may say so: a forged 报到 must not silence an escalation)."""
    if not await _placed_by_publisher(uow, flow_id=event.flow_id, member_id=event.member_id, publisher=publisher):
        return 0
    entry = await _member(uow, event.member_id)
    plan = domain.checked_in(flow_id=event.flow_id, home_org_id=entry.home_org_id if entry else None,
                             member_name=entry.name if entry else "", org_name=event.org_name,
                             checked_in_at=event.checked_in_at)
    told = await _tell(uow, deps, plan, event_id)
    await _settle(uow, deps, domain.ESC_CHECK_IN, event.flow_id)
    return told


async def policy_timer_fired(uow: UnitOfWork, *, deps: NotificationsDeps, event: registry_events.PolicyTimerFired,
                             event_id: str) -> int:
    """Home county: 报到 overdue escalates; 活动证 expiry / report-back tell the member; 应转尽转 the home branch."""
    entry = await _member(uow, event.member_id)
    plan = domain.policy_timer(timer=event.timer, flow_id=event.flow_id, member_id=event.member_id,
                               home_org_id=entry.home_org_id if entry else None,
                               member_name=entry.name if entry else "", level=event.level, due_date=event.due_date,
                               destination=name_of(event.destination_code) if event.destination_code else "")
    if plan is None:
        return 0
    if isinstance(plan, EscalationPlan):
        await _escalate(uow, deps, plan, event_id)
        return 0
    return await _tell(uow, deps, plan, event_id, member_label=entry.name if entry else "")


async def alert_settled(uow: UnitOfWork, *, deps: NotificationsDeps, timer: str, flow_id: str, by: str) -> None:
    """The registry's 预警 case of an overdue 报到 was acknowledged or closed: the escalation stops climbing."""
    if timer == domain.CHECK_IN_OVERDUE:
        await _settle(uow, deps, domain.ESC_CHECK_IN, flow_id, by)


async def flow_closed(uow: UnitOfWork, *, deps: NotificationsDeps, event: registry_events.FlowClosed) -> None:
    """The flow ended (回归, 转出): nothing is overdue any more."""
    await _settle(uow, deps, domain.ESC_CHECK_IN, event.flow_id)


async def meeting_scheduled(uow: UnitOfWork, *, deps: NotificationsDeps, event: org_events.MeetingScheduled,
                            event_id: str) -> int:
    """Every attendee hears of the meeting: the county's own members here, guests in their home counties (each its
    own unit of work, committed; a redelivery finds the same idempotency keys and adds nothing)."""
    plan = domain.meeting(org_name=await _org_name(uow, event.org_id), title=event.title,
                          meeting_type=event.type, start_time=event.start_time)
    notice = _notice(plan, event_id, MEETING_CHANNELS)
    now = deps.clock()
    by_county: dict[str, list[Recipient]] = {}
    for recipient in await directory.attendees(uow, org_id=event.org_id):
        by_county.setdefault(recipient.tenant or uow.tenant, []).append(recipient)
    told = 0
    for county, recipients in sorted(by_county.items()):
        told += await _tell_in(uow, deps, county, notice, recipients, now)
    return told


async def _tell_in(uow: UnitOfWork, deps: NotificationsDeps, county: str, notice: Notice,
                   recipients: Sequence[Recipient], now: datetime) -> int:
    """Notify in the handler's county, or in another county's own unit of work (a guest's home county)."""
    if county == uow.tenant:
        return await deliveries.notify(uow, deps=deps, notice=notice, recipients=recipients, now=now)
    async with deps.db.unit_of_work(tenant=county) as other:
        # A guest's home county believes the meeting's county only for members it has placed there.
        believed = [r for r in recipients if await directory.placed_by(
            other, member_id=r.address.removeprefix("member:"), county=uow.tenant)]
        if not believed:
            return 0
        made = await deliveries.notify(other, deps=deps, notice=notice, recipients=believed, now=now)
        await other.commit()
    return made


# ---- tickets


async def ticket_opened(uow: UnitOfWork, *, deps: NotificationsDeps, event: desk_events.TicketOpened,
                        event_id: str) -> int:
    """A new ticket in the queue: the serving station's office (or the county department's)."""
    plan = domain.ticket_opened(ticket_id=event.ticket_id, category=event.category,
                                serving_org_id=event.serving_org_id,
                                org_name=await _org_name(uow, event.serving_org_id), priority=event.priority)
    return await _tell(uow, deps, plan, event_id)


async def ticket_replied(uow: UnitOfWork, *, deps: NotificationsDeps, event: desk_events.TicketReplied,
                         event_id: str, publisher: str) -> int:
    """The member's home county: the member hears the office answered (the office may be another county's)."""
    if publisher != uow.tenant and not await directory.placed_by(uow, member_id=event.member_id, county=publisher):
        # Another county's desk speaks of this member only while placing them; a reply from elsewhere (a referral
        # passed on to a third county) is not told, and the member still sees it on the ticket.
        log.warning("ticket reply from %s not told: the member is not placed there (ticket %s)", publisher,
                    event.ticket_id)
        return 0
    entry = await _member(uow, event.member_id)
    org_name = await _org_name(uow, event.serving_org_id) if publisher == uow.tenant else ""
    plan = domain.ticket_replied(ticket_id=event.ticket_id, member_id=event.member_id, category=event.category,
                                 org_name=org_name, title=event.title, reply_kind=event.kind)
    return await _tell(uow, deps, plan, event_id, member_label=entry.name if entry else "")


async def ticket_sla_warned(uow: UnitOfWork, *, deps: NotificationsDeps, event: desk_events.TicketSlaWarned,
                            event_id: str) -> int:
    """A ticket's time limit is near: its assignee, else the queue's office."""
    plan = domain.ticket_sla_warned(ticket_id=event.ticket_id, category=event.category,
                                    serving_org_id=event.serving_org_id,
                                    org_name=await _org_name(uow, event.serving_org_id), assignee=event.assignee,
                                    clock=event.clock, due_at=event.due_at)
    return await _tell(uow, deps, plan, event_id)


async def ticket_sla_breached(uow: UnitOfWork, *, deps: NotificationsDeps, event: desk_events.TicketSlaBreached,
                              event_id: str) -> None:
    """A ticket's time limit passed: escalate from its station up the tree until somebody acknowledges."""
    plan = domain.ticket_sla_breached(ticket_id=event.ticket_id, category=event.category,
                                      serving_org_id=event.serving_org_id,
                                      org_name=await _org_name(uow, event.serving_org_id), clock=event.clock,
                                      due_at=event.due_at)
    await _escalate(uow, deps, plan, event_id)


async def ticket_ended(uow: UnitOfWork, *, deps: NotificationsDeps, ticket_id: str) -> None:
    """The ticket was resolved or closed: a breached-SLA escalation stops."""
    await _settle(uow, deps, domain.ESC_TICKET, ticket_id)


# ---- loans


async def loan_review_pending(uow: UnitOfWork, *, deps: NotificationsDeps,
                              event: loan_events.LoanApplied | loan_events.LoanReviewed, event_id: str) -> int:
    """The next reviewer of an application hears of it (a review also ends the previous tier's overdue matter)."""
    entry = await _member(uow, event.member_id)
    product = event.product if isinstance(event, loan_events.LoanApplied) else ""
    bank_code = event.bank_code if isinstance(event, loan_events.LoanReviewed) else ""
    facts = domain.loan_facts(member_name=entry.name if entry else "", amount_fen=event.amount_fen,
                              programme_name=domain.PRODUCT_LABELS.get(product, ""), tier=event.pending_tier,
                              due_at=event.step_due_at)
    if isinstance(event, loan_events.LoanReviewed):
        await _settle(uow, deps, domain.ESC_LOAN, domain.loan_step_subject(event.loan_id, event.tier))
    plan = domain.loan_review_pending(loan_id=event.loan_id, pending_tier=event.pending_tier,
                                      home_org_id=entry.home_org_id if entry else None, bank_code=bank_code,
                                      facts=facts)
    return 0 if plan is None else await _tell(uow, deps, plan, event_id)


async def loan_decided(uow: UnitOfWork, *, deps: NotificationsDeps, loan_id: str) -> None:
    """Refused, withdrawn or granted: nobody is late on the review any more, at any tier."""
    for tier in domain.LOAN_TIERS:
        await _settle(uow, deps, domain.ESC_LOAN, domain.loan_step_subject(loan_id, tier))


async def loan_step_overdue(uow: UnitOfWork, *, deps: NotificationsDeps, event: loan_events.LoanStepOverdue,
                            event_id: str) -> None:
    """A review tier let its limit pass: escalate from that tier's office (the county's for the county and bank)."""
    start: str | None = None
    if event.tier == "BRANCH":
        start = event.home_org_id or None
    elif event.tier == "TOWNSHIP":
        start = await _township_of(uow, event.home_org_id)
    facts = domain.loan_facts(member_name="", amount_fen=0, programme_name="", tier=event.tier,
                              due_at=event.step_due_at)
    facts.pop("amount_yuan")
    plan = domain.loan_step_overdue(loan_id=event.loan_id, tier=event.tier, member_id=None, start_org_id=start,
                                    facts=facts)
    await _escalate(uow, deps, plan, event_id)


async def _township_of(uow: UnitOfWork, org_id: str) -> str | None:
    """The township committee above (or at) an org, walking up the directory; the org itself when none is known
    (``LoanStepOverdue.township`` is the township's name, not an org, so the tree is the way to its office)."""
    if not org_id:
        return None
    current: str | None = org_id
    for _ in range(_MAX_DEPTH):
        if current is None:
            break
        found = await directory.org(uow, org_id=current)
        if found is None:
            break
        if found.kind == TOWNSHIP_KIND:
            return found.id
        current = found.parent_id
    return org_id


async def instalment_due(uow: UnitOfWork, *, deps: NotificationsDeps, event: loan_events.LoanInstalmentDue,
                         event_id: str) -> int:
    """An instalment comes due: the borrower."""
    entry = await _member(uow, event.member_id)
    name = entry.name if entry else ""
    plan = domain.instalment_due(loan_id=event.loan_id, member_id=event.member_id, member_name=name, seq=event.seq,
                                 due_date=event.due_date, due_fen=event.due_fen, bank_name=event.bank_name)
    return await _tell(uow, deps, plan, event_id, member_label=name)


async def loan_overdue(uow: UnitOfWork, *, deps: NotificationsDeps, event: loan_events.LoanOverdue,
                       event_id: str) -> int:
    """A loan is past due: the borrower."""
    entry = await _member(uow, event.member_id)
    name = entry.name if entry else ""
    plan = domain.loan_overdue(loan_id=event.loan_id, member_id=event.member_id, member_name=name,
                               days_past_due=event.days_past_due, overdue_fen=event.overdue_fen, since=event.since,
                               bank_name=event.bank_name)
    return await _tell(uow, deps, plan, event_id, member_label=name)
