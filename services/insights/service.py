"""Insights use cases: apply events to read models, answer aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.events.v1 import desk_events_pb2 as desk_events
from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import loan_events_pb2 as loan_events
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.insights import domain, repo
from jinqiao.kit.auth import Principal
from jinqiao.kit.broker import Delivery, PoisonMessage
from jinqiao.kit.db import Database, UnitOfWork
from jinqiao.kit.errors import ForgedEvent

SERVICE = "insights"


@dataclass(frozen=True, slots=True)
class InsightsDeps:
    """What the use cases need, built once in ``server.py``."""

    db: Database
    suppression_threshold: int = domain.SUPPRESSION_THRESHOLD


async def on_member_registered(uow: UnitOfWork, event: reg_events.MemberRegistered, delivery: Delivery) -> None:
    """Count a newly registered member in its county (the inbox has already ruled out duplicates)."""
    await repo.add_members(uow, count=1)


async def on_member_transferred(uow: UnitOfWork, event: reg_events.MemberTransferred, delivery: Delivery) -> None:
    """The origin no longer holds a transferred member; the destination counts them on its MemberRegistered."""
    await repo.add_members(uow, count=-1)


async def on_flow_registered(uow: UnitOfWork, event: reg_events.FlowRegistered, delivery: Delivery) -> None:
    """Record an outflow: where, when and in which trade."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, registered=True, month=domain.month_of(event.start_date),
        destination_code=event.handover.destination_code, industry=event.handover.industry, authoritative=True,
        placing_tenant_id=_placing(event.handover, origin=delivery.tenant),
    ))


async def on_flow_redirected(uow: UnitOfWork, event: reg_events.FlowRedirected, delivery: Delivery) -> None:
    """A new placement attempt: its destination and trade count from now on, older answers no longer do."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, destination_code=event.handover.destination_code, industry=event.handover.industry,
        authoritative=True, placing_tenant_id=_placing(event.handover, origin=delivery.tenant),
    ))


def _placing(handover: handover_pb2.Handover, *, origin: str) -> str:
    # The origin publishes registrations and redirections itself (not routed): the publisher is the origin.
    return domain.placing_county(origin=origin, destination_code=handover.destination_code,
                                 named=handover.placing_tenant_id)


async def on_flow_closed(uow: UnitOfWork, event: reg_events.FlowClosed, delivery: Delivery) -> None:
    """The member returned or transferred, or the outflow was cancelled: no longer away."""
    state = await _merge(uow, event.flow_id, domain.FlowFact(
        closed=True, destination_code=event.destination_code, industry=event.industry,
    ))
    returned = domain.month_in_beijing(event.closed_on) if event.reason == domain.RETURNED else None
    if returned:
        await repo.record_month(uow, flow_id=event.flow_id, kind=domain.RETURNED, month=returned,
                                registered=state.registered)


async def on_policy_timer_fired(uow: UnitOfWork, event: reg_events.PolicyTimerFired, delivery: Delivery) -> None:
    """A 报到 overdue timer marks the flow overdue until a check-in; other timers change no figure."""
    if event.timer != domain.CHECK_IN_OVERDUE:
        return
    await _merge(uow, event.flow_id, domain.FlowFact(
        overdue=True, destination_code=event.destination_code, industry=event.industry,
    ))


async def on_membership_offered(
    uow: UnitOfWork, event: org_events.TemporaryMembershipOffered, delivery: Delivery
) -> None:
    """An organisation offered a temporary membership for an attempt (held at the destination unless online)."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, offered=True, placed=domain.holds_at_destination(event.rule),
        destination_code=event.destination_code,
    ), answered_by=delivery.tenant)


async def on_membership_refused(
    uow: UnitOfWork, event: org_events.TemporaryMembershipRefused, delivery: Delivery
) -> None:
    """The placing county refused an attempt, or no organisation fitted."""
    await _merge(uow, event.flow_id, domain.FlowFact(
        attempt=event.attempt, refused=True, destination_code=event.destination_code,
    ), answered_by=delivery.tenant)


