"""Temporary memberships' use cases: the placing county's side of the cross-county flow (DESIGN §3 steps 2-5).

The event-driven ones (open, close) run in the consumer's unit of work and raise a domain error only for an event
that can never apply; a stale or duplicate event changes nothing and returns quietly.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import replace
from datetime import datetime

from google.protobuf.message import Message

from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit import pagination, pii, telemetry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.clock import china_date
from jinqiao.kit.crypto import DecryptionError
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, ForgedEvent, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.memberships import domain, repo
from jinqiao.organizations.orgs import repo as org_repo
from jinqiao.organizations.orgs import service as org_scope
from jinqiao.organizations.orgs.domain import OrgStatus
from jinqiao.organizations.placement import domain as placement
from jinqiao.organizations.placement import service as placing

_MEMBERSHIP = "该临时组织关系"
# One answer for a wrong, unknown or foreign code and for a member with nothing to check in: a code must not
# reveal which organisations exist or whom they hold.
_NO_CHECK_IN = "报到码无效，或没有待您报到的临时组织关系"


def _consumer(name: str, *, tenant: str) -> Principal:
    """The consumer acting on an event: audited under its own name in the service role."""
    return Principal(user=name, role=Role.SERVICE, scope=tenant, tenant=tenant)


def _event_id(value: str, *, field: str) -> str:
    """An id the event carries; a malformed one can never apply."""
    parsed = parse_id_or_none(value)
    if parsed is None:
        raise InvalidArgument.field(field, "事件中的编号无效")
    return parsed


async def _ensure_origin(uow: UnitOfWork, *, flow_id: str, origin_tenant_id: str) -> None:
    """Only the county that registered a flow speaks about it: an event from another origin is forged."""
    others = await repo.flow_origins(uow, flow_id=flow_id) - {origin_tenant_id}
    if others:
        raise ForgedEvent(f"该外出登记由 {'、'.join(sorted(others))} 登记，来自 {origin_tenant_id} 的事件不予采用")


async def _record(uow: UnitOfWork, principal: Principal, *, event: Message, action: str,
                  membership: domain.Membership, reason: str | None = None) -> None:
    # The event continues the flow's trace (DESIGN §3: every step carries the trace of step 1); the audit row
    # names the trace of the act itself.
    await record_act(uow, principal, service=SERVICE, action=action, object_type="membership",
                     object_id=membership.id, event=event, aggregate_version=membership.version, reason=reason,
                     saga_trace=membership.traceparent)


def _closed_event(m: domain.Membership) -> events.TemporaryMembershipClosed:
    return events.TemporaryMembershipClosed(membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id,
                                            member_id=m.member_id, attempt=m.attempt, reason=m.close_reason)


async def open_membership(*, deps: OrgDeps, uow: UnitOfWork, consumer: str, origin_tenant_id: str, flow_id: str,
                          member_id: str, attempt: int, handover: handover_pb2.Handover) -> domain.Membership | None:
    """Place one attempt of a flow in this county (FlowRegistered, FlowRedirected): offer, or refuse with advice.

    Idempotent and order-tolerant: nothing opens for a closed flow, a superseded attempt, or an attempt no newer
    than one already recorded here. Returns None when the event changes nothing.
    """
    flow = _event_id(flow_id, field="flow_id")
    member = _event_id(member_id, field="member_id")
    if attempt < 1:
        raise InvalidArgument.field("attempt", "事件未携带安置批次")
    await repo.lock_flow(uow, flow_id=flow)
    await _ensure_origin(uow, flow_id=flow, origin_tenant_id=origin_tenant_id)
    latest, closure = await repo.flow_state(uow, flow_id=flow)
    if not domain.should_open(attempt=attempt, latest_attempt=latest, closure=closure):
        return None
    # A destination this county does not place raises InvalidArgument: the origin addressed the wrong county.
    result = await placing.place(uow, request=placement.Request(
        destination_code=handover.destination_code, employer=handover.employer, industry=handover.industry,
        address=handover.address))
    try:
        # The origin sealed the phone for this county and flow; it is re-encrypted for this table's row.
        phone = deps.cipher.decrypt(handover.phone_sealed, tenant=uow.tenant, table="handover", column="phone",
                                    row=flow_id) if handover.phone_sealed else ""
    except DecryptionError:
        raise FailedPrecondition("密封的手机号无法在本县解密") from None
    membership_id = str(uuid.uuid4())
    arrival = domain.Arrival(
        origin_tenant_id=origin_tenant_id, flow_id=flow, member_id=member, attempt=attempt,
        member_name=" ".join(handover.member_name.split()), id_number_masked=domain.masked_id(
            handover.id_number_masked), phone=phone, gender=handover.gender, industry=handover.industry,
        employer=handover.employer, address=handover.address, destination_code=handover.destination_code,
        # The consumer runs inside the trace the origin's 外出登记 started: keep it for the rest of the saga.
        traceparent=telemetry.current_traceparent() or "",
    )
    found = result.candidate
    m = await repo.insert_membership(
        uow, membership_id=membership_id, arrival=arrival,
        phone_enc=deps.cipher.encrypt(phone, tenant=uow.tenant, table="memberships", column="phone",
                                      row=membership_id) if phone else None,
        phone_masked=pii.mask_phone(phone) if phone else "", org_id=found.org.id if found else None,
        rule=result.rule, reason=result.reason, advice=result.advice,
        status=domain.Status.OFFERED if found else domain.Status.REFUSED,
        # The membership carries no advice field: staff reading a refusal for want of an organisation see it here.
        refusal_reason="" if found else f"{result.reason}。{result.advice}",
    )
    actor = _consumer(consumer, tenant=uow.tenant)
    if found is not None:
        await _record(uow, actor, event=events.TemporaryMembershipOffered(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            attempt=m.attempt, org_id=found.org.id, org_name=found.org.name,
            rule=result.rule.name if result.rule else "", reason=result.reason, destination_code=m.destination_code,
        ), action="membership.offer", membership=m)
    else:
        await _record(uow, actor, event=events.TemporaryMembershipRefused(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            attempt=m.attempt, reason=result.reason, advice=result.advice, no_placement=True,
            destination_code=m.destination_code,
        ), action="membership.no_placement", membership=m, reason=result.reason)
    return m


async def close_superseded(*, uow: UnitOfWork, consumer: str, flow_id: str, attempt: int,
                           origin_tenant_id: str) -> list[domain.Membership]:
    """Close this county's memberships of earlier attempts of a redirected flow, and keep late ones from opening."""
    flow = _event_id(flow_id, field="flow_id")
    await repo.lock_flow(uow, flow_id=flow)
    await _ensure_origin(uow, flow_id=flow, origin_tenant_id=origin_tenant_id)
    await repo.record_closure(uow, flow_id=flow, closed_below_attempt=attempt)
    closed = await repo.close_open_memberships(uow, flow_id=flow, below_attempt=attempt, reason=domain.REDIRECTED)
    actor = _consumer(consumer, tenant=uow.tenant)
    for m in closed:
        await _record(uow, actor, event=_closed_event(m), action="membership.close", membership=m,
                      reason=m.close_reason)
    return closed


