"""Referral (转办) use cases: the saga between two counties, one local transaction a step.

Refer (origin) → TicketReferred → the receiving county records it → accept (a ticket of its own) or decline →
ReferralAccepted / ReferralDeclined back to the origin; the receiving county's resolution comes back as
ReferralResolved and resolves the origin's ticket; an unanswered referral is withdrawn by the origin's sweep
(ReferralWithdrawn), and the receiving county drops it or closes the ticket an accept that crossed it opened.
Every event continues the trace of the first step.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from jinqiao.desk.calendar.service import calendar_for
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.referrals import domain as referrals
from jinqiao.desk.referrals import repo
from jinqiao.desk.referrals.domain import Direction, ReferralStatus
from jinqiao.desk.referrals.models import ReferralRow
from jinqiao.desk.replica import service as replica
from jinqiao.desk.tickets import domain as tickets_domain
from jinqiao.desk.tickets import service as tickets
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.events.v1 import desk_events_pb2
from jinqiao.kit import pagination, telemetry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import ForgedEvent, InvalidArgument, NotFound
from jinqiao.kit.regions import name_of
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant

# The principal of the withdrawal sweep's acts (audit rows and events).
SYSTEM = Principal(user="system:referral-timers", role=Role.SERVICE, scope="41", tenant=None)
SYSTEM_ACTOR = "system"


class NotYetKnown(LookupError):
    """An answer or withdrawal about a referral this county has not recorded yet: redelivered later (its
    TicketReferred may still be on its way), dead-lettered if it never comes."""


async def _row(uow: UnitOfWork, referral_id: str, *, for_update: bool = False) -> ReferralRow:
    found = await repo.get(uow, referral_id=parse_id(referral_id, what="该转办"), for_update=for_update)
    if found is None:
        raise NotFound(referrals.NOT_FOUND)
    return found


async def _visible(uow: UnitOfWork, principal: Principal, referral_id: str, *,
                   for_update: bool = False) -> ReferralRow:
    """A referral of this county the caller reaches: a received one suggested to a station in its reach, a sent
    one of a ticket it may refer; anything else is not found."""
    row = await _row(uow, referral_id, for_update=for_update)
    reach = await tickets.queue_reach(uow, principal, Permission.TICKETS_REFER)
    if reach is None:
        return row
    if row.incoming:
        if row.to_org_id is None or row.to_org_id not in reach:
            raise NotFound(referrals.NOT_FOUND)
        return row
    try:
        await tickets.visible_ticket(uow, principal, row.origin_ticket_id, permission=Permission.TICKETS_REFER)
    except NotFound:
        raise NotFound(referrals.NOT_FOUND) from None
    return row


def _validate_request_id(request_id: str) -> str:
    if len(request_id) > referrals.REQUEST_ID_MAX:
        raise InvalidArgument.field("request_id", f"不能超过 {referrals.REQUEST_ID_MAX} 个字符")
    return request_id


async def refer_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, to_tenant_id: str, to_org_id: str,
                       reason: str, request_id: str = "") -> ReferralRow:
    """转办: refer an open ticket to another county (TicketReferred); the ticket stays open here meanwhile."""
    tenant = require_tenant(principal)
    key = parse_id(ticket_id, what="该工单")
    target = referrals.target_county(origin=tenant, to_tenant_id=to_tenant_id)
    org_key = parse_id(to_org_id.strip(), field="to_org_id") if to_org_id.strip() else None
    clean = referrals.clean_reason(reason)
    request_id = _validate_request_id(request_id)
    calendar = await calendar_for(deps=deps, tenant=tenant)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            await repo.lock_request_id(uow, request_id=request_id)
            if existing := await repo.by_request_id(uow, request_id=request_id):
                return existing
        ticket = await tickets.visible_ticket(uow, principal, key, permission=Permission.TICKETS_REFER,
                                              for_update=True)
        attempts, pending = await repo.attempts_of(uow, ticket_id=ticket.id)
        referrals.ensure_referable(ticket_open=tickets_domain.TicketStatus(ticket.status) in tickets_domain.OPEN,
                                   pending=pending)
        placing: str | None = None
        if target != ticket.member_home_tenant_id and tenant == ticket.member_home_tenant_id:
            member = await replica.home_member(uow, member_id=ticket.member_id)
            placing = member.placing_tenant_id if member is not None and member.flow_id else None
        direction = referrals.direction_for(origin=tenant, to_tenant_id=target,
                                            member_home_tenant_id=ticket.member_home_tenant_id,
                                            placing_tenant_id=placing)
        row = ReferralRow(
            tenant_id=tenant, id=str(uuid.uuid4()), incoming=False, ticket_id=ticket.id, origin_ticket_id=ticket.id,
            from_tenant_id=tenant, to_tenant_id=target, to_org_id=org_key, direction=int(direction),
            status=int(ReferralStatus.PENDING), category=ticket.category,
            member_home_tenant_id=ticket.member_home_tenant_id, member_id=ticket.member_id,
            member_name=ticket.member_name, title=ticket.title, summary=referrals.summary_of(ticket.description),
            form=dict(ticket.form), reason=clean, decline_reason="",
            respond_by=calendar.add_working_minutes(now, referrals.RESPOND_WORKING_MINUTES), answered_at=None,
            attempt=attempts + 1, remote_ticket_id=None, remote_org_name="", resolution="",
            request_id=request_id or None, traceparent=telemetry.current_traceparent() or "", created_at=now,
            version=1,
        )
        await repo.insert(uow, row=row)
        await tickets.set_outgoing_referral(uow, ticket_id=ticket.id, referral_id=row.id,
                                            status=ReferralStatus.PENDING.name)
        await tickets.add_history(uow, ticket_id=ticket.id, actor=principal.user, action="referred",
                                  body=f"转办至{name_of(target)}（第 {row.attempt} 次）：{clean}")
        await record_act(uow, principal, service=SERVICE, action="ticket.refer", object_type="referral",
                         object_id=row.id, reason=clean, event=desk_events_pb2.TicketReferred(
                             referral_id=row.id, ticket_id=ticket.id, to_tenant_id=target, to_org_id=org_key or "",
                             direction=direction.name, category=row.category,
                             member_home_tenant_id=row.member_home_tenant_id, member_id=row.member_id,
                             member_name=row.member_name, title=row.title, summary=row.summary,
                             form_json=_json(row.form), reason=clean, respond_by=row.respond_by.isoformat(),
                             attempt=row.attempt))
        await uow.commit()
    return row


def _json(form: dict[str, object]) -> str:
    return json.dumps(form, ensure_ascii=False, sort_keys=True)


async def _serving_org(uow: UnitOfWork, *, value: str, reach: frozenset[str] | None,
                       field: str = "serving_org_id") -> tuple[str | None, str]:
    """The queue an accepted referral is served in (a station of this county in the caller's reach, or the
    county's own queue when none is named), and its name."""
    if not value:
        if reach is not None:
            raise InvalidArgument.field(field, "请选择本站受理该转办")
        return None, referrals.COUNTY_QUEUE_NAME
    key = parse_id(value, field=field)
    org = await replica.org(uow, org_id=key)
    if org is None or org.dissolved or not org.is_station or (reach is not None and key not in reach):
        raise InvalidArgument.field(field, "不是本县（区）可受理工单的党建工作站")
    return key, org.name


async def accept_referral(*, deps: DeskDeps, principal: Principal, referral_id: str,
                          serving_org_id: str) -> tuple[ReferralRow, TicketRow]:
    """受理 a referral from another county: a ticket of this county serves the member (ReferralAccepted).

    Accepting again returns the same ticket."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _visible(uow, principal, referral_id, for_update=True)
        if not row.incoming:
            raise NotFound(referrals.NOT_FOUND)
        if row.status == ReferralStatus.ACCEPTED and row.ticket_id:
            ticket = await repo.ticket_row(uow, ticket_id=row.ticket_id)
            if ticket is not None:
                return row, ticket
        referrals.ensure_answerable(ReferralStatus(row.status))
        reach = await tickets.queue_reach(uow, principal, Permission.TICKETS_REFER)
        org_key, org_name = await _serving_org(uow, value=serving_org_id.strip() or (row.to_org_id or ""),
                                               reach=reach)
        ticket = await tickets.open_referred_ticket(
            deps=deps, uow=uow, principal=principal, referral_id=row.id, from_tenant_id=row.from_tenant_id,
            category=row.category, member_home_tenant_id=row.member_home_tenant_id, member_id=row.member_id,
            member_name=row.member_name, title=row.title, description=row.summary, form=dict(row.form),
            serving_org_id=org_key)
        updated = await repo.update(uow, referral_id=row.id, changes={
            "status": int(ReferralStatus.ACCEPTED), "ticket_id": ticket.id, "answered_at": deps.clock(),
            "remote_org_name": org_name})
        await record_act(uow, principal, service=SERVICE, action="referral.accept", object_type="referral",
                         object_id=row.id, aggregate_version=updated.version, saga_trace=row.traceparent,
                         event=desk_events_pb2.ReferralAccepted(
                             referral_id=row.id, origin_tenant_id=row.from_tenant_id, ticket_id=ticket.id,
                             serving_org_name=org_name, attempt=row.attempt))
        await uow.commit()
    return updated, ticket


async def decline_referral(*, deps: DeskDeps, principal: Principal, referral_id: str, reason: str) -> ReferralRow:
    """退回 a referral from another county, with the reason (ReferralDeclined); the origin keeps its ticket."""
    tenant = require_tenant(principal)
    clean = referrals.clean_reason(reason)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _visible(uow, principal, referral_id, for_update=True)
        if not row.incoming:
            raise NotFound(referrals.NOT_FOUND)
        if row.status == ReferralStatus.DECLINED and row.decline_reason == clean:
            return row
        referrals.ensure_answerable(ReferralStatus(row.status))
        updated = await repo.update(uow, referral_id=row.id, changes={
            "status": int(ReferralStatus.DECLINED), "decline_reason": clean, "answered_at": deps.clock()})
        await record_act(uow, principal, service=SERVICE, action="referral.decline", object_type="referral",
                         object_id=row.id, reason=clean, aggregate_version=updated.version,
                         saga_trace=row.traceparent, event=desk_events_pb2.ReferralDeclined(
                             referral_id=row.id, origin_tenant_id=row.from_tenant_id, reason=clean,
                             attempt=row.attempt))
        await uow.commit()
    return updated


async def get_referral(*, deps: DeskDeps, principal: Principal, referral_id: str) -> ReferralRow:
    """One referral this county sent or received (the receiving county sees only what it was sent)."""
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        return await _visible(uow, principal, referral_id)


async def list_referrals(*, deps: DeskDeps, principal: Principal, incoming: bool, statuses: list[int], page: int,
                         page_size: int) -> tuple[list[ReferralRow], int]:
    """A page of the referrals this county received (or sent) within the caller's reach, newest first, and the
    count of all that match."""
    tenant = require_tenant(principal)
    wanted = referrals.parse_statuses(statuses)
    if page < 0:
        raise InvalidArgument.field("page", "页码无效")
    limit = pagination.page_size(page_size)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        reach = await tickets.queue_reach(uow, principal, Permission.TICKETS_REFER)
        return await repo.list_referrals(uow, incoming=incoming, statuses=wanted,
                                         reach=sorted(reach) if reach is not None else None, limit=limit,
                                         offset=(max(page, 1) - 1) * limit)


# ------------------------------------------------------------------------------------- the receiving county's side
# Each runs in the consumer's unit of work (its inbox row commits with the effect): idempotent and order-tolerant.


async def record_incoming(*, uow: UnitOfWork, event: desk_events_pb2.TicketReferred, published_by: str) -> None:
    """Record a referral another county sent here (PENDING, no ticket yet); a redelivery changes nothing."""
    referrals.ensure_referral_origin(to_tenant_id=event.to_tenant_id, published_by=published_by)
    if event.to_tenant_id != uow.tenant:
        raise ForgedEvent(f"转办发往 {event.to_tenant_id}，却投递到了 {uow.tenant}")
    referral_id = parse_id_or_none(event.referral_id)
    origin_ticket = parse_id_or_none(event.ticket_id)
    member_id = parse_id_or_none(event.member_id)
    if referral_id is None or origin_ticket is None or member_id is None:
        raise ForgedEvent(f"来自 {published_by} 的转办编号无效")
    try:
        direction = Direction[event.direction]
        respond_by = datetime.fromisoformat(event.respond_by)
        form = _form(event.form_json)
        if respond_by.tzinfo is None:
            raise ValueError("respond_by names no zone")
    except (KeyError, ValueError):
        raise ForgedEvent(f"来自 {published_by} 的转办内容无效") from None
    await repo.insert(uow, row=ReferralRow(
        tenant_id=uow.tenant, id=referral_id, incoming=True, ticket_id=None, origin_ticket_id=origin_ticket,
        from_tenant_id=published_by, to_tenant_id=uow.tenant, to_org_id=parse_id_or_none(event.to_org_id),
        direction=int(direction), status=int(ReferralStatus.PENDING), category=event.category,
        member_home_tenant_id=event.member_home_tenant_id, member_id=member_id, member_name=event.member_name,
        title=event.title, summary=event.summary, form=form, reason=event.reason, decline_reason="",
        respond_by=respond_by, answered_at=None, attempt=event.attempt, remote_ticket_id=None, remote_org_name="",
        resolution="", request_id=None, traceparent=event.meta.traceparent,
        created_at=event.meta.occur_time.ToDatetime(tzinfo=UTC), version=1,
    ))


def _form(text: str) -> dict[str, object]:
    value = json.loads(text) if text else {}
    if not isinstance(value, dict):
        raise ValueError("form is not an object")
    return value


async def apply_withdrawal(*, deps: DeskDeps, uow: UnitOfWork, referral_id: str, attempt: int,
                           published_by: str) -> None:
    """The referring county withdrew its referral: drop it here, or close the ticket an accept opened for it."""
    key = parse_id_or_none(referral_id)
    row = await repo.get(uow, referral_id=key, for_update=True) if key else None
    if row is None or not row.incoming:
        if key is None:
            raise ForgedEvent(f"来自 {published_by} 的撤回所指的转办编号无效")
        raise NotYetKnown(f"尚未收到转办 {referral_id}")
    referrals.ensure_withdrawal_origin(from_tenant_id=row.from_tenant_id, published_by=published_by)
    if attempt != row.attempt:
        raise ForgedEvent(f"撤回所指的第 {attempt} 次转办与本县记录的第 {row.attempt} 次不符")
    status = ReferralStatus(row.status)
    if status not in (ReferralStatus.PENDING, ReferralStatus.ACCEPTED):
        return
    await repo.update(uow, referral_id=row.id, changes={"status": int(ReferralStatus.WITHDRAWN)})
    if status is ReferralStatus.ACCEPTED and row.ticket_id:
        ticket = await repo.ticket_row(uow, ticket_id=row.ticket_id, for_update=True)
        if ticket is not None and tickets_domain.TicketStatus(ticket.status) in tickets_domain.OPEN:
            await tickets.close_by_system(deps=deps, uow=uow, row=ticket, reason="WITHDRAWN",
                                          note=f"{name_of(row.from_tenant_id)}已撤回该转办（超时未答复），工单关闭")


# ------------------------------------------------------------------------------------------------ the origin's side


async def _answered(uow: UnitOfWork, *, referral_id: str, attempt: int | None, answered_by: str) -> ReferralRow:
    """The sent referral an answer names, locked, checked to come from the county it was sent to."""
    key = parse_id_or_none(referral_id)
    row = await repo.get(uow, referral_id=key, for_update=True) if key else None
    if row is None or row.incoming:
        raise ForgedEvent(f"来自 {answered_by} 的答复所指的转办不在本县")
    referrals.ensure_answer_origin(to_tenant_id=row.to_tenant_id, attempt=row.attempt, answered_by=answered_by,
                                   answered_attempt=row.attempt if attempt is None else attempt)
    return row


async def apply_acceptance(*, uow: UnitOfWork, referral_id: str, attempt: int, remote_ticket_id: str,
                           remote_org_name: str, answered_by: str, answered_at: datetime) -> None:
    """The receiving county accepted: the origin's ticket stays open, following the other county's ticket."""
    row = await _answered(uow, referral_id=referral_id, attempt=attempt, answered_by=answered_by)
    if not referrals.accepts_answer(ReferralStatus(row.status)):
        return  # withdrawn meanwhile (the receiving county closes its ticket), or a duplicate
    await repo.update(uow, referral_id=row.id, changes={
        "status": int(ReferralStatus.ACCEPTED), "remote_ticket_id": parse_id_or_none(remote_ticket_id),
        "remote_org_name": remote_org_name, "answered_at": answered_at})
    await tickets.set_outgoing_referral(uow, ticket_id=row.origin_ticket_id, referral_id=row.id,
                                        status=ReferralStatus.ACCEPTED.name)
    await tickets.add_history(uow, ticket_id=row.origin_ticket_id, actor=SYSTEM_ACTOR, action="referral_accepted",
                              body=f"{name_of(row.to_tenant_id)}已受理转办（{remote_org_name}）")


async def apply_decline(*, uow: UnitOfWork, referral_id: str, attempt: int, reason: str, answered_by: str,
                        answered_at: datetime) -> None:
    """The receiving county declined: the ticket stays with the origin, which may refer it again."""
    row = await _answered(uow, referral_id=referral_id, attempt=attempt, answered_by=answered_by)
    if not referrals.accepts_answer(ReferralStatus(row.status)):
        return
    await repo.update(uow, referral_id=row.id, changes={
        "status": int(ReferralStatus.DECLINED), "decline_reason": reason, "answered_at": answered_at})
    await tickets.set_outgoing_referral(uow, ticket_id=row.origin_ticket_id, referral_id=row.id,
                                        status=ReferralStatus.DECLINED.name)
    await tickets.add_history(uow, ticket_id=row.origin_ticket_id, actor=SYSTEM_ACTOR, action="referral_declined",
                              body=f"{name_of(row.to_tenant_id)}退回了转办：{reason}")


async def apply_resolution(*, deps: DeskDeps, uow: UnitOfWork, referral_id: str, resolution: str,
                           answered_by: str, answered_at: datetime) -> None:
    """The receiving county resolved its ticket: the origin's ticket is resolved with the same outcome."""
    row = await _answered(uow, referral_id=referral_id, attempt=None, answered_by=answered_by)
    if not referrals.accepts_resolution(ReferralStatus(row.status)):
        return
    await repo.update(uow, referral_id=row.id, changes={
        "status": int(ReferralStatus.RESOLVED), "resolution": resolution,
        "answered_at": row.answered_at or answered_at})
    await tickets.set_outgoing_referral(uow, ticket_id=row.origin_ticket_id, referral_id=row.id,
                                        status=ReferralStatus.RESOLVED.name)
    ticket = await repo.ticket_row(uow, ticket_id=row.origin_ticket_id, for_update=True)
    if ticket is not None and tickets_domain.TicketStatus(ticket.status) in tickets_domain.OPEN:
        await tickets.resolve_by_system(deps=deps, uow=uow, row=ticket,
                                        resolution=referrals.resolution_text(resolution),
                                        actor_name=name_of(row.to_tenant_id))


# ------------------------------------------------------------------------------------- timeout and compensation


async def withdraw_due_all_tenants(*, deps: DeskDeps, now: datetime) -> int:
    """Every county's unanswered referrals past their respond-by time; crosses tenants by design: only the list of
    counties with one is read across them (a SECURITY DEFINER function), then each county under its own tenant."""
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_with_referrals_due_all_tenants(conn, now=now)
    withdrawn = 0
    for county in counties:
        withdrawn += await withdraw_due(deps=deps, tenant=county, now=now)
    return withdrawn


async def withdraw_due(*, deps: DeskDeps, tenant: str, now: datetime) -> int:
    """One county's overdue referrals, each withdrawn in its own transaction (ReferralWithdrawn); how many."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        due = await repo.due_outgoing(uow, now=now)
    withdrawn = 0
    for referral_id in due:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            row = await repo.get(uow, referral_id=referral_id, for_update=True)
            if row is None or row.status != ReferralStatus.PENDING or row.respond_by > now:
                continue
            updated = await repo.update(uow, referral_id=row.id, changes={
                "status": int(ReferralStatus.WITHDRAWN), "answered_at": now})
            await tickets.set_outgoing_referral(uow, ticket_id=row.origin_ticket_id, referral_id=row.id,
                                                status=ReferralStatus.WITHDRAWN.name)
            await tickets.add_history(uow, ticket_id=row.origin_ticket_id, actor=SYSTEM_ACTOR,
                                      action="referral_withdrawn",
                                      body=f"{name_of(row.to_tenant_id)}逾期未答复，转办已撤回，工单仍由本县办理")
            await record_act(uow, SYSTEM, service=SERVICE, action="referral.withdraw", object_type="referral",
                             object_id=row.id, reason=referrals.TIMED_OUT, aggregate_version=updated.version,
                             saga_trace=row.traceparent, event=desk_events_pb2.ReferralWithdrawn(
                                 referral_id=row.id, to_tenant_id=row.to_tenant_id, reason=referrals.TIMED_OUT,
                                 attempt=row.attempt))
            await uow.commit()
            withdrawn += 1
    return withdrawn