async def on_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """The member checked in (报到) for an attempt: managed, which implies offered."""
    state = await _merge(uow, event.flow_id, domain.FlowFact(attempt=event.attempt, checked_in=True),
                         answered_by=delivery.tenant)
    month = domain.month_in_beijing(event.checked_in_at)
    if month:
        await repo.record_month(uow, flow_id=event.flow_id, kind=domain.CHECKED_IN, month=month,
                                registered=state.registered)


async def on_membership_closed(
    uow: UnitOfWork, event: org_events.TemporaryMembershipClosed, delivery: Delivery
) -> None:
    """The destination released the member for an attempt."""
    await _merge(uow, event.flow_id, domain.FlowFact(attempt=event.attempt, membership_closed=True),
                 answered_by=delivery.tenant)


async def _merge(
    uow: UnitOfWork, flow_id: str, fact: domain.FlowFact, *, answered_by: str | None = None
) -> domain.FlowState:
    """Merge one fact and return the flow's state; an answer (``answered_by``: its publishing county) only from the
    county placing its attempt.

    A forged answer raises ``ForgedEvent`` (dead-lettered at once); one that overtook the origin's registration or
    redirection raises ``PlacementNotKnownYet`` (not a domain error: redelivered with back-off). Either way the unit
    of work rolls back, so the row ``lock_flow`` may have created goes with it.
    """
    if not flow_id:
        raise PoisonMessage("the event names no flow")
    current = await repo.lock_flow(uow, flow_id=flow_id)
    if answered_by is not None:
        current.ensure_answer_origin(attempt=fact.attempt, answered_by=answered_by)
    merged = current.apply(fact)
    # A duplicate or superseded fact changes nothing; the lock already bumped updated_at, nothing else to write.
    if merged != current:
        await repo.save_flow(uow, flow_id=flow_id, state=merged, previous=current)
    return merged


async def member_counts(*, deps: InsightsDeps, principal: Principal, scope: str) -> domain.CountyCounts:
    """Members per county inside a scope the caller may read; small counties hidden unless it is the own county."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        counts = await repo.member_counts(uow)
    return domain.disclose_member_counts(counts, threshold=threshold)


async def flow_matrix(
    *, deps: InsightsDeps, principal: Principal, scope: str, from_month: str, to_month: str, industry: str
) -> domain.FlowMatrix:
    """Origin → destination counts, coverage and unorganised destinations of the origins inside a scope."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    filters = domain.matrix_filter(from_month=from_month, to_month=to_month, industry=industry)
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        matrix = await repo.flow_matrix(uow, filters=filters)
        if not threshold:
            return domain.disclose_matrix(cells=matrix.cells, coverage_atoms=None, exact_coverage=matrix.coverage,
                                          unorganised=matrix.unorganised, threshold=0)
        # A wider scope: the filters choose cells only; coverage and unorganised places cover every flow.
        whole = matrix if filters == domain.NO_FILTER else await repo.flow_matrix(uow, filters=domain.NO_FILTER)
        atoms = await repo.coverage_atoms(uow)
    return domain.disclose_matrix(cells=matrix.cells, coverage_atoms=atoms, exact_coverage=[],
                                  unorganised=whole.unorganised, threshold=threshold)