async def close_flow(*, uow: UnitOfWork, consumer: str, flow_id: str, reason: str,
                     origin_tenant_id: str) -> list[domain.Membership]:
    """Close every open membership of an ended flow (回归, 转出, cancelled); a closure arriving first still wins."""
    flow = _event_id(flow_id, field="flow_id")
    why = reason.strip().upper() or "CLOSED"
    await repo.lock_flow(uow, flow_id=flow)
    await _ensure_origin(uow, flow_id=flow, origin_tenant_id=origin_tenant_id)
    await repo.record_closure(uow, flow_id=flow, closed_reason=why)
    closed = await repo.close_open_memberships(uow, flow_id=flow, below_attempt=None, reason=why)
    actor = _consumer(consumer, tenant=uow.tenant)
    for m in closed:
        await _record(uow, actor, event=_closed_event(m), action="membership.close", membership=m, reason=why)
    return closed


async def _load(uow: UnitOfWork, principal: Principal, membership_id: str, *,
                for_update: bool = False) -> domain.Membership:
    """A membership the caller may see; anything else looks as if it did not exist."""
    found = await repo.membership(uow, membership_id=parse_id(membership_id, what=_MEMBERSHIP),
                                  for_update=for_update)
    if found is None or not await org_scope.sees_path(uow, principal, found.org_path):
        raise NotFound(f"未找到{_MEMBERSHIP}")
    return found


async def guests_held(uow: UnitOfWork, *, members: list[tuple[str, str]], within_path: str) -> set[tuple[str, str]]:
    """Of (home county, member id) pairs, those with an open membership (offered or checked in) in a subtree."""
    return await repo.members_held_within(uow, members=members, within_path=within_path)


async def member_ids_held(uow: UnitOfWork, *, member_ids: list[str], within_path: str) -> set[str]:
    """Of member ids (any home county), those with an open membership in a subtree."""
    return await repo.member_ids_held_within(uow, member_ids=member_ids, within_path=within_path) \
        if member_ids else set()


async def ever_placed(uow: UnitOfWork, *, member_id: str) -> bool:
    """Whether the county ever placed the member (any membership, closed ones too)."""
    return await repo.ever_held(uow, member_id=member_id)


async def list_memberships(*, deps: OrgDeps, principal: Principal, statuses: list[int], org_id: str,
                           page_size: int, page_token: str) -> domain.MembershipPage:
    """A page of the county's temporary memberships, newest first; ``org_id`` keeps that organisation's subtree."""
    domain.ensure_may_handle(principal.role)
    wanted = domain.parse_statuses(statuses)
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    if after:
        org_scope.org_id(after[1], field="page_token")
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        within = await org_scope.scope_path(uow, principal)
        exact: str | None = None
        if org_id:
            within = (await org_scope.load(uow, principal, org_scope.org_id(org_id, field="org_id"))).path
        if org_scope.own_org_only(principal):
            # A branch secretary sees its own branch only, not the groups under it.
            exact, within = org_scope.org_id(principal.org or "", field="org"), None
        rows = await repo.list_memberships(uow, statuses=wanted, within_path=within, org_id=exact, after=after,
                                           limit=limit + 1)
    page = rows[:limit]
    token = pagination.encode_cursor(page[-1].offered_at, page[-1].id) if len(rows) > limit else ""
    return domain.MembershipPage(memberships=page, next_page_token=token)