async def dashboard(*, deps: InsightsDeps, principal: Principal, scope: str, to_month: str) -> domain.Dashboard:
    """A scope's figures, next level down, flows by destination and trends; small cells hidden unless own county."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    last = domain.dashboard_month(to_month, today=datetime.now(domain.BEIJING).date())
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        counts = await repo.member_counts(uow)
        if threshold <= domain.CELL_SIZES + 1:
            # The cells' sizes, kept by the consumers, give the same sums without reading every cell.
            tallies = await repo.cell_tallies(uow, threshold=threshold, area_digits=domain.area_digits(readable))
        else:
            matrix = await repo.flow_matrix(uow, filters=domain.NO_FILTER)
            tallies = domain.tally_cells(matrix.cells, scope=readable, threshold=threshold)
        atoms = await repo.coverage_atoms(uow)
        months = await repo.month_cells(uow, from_month=domain.trend_months(to_month=last)[0])
    coverage = domain.suppress_coverage(atoms, threshold=threshold) if threshold else domain.coverage_of(atoms)
    return domain.build_dashboard(scope=readable, counts=counts, coverage=coverage, tallies=tallies,
                                  month_cells=months, to_month=last, threshold=threshold)


async def dashboard_version(*, deps: InsightsDeps, principal: Principal, scope: str) -> str:
    """The scope's version mark (one cheap query): changes whenever a figure may have changed."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    async with deps.db.scope_reader(scope=readable) as uow:
        return await repo.version(uow)


# ------------------------------------------------------------------------------------------------ tickets
#
# The desk publishes its events in the county serving the ticket (not routed): that county is the cell's county.
# The inbox runs each event once, so plain counters are exact; counters commute, so order does not matter; a
# category's group and a ticket's first breach are merged (latest word, earliest breach) for the same reason.


def _occurred(meta_time: Timestamp) -> datetime:
    """When the event happened (its meta), or now for a producer that left it out."""
    if meta_time.seconds or meta_time.nanos:
        return meta_time.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


def _month(text: str, meta_time: Timestamp) -> str:
    """The Beijing month of the event's own timestamp field, else of its meta time."""
    return domain.month_in_beijing(text) or domain.ticket_month(_occurred(meta_time)) or ""


def _ticket_id(ticket_id: str) -> str:
    if not ticket_id.strip():
        raise PoisonMessage("the event names no ticket")
    return ticket_id


async def _count(uow: UnitOfWork, *, month: str, category: str, serving_org_id: str, **counts: int) -> None:
    await repo.add_ticket_counts(uow, month=month, category=category.strip(), serving_org_id=serving_org_id.strip(),
                                 counts=counts)


async def _learn(uow: UnitOfWork, *, category: str, group: str, meta_time: Timestamp) -> None:
    if category.strip() and group.strip():
        await repo.learn_category(uow, category=category.strip(), group=group.strip(), seen_at=_occurred(meta_time))


async def on_ticket_opened(uow: UnitOfWork, event: desk_events.TicketOpened, delivery: Delivery) -> None:
    """Count a ticket opened in the month of its opening, and learn its category's group."""
    _ticket_id(event.ticket_id)
    await _learn(uow, category=event.category, group=event.category_group, meta_time=event.meta.occur_time)
    await _count(uow, month=_month(event.opened_at, event.meta.occur_time), category=event.category,
                 serving_org_id=event.serving_org_id, opened=1)


async def on_ticket_resolved(uow: UnitOfWork, event: desk_events.TicketResolved, delivery: Delivery) -> None:
    """Count a resolution (办结) in its month, split by which SLA clocks were met."""
    _ticket_id(event.ticket_id)
    await _learn(uow, category=event.category, group=event.category_group, meta_time=event.meta.occur_time)
    part = {(True, True): "resolved_both_met", (True, False): "resolved_first_response_met",
            (False, True): "resolved_resolution_met", (False, False): "resolved_none_met"}[
        (event.first_response_met, event.resolution_met)]
    await _count(uow, month=_month(event.resolved_at, event.meta.occur_time), category=event.category,
                 serving_org_id=event.serving_org_id, **{part: 1})


async def on_ticket_rated(uow: UnitOfWork, event: desk_events.TicketRated, delivery: Delivery) -> None:
    """Count a 满意度回访 score (1–5); any other score is a broken event."""
    _ticket_id(event.ticket_id)
    if not 1 <= event.score <= 5:
        raise PoisonMessage(f"满意度评分应为 1–5，收到 {event.score}")
    await _count(uow, month=_month("", event.meta.occur_time), category=event.category,
                 serving_org_id=event.serving_org_id, rated=1, rating_sum=event.score)