async def get_membership(*, deps: OrgDeps, principal: Principal, membership_id: str) -> domain.Membership:
    """One temporary membership the caller may see."""
    domain.ensure_may_handle(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        return await _load(uow, principal, membership_id)


async def refuse_membership(*, deps: OrgDeps, principal: Principal, membership_id: str,
                            reason: str) -> domain.Membership:
    """Refuse an offer with a reason; the origin must re-place the member (TemporaryMembershipRefused)."""
    domain.ensure_may_handle(principal.role)
    why = domain.clean_reason(reason)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        m = await _load(uow, principal, membership_id, for_update=True)
        domain.ensure_may_refuse(m.status)
        await repo.refuse_membership(uow, membership_id=m.id, reason=why)
        after = await _load(uow, principal, m.id)
        await _record(uow, principal, event=events.TemporaryMembershipRefused(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            attempt=m.attempt, reason=why, no_placement=False, destination_code=m.destination_code,
        ), action="membership.refuse", membership=after, reason=why)
        await uow.commit()
    return after


async def _check_in(uow: UnitOfWork, principal: Principal, m: domain.Membership, *, method: str,
                    at: datetime) -> domain.Membership:
    await repo.check_in_membership(uow, membership_id=m.id, method=method, at=at)
    after = await repo.membership(uow, membership_id=m.id)
    assert after is not None
    await _record(uow, principal, event=events.CheckedIn(
        membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
        attempt=m.attempt, org_id=m.org_id or "", org_name=m.org_name, method=method, checked_in_at=at.isoformat(),
    ), action="membership.check_in", membership=after, reason=method)
    return after


async def check_in_membership(*, deps: OrgDeps, principal: Principal, membership_id: str) -> domain.Membership:
    """Record the member's 报到 by staff; checking in twice changes nothing and emits nothing."""
    domain.ensure_may_handle(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        m = await _load(uow, principal, membership_id, for_update=True)
        if not domain.check_in_transition(m.status):
            return m
        after = await _check_in(uow, principal, m, method=domain.STAFF, at=deps.clock())
        await uow.commit()
    return after


async def get_check_in_code(*, deps: OrgDeps, principal: Principal, org_id: str) -> domain.CheckInCode:
    """An organisation's QR check-in code and name; the random secret is created (and audited) on first use."""
    domain.ensure_may_handle(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        domain.ensure_code_org(org)
        stored = await repo.checkin_secret(uow, org_id=org.id)
        if stored is None:
            stored = await repo.create_checkin_secret(uow, org_id=org.id, secret=secrets.token_urlsafe(24),
                                                      created_by=principal.user)
            await record_act(uow, principal, service=SERVICE, action="checkin_code.create", object_type="org",
                             object_id=org.id)
            await uow.commit()
    return domain.CheckInCode(code=domain.make_code(tenant=org.tenant_id, org_id=org.id, secret=stored),
                              org_name=org.name)


async def check_in_by_code_across_tenants(*, deps: OrgDeps, principal: Principal, code: str) -> domain.Membership:
    """A member's own 报到 by scanning an organisation's QR code, written in the code's county.

    This deliberately acts in another county than the caller's: a member's token names the home county, while
    the membership lives where the organisation is. What makes that safe is the code itself: its secret is
    verified (in constant time) against the organisation's stored secret, and only that member's own membership
    (home county and member id from the verified token) inside that organisation's subtree is touched. A wrong
    code and a member with nothing to check in answer alike (NOT_FOUND).
    """
    if principal.role != Role.MEMBER or not principal.tenant or not principal.member:
        raise PermissionDenied("只有流动党员本人可以扫码报到")
    member = parse_id_or_none(principal.member)
    parsed = domain.parse_code(code)
    if member is None or parsed is None:
        raise NotFound(_NO_CHECK_IN)
    tenant, org_id, secret = parsed
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        stored = await repo.checkin_secret(uow, org_id=org_id)
        if stored is None or not hmac.compare_digest(stored.encode(), secret.encode()):
            raise NotFound(_NO_CHECK_IN)
        found = await org_repo.get(uow, org_id=org_id)
        if found is None or found.org.status is OrgStatus.DISSOLVED:
            raise NotFound(_NO_CHECK_IN)
        held = await repo.memberships_of_member(uow, origin_tenant_id=principal.tenant, member_id=member,
                                                within_path=found.path)
        if not held:
            raise NotFound(_NO_CHECK_IN)
        m = held[0]
        if not domain.check_in_transition(m.status):
            return m
        after = await _check_in(uow, principal, m, method=domain.QR_CODE, at=deps.clock())
        await uow.commit()
    return after


async def record_activity(*, deps: OrgDeps, principal: Principal, membership_id: str, occurred_on: str, title: str,
                          note: str) -> str:
    """Record (and so vouch for) an activity a checked-in member attended, for the home 活动记事本; its id."""
    domain.ensure_may_handle(principal.role)
    activity = domain.validate_activity(occurred_on=occurred_on, title=title, note=note,
                                        today=china_date(deps.clock()))
    activity_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        m = await _load(uow, principal, membership_id, for_update=True)
        domain.ensure_checked_in(m.status)
        await repo.insert_activity(uow, activity_id=activity_id, membership_id=m.id, activity=activity,
                                   recorded_by=principal.user)
        version = await repo.touch_membership(uow, membership_id=m.id)
        await _record(uow, principal, event=events.ActivityRecorded(
            activity_id=activity_id, membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id,
            member_id=m.member_id, org_id=m.org_id or "", org_name=m.org_name,
            occurred_on=activity.occurred_on.isoformat(), title=activity.title, note=activity.note,
        ), action="membership.activity", membership=replace(m, version=version))
        await uow.commit()
    return activity_id


async def assess_membership(*, deps: OrgDeps, principal: Principal, membership_id: str, year: int, grade: str,
                            comment: str) -> domain.Assessment:
    """Record the destination's assessment of a year (双向评议); assessing the same year again replaces it."""
    domain.ensure_may_handle(principal.role)
    assessment = domain.validate_assessment(year=year, grade=grade, comment=comment, today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        m = await _load(uow, principal, membership_id, for_update=True)
        domain.ensure_was_checked_in(m)
        await repo.upsert_assessment(uow, membership_id=m.id, assessment=assessment, assessed_by=principal.user)
        version = await repo.touch_membership(uow, membership_id=m.id)
        await _record(uow, principal, event=events.DestinationAssessmentGiven(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            year=assessment.year, grade=assessment.grade, comment=assessment.comment, org_name=m.org_name,
        ), action="membership.assess", membership=replace(m, version=version),
            reason=f"{assessment.year}={assessment.grade}")
        await uow.commit()
    return assessment


async def erase_member_copies(*, uow: UnitOfWork, member_id: str, origin_tenant_id: str) -> int:
    """The origin erased a departed member's personal fields: erase this county's copies in the member's temporary
    memberships (masked ID, phone, address); only the origin's own members (the event's origin must agree with the
    state it changes, DESIGN §5); idempotent (a redelivery finds nothing left)."""
    member = parse_id_or_none(member_id)
    if member is None:
        return 0
    return await repo.erase_member_copies(uow, member_id=member, origin_tenant_id=origin_tenant_id)