async def on_ticket_reopened(uow: UnitOfWork, event: desk_events.TicketReopened, delivery: Delivery) -> None:
    """Count a reopening in its month."""
    _ticket_id(event.ticket_id)
    await _count(uow, month=_month("", event.meta.occur_time), category=event.category,
                 serving_org_id=event.serving_org_id, reopened=1)


async def on_ticket_closed(uow: UnitOfWork, event: desk_events.TicketClosed, delivery: Delivery) -> None:
    """Count a ticket reaching its end (kept for later figures; not published yet)."""
    _ticket_id(event.ticket_id)
    await _count(uow, month=_month("", event.meta.occur_time), category=event.category,
                 serving_org_id=event.serving_org_id, closed=1)


async def on_ticket_sla_breached(
    uow: UnitOfWork, event: desk_events.TicketSlaBreached, delivery: Delivery
) -> None:
    """A ticket counts as breached once, in the month of its earliest breached clock."""
    ticket_id = _ticket_id(event.ticket_id)
    due = _parse_moment(event.due_at) or _occurred(event.meta.occur_time)
    await repo.record_breach(uow, ticket_id=ticket_id, due_at=due, month=domain.ticket_month(due) or "",
                             category=event.category.strip(), serving_org_id=event.serving_org_id.strip())


def _parse_moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def on_org_created(uow: UnitOfWork, event: org_events.OrgCreated, delivery: Delivery) -> None:
    """Learn an organisation's kind and first name (only stations' names are ever shown)."""
    if event.org_id:
        await repo.record_org(uow, org_id=event.org_id, kind=event.kind, name=event.name,
                              version=event.meta.aggregate_version)


async def on_org_renamed(uow: UnitOfWork, event: org_events.OrgRenamed, delivery: Delivery) -> None:
    """Learn an organisation's new name; one that overtook the creation waits in the row for its kind."""
    if event.org_id:
        await repo.record_org(uow, org_id=event.org_id, kind=None, name=event.name,
                              version=event.meta.aggregate_version)


async def ticket_stats(
    *, deps: InsightsDeps, principal: Principal, scope: str, since_month: str, until_month: str
) -> domain.TicketStats:
    """The service desk's figures of a scope the caller may read; small cells hidden unless it is the own county."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    window = domain.ticket_range(since_month=since_month, until_month=until_month)
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    current = datetime.now(domain.BEIJING).strftime("%Y-%m")
    async with deps.db.scope_reader(scope=readable) as uow:
        cells = await repo.ticket_cells(uow, window=window, current_month=current)
        names = await repo.station_names(uow) if len(readable) >= 6 else {}
    return domain.build_ticket_stats(scope=readable, cells=cells, window=window, current_month=current,
                                     station_names=names, threshold=threshold)


# ------------------------------------------------------------------------------------------------ loans
#
# The desk publishes a loan's events in the loan's county (not routed). Each event is merged into the loan's row
# of facts (any order, any number of times); the member the events name is never kept.

LoanEvent = (
    loan_events.LoanApplied | loan_events.LoanReviewed | loan_events.LoanRefused | loan_events.LoanWithdrawn
    | loan_events.LoanDisbursed | loan_events.LoanRepaymentRecorded | loan_events.LoanSettled
    | loan_events.LoanOverdue
)


async def _merge_loan(uow: UnitOfWork, event: LoanEvent, delivery: Delivery, fact: domain.LoanFact) -> None:
    """Merge one loan event's fact into the loan's row, after checking it comes from the loan's own county."""
    if event.meta.tenant_id != delivery.tenant or uow.tenant != delivery.tenant:
        # A county only speaks for its own loans (the kit checks the subject too; this keeps it true here).
        raise ForgedEvent(f"贷款事件来自 {delivery.tenant}，但声称属于 {event.meta.tenant_id or '（未指明）'}")
    if not event.loan_id.strip():
        raise PoisonMessage("the event names no loan")
    current = await repo.lock_loan(uow, loan_id=event.loan_id.strip())
    merged = current.apply(fact)
    if merged != current:
        await repo.save_loan(uow, loan_id=event.loan_id.strip(), facts=merged)


def _figures(event: loan_events.LoanRepaymentRecorded | loan_events.LoanOverdue) -> domain.LoanFigures:
    try:
        return domain.loan_figures(at=_occurred(event.meta.occur_time),
                                   outstanding_fen=event.outstanding_principal_fen, overdue_fen=event.overdue_fen,
                                   days_past_due=event.days_past_due)
    except ValueError as exc:
        raise PoisonMessage(str(exc)) from exc


def _amount(value: int) -> int:
    if value < 0:
        raise PoisonMessage("金额不能为负数")
    return value


async def on_loan_applied(uow: UnitOfWork, event: loan_events.LoanApplied, delivery: Delivery) -> None:
    """An application filed: the loan's programme (and its shared code) becomes known."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(
        programme_id=event.programme_id, product=event.product, shared_code=event.shared_code, applied=True))


async def on_loan_reviewed(uow: UnitOfWork, event: loan_events.LoanReviewed, delivery: Delivery) -> None:
    """A public tier passed the loan on; the final public approval (quota committed) counts as approved."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(programme_id=event.programme_id,
                                                             approved=event.quota_committed))


async def on_loan_refused(uow: UnitOfWork, event: loan_events.LoanRefused, delivery: Delivery) -> None:
    """Refused at a tier (the bank's decline included)."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(programme_id=event.programme_id, refused=True))


async def on_loan_withdrawn(uow: UnitOfWork, event: loan_events.LoanWithdrawn, delivery: Delivery) -> None:
    """Withdrawn by the applicant before disbursement."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(programme_id=event.programme_id, withdrawn=True))


async def on_loan_disbursed(uow: UnitOfWork, event: loan_events.LoanDisbursed, delivery: Delivery) -> None:
    """Paid out: the amount lent, its 贴息, the programme's name, and the whole principal outstanding as of now."""
    amount = _amount(event.amount_fen)
    await _merge_loan(uow, event, delivery, domain.LoanFact(
        programme_id=event.programme_id, product=event.product, shared_code=event.shared_code,
        programme_name=event.programme_name, disbursed=True, amount_fen=amount,
        subsidy_fen=_amount(event.total_subsidy_fen),
        figures=domain.LoanFigures(at=_occurred(event.meta.occur_time), outstanding_fen=amount, overdue_fen=0,
                                   overdue=False),
    ))


async def on_loan_repayment_recorded(
    uow: UnitOfWork, event: loan_events.LoanRepaymentRecorded, delivery: Delivery
) -> None:
    """A repayment: where the loan stands after it (the newest word wins)."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(programme_id=event.programme_id,
                                                             figures=_figures(event)))


async def on_loan_settled(uow: UnitOfWork, event: loan_events.LoanSettled, delivery: Delivery) -> None:
    """Fully repaid (已结清): nothing outstanding or overdue from now on."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(programme_id=event.programme_id, settled=True))


async def on_loan_overdue(uow: UnitOfWork, event: loan_events.LoanOverdue, delivery: Delivery) -> None:
    """The overdue sweep's word: amounts past due as of the sweep (the newest word wins)."""
    await _merge_loan(uow, event, delivery, domain.LoanFact(programme_id=event.programme_id,
                                                             figures=_figures(event)))


async def loan_stats(
    *, deps: InsightsDeps, principal: Principal, scope: str
) -> tuple[domain.LoanStats, datetime | None]:
    """The 党员先锋贷 figures of a scope the caller may read; small cells hidden unless it is the own county."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    threshold = domain.suppression_threshold(principal_scope=principal.scope, setting=deps.suppression_threshold)
    async with deps.db.scope_reader(scope=readable) as uow:
        atoms = await repo.loan_atoms(uow)
        updated = await repo.loans_updated_at(uow)
    return domain.build_loan_stats(scope=readable, atoms=atoms, threshold=threshold), updated
