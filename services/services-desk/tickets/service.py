"""Ticket use cases: filing, reading, the moves between states, comments, history, 回访 and reopening.

Besides the RPCs' use cases, the other concepts (queues, attachments, referrals, sla) use the functions marked
CONTRACT below; they take the caller's unit of work and never commit it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from jinqiao.desk.calendar.domain import WorkCalendar
from jinqiao.desk.calendar.service import calendar_for
from jinqiao.desk.categories import service as categories
from jinqiao.desk.categories.domain import Category, invalid, invalid_field, validate_form
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.referrals import repo as referral_repo
from jinqiao.desk.replica import service as replica
from jinqiao.desk.sla import domain as sla_domain
from jinqiao.desk.sla.domain import SlaEvent, SlaPolicy, TicketSla
from jinqiao.desk.tickets import domain, repo
from jinqiao.desk.tickets.domain import Channel, CommentKind, Move, Priority, TicketStatus
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.events.v1 import desk_events_pb2 as events
from jinqiao.kit import authz, telemetry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.clock import china_date, utc_now
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.events import new_event
from jinqiao.kit.pagination import page_size as checked_page_size
from jinqiao.kit.usecases import parse_id, record_act, require_tenant

_NOT_FOUND = "未找到该工单"
_SLA_FIELDS = frozenset(f.name for f in fields(TicketSla))
MEMBER_ACTOR = "member"
SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket with what its wire form needs besides the row."""

    row: TicketRow
    serving_org_name: str = ""
    attachment_count: int = 0


@dataclass(frozen=True, slots=True)
class TicketPage:
    """A page of tickets and how many match."""

    tickets: list[TicketView]
    total: int


# ---------------------------------------------------------------- SLA glue (H1's domain; the calendar first)


async def _calendar(deps: DeskDeps, tenant: str) -> WorkCalendar:
    """The county's calendar (opens its own unit of work when not cached: call before the caller's)."""
    return await calendar_for(deps=deps, tenant=tenant)


def ticket_sla(row: TicketRow) -> TicketSla:
    """The SLA columns of a ticket as the clocks need them."""
    return TicketSla(
        policy=SlaPolicy.from_json(row.sla_policy or {}), opened_at=row.created_at,
        first_response_due=row.first_response_due, first_response_at=row.first_response_at,
        assignment_due=row.assignment_due, assigned_at=row.assigned_at, update_due=row.update_due,
        last_update_at=row.last_update_at, resolution_due=row.resolution_due, resolved_at=row.resolved_at,
        paused_at=row.paused_at, paused_minutes=row.paused_minutes, closed=row.status == TicketStatus.CLOSED,
        reopened_count=row.reopened_count)


def _clock_changes(row: TicketRow, sla_events: tuple[SlaEvent, ...], calendar: WorkCalendar | None,
                   at: datetime) -> dict[str, Any]:
    """The SLA columns that change when the events happen in turn at ``at``."""
    sla = ticket_sla(row)
    changes: dict[str, Any] = {}
    if calendar is None:
        return changes
    for event in sla_events:
        step = sla_domain.clock_changes(sla=sla, event=event, calendar=calendar, at=at)
        changes.update(step)
        sla = replace(sla, **{k: v for k, v in step.items() if k in _SLA_FIELDS})
    return changes


# ---------------------------------------------------------------- CONTRACT functions


async def queue_reach(uow: UnitOfWork, principal: Principal, permission: Permission) -> frozenset[str] | None:
    """CONTRACT: the serving organisations (queues) the caller's grant reaches; None for the whole county
    (the county department's queue included)."""
    rule = authz.scope_of(principal, permission)
    if rule is Reach.COUNTY:
        return None
    if rule in (Reach.TOWNSHIP, Reach.ORG_SUBTREE) and principal.org:
        return await replica.org_subtree(uow, root_id=principal.org)
    if rule is Reach.OWN_ORG and principal.org:
        return frozenset({principal.org})
    return frozenset()


def _is_member(principal: Principal) -> bool:
    return principal.role is Role.MEMBER


def _members_own(principal: Principal, row: TicketRow, tenant: str) -> bool:
    return (principal.member is not None and row.member_home_tenant_id == tenant
            and row.member_id == principal.member)


async def visible_ticket(uow: UnitOfWork, principal: Principal, ticket_id: str, *, permission: Permission,
                         for_update: bool = False) -> TicketRow:
    """CONTRACT: a ticket of ``uow.tenant`` the caller reaches under ``permission`` (a member: their own; staff:
    its queue within their reach); anything else raises NotFound as if it did not exist."""
    key = parse_id(ticket_id, what="该工单")
    row = await repo.get(uow, ticket_id=key, for_update=for_update)
    if row is None:
        raise NotFound(_NOT_FOUND)
    if _is_member(principal):
        if not _members_own(principal, row, uow.tenant):
            raise NotFound(_NOT_FOUND)
        return row
    if principal.role is Role.SERVICE:
        return row
    reach = await queue_reach(uow, principal, permission)
    if reach is not None and (row.serving_org_id is None or row.serving_org_id not in reach):
        raise NotFound(_NOT_FOUND)
    return row


async def add_history(uow: UnitOfWork, *, ticket_id: str, actor: str, actor_name: str = "", action: str,
                      from_status: int = 0, to_status: int = 0, comment_kind: int = 0, body: str = "") -> str:
    """CONTRACT: append one entry to a ticket's history; returns its id."""
    entry = await repo.add_history(uow, ticket_id=ticket_id, at=utc_now(), actor=actor, actor_name=actor_name,
                                   action=action, from_status=from_status, to_status=to_status,
                                   comment_kind=comment_kind, body=body)
    return entry.id


async def set_assignee(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, row: TicketRow, assignee: str,
                       assignee_name: str) -> TicketRow:
    """CONTRACT: assign an open ticket (history, the ASSIGNED clock event, version + 1); returns the new row."""
    if TicketStatus(row.status) not in domain.OPEN:
        raise FailedPrecondition(f"工单当前为“{domain.STATUS_LABEL[TicketStatus(row.status)]}”状态，不能指派")
    now = deps.clock()
    calendar = await _calendar(deps, uow.tenant)
    changes = {"assignee": assignee, "assignee_name": assignee_name, "updated_at": now,
               **_clock_changes(row, (SlaEvent.ASSIGNED,), calendar, now)}
    new = await repo.update(uow, ticket_id=row.id, changes=changes)
    await repo.add_history(uow, ticket_id=row.id, at=now, actor=principal.user, actor_name="", action="assigned",
                           from_status=row.status, to_status=row.status, comment_kind=0,
                           body=assignee_name or assignee)
    return new


async def open_referred_ticket(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, referral_id: str,
                               from_tenant_id: str, category: str, member_home_tenant_id: str, member_id: str,
                               member_name: str, title: str, description: str, form: dict[str, object],
                               serving_org_id: str | None) -> TicketRow:
    """CONTRACT: open a ticket for an accepted referral (channel REFERRAL), with its clocks and TicketOpened."""
    found = await categories.category_any(uow, code=category) or await categories.category_any(uow, code="other")
    assert found is not None
    calendar = await _calendar(deps, uow.tenant)
    return await _open(
        deps=deps, uow=uow, principal=principal, category=found, calendar=calendar, now=deps.clock(),
        member_home_tenant_id=member_home_tenant_id, member_id=member_id, member_name=member_name,
        serving_org_id=serving_org_id, title=title[:60], description=description[:2000], form=dict(form),
        channel=Channel.REFERRAL, request_id=None, incoming_referral_id=referral_id,
        referred_from_tenant_id=from_tenant_id)


async def resolve_by_system(*, deps: DeskDeps, uow: UnitOfWork, row: TicketRow, resolution: str,
                            actor_name: str) -> TicketRow:
    """CONTRACT: resolve an open ticket for the platform (e.g. the county it was referred to resolved it)."""
    if TicketStatus(row.status) not in domain.OPEN:
        raise FailedPrecondition(f"工单当前为“{domain.STATUS_LABEL[TicketStatus(row.status)]}”状态，不能办结")
    calendar = await _calendar(deps, uow.tenant)
    return await _resolve(deps=deps, uow=uow, principal=_system(uow.tenant), row=row, resolution=resolution,
                          calendar=calendar, now=deps.clock(), actor=SYSTEM_ACTOR, actor_name=actor_name)


async def close_by_system(*, deps: DeskDeps, uow: UnitOfWork, row: TicketRow, reason: str, note: str) -> TicketRow:
    """CONTRACT: close an open ticket for the platform (e.g. its referral was withdrawn: REFERRED_AWAY/WITHDRAWN)."""
    if TicketStatus(row.status) not in domain.OPEN:
        raise FailedPrecondition(f"工单当前为“{domain.STATUS_LABEL[TicketStatus(row.status)]}”状态，不能关闭")
    calendar = await _calendar(deps, uow.tenant)
    return await _close(deps=deps, uow=uow, principal=_system(uow.tenant), row=row, reason=reason, note=note,
                        calendar=calendar, now=deps.clock(), actor=SYSTEM_ACTOR, actor_name="系统")


async def set_outgoing_referral(uow: UnitOfWork, *, ticket_id: str, referral_id: str, status: str) -> None:
    """CONTRACT: record the ticket's latest outgoing referral and its status (PENDING, ACCEPTED, …)."""
    await repo.update(uow, ticket_id=ticket_id, changes={
        "outgoing_referral_id": referral_id, "outgoing_referral_status": status, "updated_at": utc_now()})


def _system(tenant: str) -> Principal:
    return Principal(user=SYSTEM_ACTOR, role=Role.SERVICE, scope=tenant, tenant=tenant)


# ---------------------------------------------------------------- filing


async def _open(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, category: Category,
                calendar: WorkCalendar, now: datetime, member_home_tenant_id: str, member_id: str,
                member_name: str, serving_org_id: str | None, title: str, description: str, form: dict[str, Any],
                channel: Channel, request_id: str | None, incoming_referral_id: str | None = None,
                referred_from_tenant_id: str = "", actor: str = "", actor_name: str = "") -> TicketRow:
    """Insert a new ticket with its number, clocks, history and TicketOpened (the first one on a repeated request)."""
    sequence = await repo.next_sequence(uow, day=china_date(now))
    ticket_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": ticket_id, "number": domain.ticket_number(uow.tenant, china_date(now), sequence),
        "category": category.code, "category_name": category.name, "category_group": category.group,
        "status": int(TicketStatus.NEW), "priority": category.priority, "channel": int(channel),
        "member_home_tenant_id": member_home_tenant_id, "member_id": member_id, "member_name": member_name,
        "serving_org_id": serving_org_id, "title": title, "description": description, "form": form,
        "filed_by": principal.user, "request_id": request_id, "created_at": now, "updated_at": now,
        "incoming_referral_id": incoming_referral_id, "referred_from_tenant_id": referred_from_tenant_id,
        **sla_domain.open_clocks(policy=category.sla, calendar=calendar, at=now),
    }
    # The ticket and its history's "filed" entry in one statement.
    row = await repo.insert_filed(uow, values=values, actor=actor or principal.user, actor_name=actor_name,
                                  to_status=int(TicketStatus.NEW))
    if row is None:
        # A concurrent retry of the same request won: its ticket is the one.
        assert request_id is not None
        first = await repo.by_request_id(uow, request_id=request_id)
        assert first is not None
        return first
    await record_act(uow, principal, service=SERVICE, action="ticket.file", object_type="ticket", object_id=row.id,
                     aggregate_version=row.version, event=events.TicketOpened(
                         ticket_id=row.id, category=row.category, category_group=row.category_group,
                         serving_org_id=row.serving_org_id or "", member_home_tenant_id=member_home_tenant_id,
                         channel=channel.name, priority=Priority(category.priority).name,
                         opened_at=now.isoformat(), referral_id=incoming_referral_id or ""))
    return row


def _check_texts(*, title: str, description: str) -> list[FieldViolation]:
    problems = []
    if (p := domain.text_problem(title, low=2, high=60, label="标题")) is not None:
        problems.append(FieldViolation("title", p))
    if len(description) > 2000:
        problems.append(FieldViolation("description", "情况说明：不能超过2000个字"))
    return problems


def _received_at(principal: Principal, received_time: datetime | None, now: datetime) -> datetime:
    if received_time is None:
        return now
    if _is_member(principal):
        raise invalid_field("received_time", "受理时间：党员本人提交的工单不能补录时间")
    if received_time > now + timedelta(minutes=1) or received_time < now - timedelta(
            days=domain.RECEIVED_TIME_MAX_DAYS):
        raise invalid_field("received_time",
                                    f"受理时间：补录只能是最近{domain.RECEIVED_TIME_MAX_DAYS}天内，且不能晚于现在")
    return min(received_time, now)


async def create_ticket(*, deps: DeskDeps, principal: Principal, category: str, title: str, description: str,
                        form: Any, member_home_tenant_id: str, member_id: str, serving_org_id: str, channel: int,
                        request_id: str, received_time: datetime | None = None) -> TicketView:
    """File a request: a member for themself (county department's queue), or staff for a member of their county
    or a guest placed here (a station's queue or the county's); a repeated request id returns the first ticket."""
    tenant = require_tenant(principal)
    now = deps.clock()
    at = _received_at(principal, received_time, now)
    problems = _check_texts(title=title, description=description)
    if len(request_id) > 200:
        problems.append(FieldViolation("request_id", "请求编号过长"))
    member = _is_member(principal)
    staff_channels = (Channel.WALK_IN, Channel.HOME_COUNTY, Channel.GRID)
    chosen = Channel.MEMBER_APP if member else Channel(channel) if channel in staff_channels else Channel.WALK_IN
    if not member and channel and channel not in staff_channels:
        problems.append(FieldViolation("channel", "受理渠道：应为窗口受理、户籍地代办或网格员"))
    calendar = await _calendar(deps, tenant)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            first = await repo.by_request_id(uow, request_id=request_id)
            if first is not None:
                return await _view(uow, first)
        try:
            found = await categories.category_for_filing(uow, code=category)
        except InvalidArgument as exc:
            problems.extend(exc.violations)
            raise invalid(problems) from None
        try:
            values = validate_form(found.fields, form)
        except InvalidArgument as exc:
            problems.extend(exc.violations)
            values = {}
        if problems:
            raise invalid(problems)
        if member:
            if principal.member is None:
                raise PermissionDenied("该账号未关联党员信息")
            known = await replica.home_member(uow, member_id=principal.member)
            if known is None:
                raise FailedPrecondition("党员信息尚在同步，请稍后再试")
            home, who, name, queue = tenant, known.id, known.name, None
        else:
            home, who, name = await _staff_member(uow, member_home_tenant_id=member_home_tenant_id or tenant,
                                                  member_id=member_id)
            queue = await _queue_for(uow, principal, category=found, serving_org_id=serving_org_id)
        row = await _open(deps=deps, uow=uow, principal=principal, category=found, calendar=calendar, now=at,
                          member_home_tenant_id=home, member_id=who, member_name=name, serving_org_id=queue,
                          title=title.strip(), description=description.strip(), form=values, channel=chosen,
                          request_id=request_id or None, actor=MEMBER_ACTOR if member else "",
                          actor_name=name if member else "")
        view = await _view(uow, row)
        await uow.commit()
    return view


async def _staff_member(uow: UnitOfWork, *, member_home_tenant_id: str, member_id: str) -> tuple[str, str, str]:
    """The member staff file for: one of this county (active), or a guest placed here (verified by the replica)."""
    if not member_id:
        raise invalid_field("member_id", "党员：必填")
    key = parse_id(member_id, field="member_id")
    if member_home_tenant_id == uow.tenant:
        own = await replica.home_member(uow, member_id=key)
        if own is None or not own.active:
            raise invalid_field("member_id", "党员：本县没有这名党员")
        return uow.tenant, own.id, own.name
    if not (len(member_home_tenant_id) == 6 and member_home_tenant_id.isascii() and member_home_tenant_id.isdigit()):
        raise invalid_field("member_home_tenant_id", "户籍地：应为6位县级代码")
    guest = await replica.guest(uow, origin_tenant_id=member_home_tenant_id, member_id=key)
    if guest is None or guest.status in ("REFUSED", "CLOSED"):
        raise invalid_field("member_id", "党员：不是本县接收的外地流动党员，无法代为登记")
    return member_home_tenant_id, guest.member_id, guest.member_name


async def _queue_for(uow: UnitOfWork, principal: Principal, *, category: Category,
                     serving_org_id: str) -> str | None:
    """The queue of a ticket staff file: the station named (within reach), else the nearest station for a STATION
    category, else the county department's (None)."""
    reach = await queue_reach(uow, principal, Permission.TICKETS_FILE)
    if serving_org_id and serving_org_id != domain.COUNTY_QUEUE:
        key = parse_id(serving_org_id, field="serving_org_id")
        found = await replica.org(uow, org_id=key)
        if found is None or found.dissolved or (reach is not None and key not in reach):
            raise invalid_field("serving_org_id", "承办站点：不是本县您可以派单的站点")
        return key
    if serving_org_id == domain.COUNTY_QUEUE:
        if reach is not None:
            raise invalid_field("serving_org_id", "承办站点：只有县委组织部可以派往县级队列")
        return None
    if category.default_queue == "STATION" and principal.org:
        station = await replica.nearest_station(uow, org_id=principal.org)
        if station is not None:
            return station.id
    return None


# ---------------------------------------------------------------- reading


async def _view(uow: UnitOfWork, row: TicketRow) -> TicketView:
    org_name, files = await repo.view_facts(uow, ticket_id=row.id, org_id=row.serving_org_id)
    return TicketView(row=row, serving_org_name=(org_name or "") if row.serving_org_id else "县委组织部",
                      attachment_count=files)


async def get_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str) -> TicketView:
    """One ticket within the caller's reach (a member: their own)."""
    await _calendar(deps, require_tenant(principal))  # cached for the answer's clock states
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_READ)
        return await _view(uow, row)


async def list_tickets(*, deps: DeskDeps, principal: Principal, statuses: list[int], category: str, queue: str,
                       assignee: str, sla_state: int, member_id: str, query: str, page: int, page_size: int,
                       referred_only: bool) -> TicketPage:
    """A page of the tickets within the caller's reach (a member: their own), newest first, with the total."""
    tenant = require_tenant(principal)
    problems: list[FieldViolation] = []
    if any(s not in TicketStatus.__members__.values() for s in statuses):
        problems.append(FieldViolation("statuses", "状态：无效"))
    states = {0: "", 2: "WARNED", 3: "BREACHED", 4: "PAUSED"}
    if sla_state not in states:
        problems.append(FieldViolation("sla_state", "时限状态：只能按预警、超时或暂停筛选"))
    if page < 0:
        problems.append(FieldViolation("page", "页码：不能为负数"))
    if len(query) > 50:
        problems.append(FieldViolation("query", "关键词：不能超过50个字"))
    queue_key: str | None = None
    if queue:
        queue_key = queue if queue == domain.COUNTY_QUEUE else parse_id(queue, field="queue")
    member_key = parse_id(member_id, field="member_id") if member_id else None
    size = checked_page_size(page_size)
    if problems:
        raise invalid(problems)
    who = {"me": principal.user, "none": ""}.get(assignee, assignee) if assignee else None
    await _calendar(deps, tenant)  # cached for the answer's clock states
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if _is_member(principal):
            if principal.member is None:
                return TicketPage(tickets=[], total=0)
            reach, mine = None, (tenant, principal.member)
        else:
            reach, mine = await queue_reach(uow, principal, Permission.TICKETS_READ), None
        # A filter naming a queue or a member names one the caller reaches, else it does not exist for them (as
        # any id does): never an empty page that says the object is there.
        if queue_key == domain.COUNTY_QUEUE:
            if reach is not None:
                raise NotFound("未找到该队列")
        elif queue_key is not None and ((reach is not None and queue_key not in reach)
                                        or await replica.org(uow, org_id=queue_key) is None):
            raise NotFound("未找到该队列")
        if member_key is not None and (member_key != mine[1] if mine is not None else
                                       not await repo.member_has_ticket(uow, member_id=member_key, reach=reach)):
            raise NotFound("未找到该党员的工单")
        rows, total = await repo.page(uow, filter_=repo.TicketFilter(
            reach=reach, member=mine, statuses=tuple(statuses), category=category, queue=queue_key, assignee=who,
            sla_state=states.get(sla_state, ""), member_id=member_key, query=query.strip(),
            referred_only=referred_only), offset=(max(page, 1) - 1) * size, limit=size)
        names = await repo.org_names(uow, org_ids=sorted({r.serving_org_id for r in rows if r.serving_org_id}))
        counts = await repo.attachment_counts(uow, ticket_ids=[r.id for r in rows])
    return TicketPage(total=total, tickets=[
        TicketView(row=r, serving_org_name=names.get(r.serving_org_id, "") if r.serving_org_id else "县委组织部",
                   attachment_count=counts.get(r.id, 0)) for r in rows])


async def ticket_history(*, deps: DeskDeps, principal: Principal, ticket_id: str) -> list[repo.HistoryRow]:
    """Every act on a ticket, oldest first; a member never sees internal notes or internal acts."""
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_READ)
        entries = await repo.history(uow, ticket_id=row.id)
    if _is_member(principal):
        entries = [e for e in entries if domain.visible_to_member(e.action, e.comment_kind)]
    return entries


# ---------------------------------------------------------------- moves


def _check_version(row: TicketRow, version: int) -> None:
    if version and version != row.version:
        raise FailedPrecondition("工单已被他人更新，请刷新后重试")


def _to(row: TicketRow, action: Move) -> TicketStatus:
    try:
        return domain.move(row.status, action)
    except domain.WrongState as exc:
        raise FailedPrecondition(exc.message) from None


def _actor(principal: Principal, row: TicketRow) -> tuple[str, str]:
    if _is_member(principal):
        return MEMBER_ACTOR, row.member_name
    return principal.user, ""


async def _step(uow: UnitOfWork, row: TicketRow, *, to: TicketStatus, now: datetime, calendar: WorkCalendar | None,
                sla_events: tuple[SlaEvent, ...], changes: dict[str, Any], actor: str, actor_name: str,
                action: str, comment_kind: int = 0, body: str = "") -> TicketRow:
    """Change the state with its clocks, and append the history entry."""
    new = await repo.update(uow, ticket_id=row.id, changes={
        "status": int(to), "updated_at": now, **changes, **_clock_changes(row, sla_events, calendar, now)})
    await repo.add_history(uow, ticket_id=row.id, at=now, actor=actor, actor_name=actor_name, action=action,
                           from_status=row.status, to_status=int(to), comment_kind=comment_kind, body=body)
    return new


async def _act(*, deps: DeskDeps, principal: Principal, ticket_id: str, permission: Permission,
               version: int = 0) -> tuple[str, WorkCalendar]:
    tenant = require_tenant(principal)
    return tenant, await _calendar(deps, tenant)


async def accept_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, message: str,
                        version: int) -> TicketView:
    """受理 a new ticket (its first response); a message goes to the member as a reply."""
    if len(message) > 2000:
        raise invalid_field("message", "受理回复：不能超过2000个字")
    tenant, calendar = await _act(deps=deps, principal=principal, ticket_id=ticket_id,
                                  permission=Permission.TICKETS_HANDLE)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_HANDLE, for_update=True)
        _check_version(row, version)
        to = _to(row, Move.ACCEPT)
        sla_events = (SlaEvent.ACCEPTED, SlaEvent.UPDATED) if message.strip() else (SlaEvent.ACCEPTED,)
        new = await _step(uow, row, to=to, now=now, calendar=calendar, sla_events=sla_events,
                          changes={"accepted_at": now}, actor=principal.user, actor_name="", action="accepted",
                          comment_kind=int(CommentKind.REPLY) if message.strip() else 0, body=message.strip())
        await record_act(uow, principal, service=SERVICE, action="ticket.accept", object_type="ticket",
                         object_id=row.id, aggregate_version=new.version,
                         event=_replied(row, "COMMENT") if message.strip() else None)
        view = await _view(uow, new)
        await uow.commit()
    return view


async def start_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, version: int) -> TicketView:
    """Start work on an accepted ticket (处理中)."""
    return await _simple_move(deps=deps, principal=principal, ticket_id=ticket_id, version=version, move=Move.START,
                              sla_events=(), action="started", act="ticket.start")


async def request_info(*, deps: DeskDeps, principal: Principal, ticket_id: str, message: str,
                       version: int) -> TicketView:
    """Ask the member for materials (待补充材料): a reply to them; the clocks pause."""
    if (p := domain.text_problem(message, low=1, high=2000, label="需补充的材料")) is not None:
        raise invalid_field("message", p)
    return await _simple_move(deps=deps, principal=principal, ticket_id=ticket_id, version=version,
                              move=Move.REQUEST_INFO, sla_events=(SlaEvent.PAUSED,), action="info_requested",
                              act="ticket.request_info", comment_kind=int(CommentKind.REPLY), body=message.strip(),
                              replied="INFO_REQUESTED")


async def resume_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, note: str,
                        version: int) -> TicketView:
    """Resume a ticket waiting for materials; the clocks run again."""
    if len(note) > 2000:
        raise invalid_field("note", "备注：不能超过2000个字")
    return await _simple_move(deps=deps, principal=principal, ticket_id=ticket_id, version=version,
                              move=Move.RESUME, sla_events=(SlaEvent.RESUMED,), action="resumed",
                              act="ticket.resume", note=note.strip())


async def _simple_move(*, deps: DeskDeps, principal: Principal, ticket_id: str, version: int, move: Move,
                       sla_events: tuple[SlaEvent, ...], action: str, act: str, comment_kind: int = 0,
                       body: str = "", note: str = "", replied: str = "") -> TicketView:
    tenant, calendar = await _act(deps=deps, principal=principal, ticket_id=ticket_id,
                                  permission=Permission.TICKETS_HANDLE)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_HANDLE, for_update=True)
        _check_version(row, version)
        new = await _step(uow, row, to=_to(row, move), now=now, calendar=calendar, sla_events=sla_events,
                          changes={}, actor=principal.user, actor_name="", action=action,
                          comment_kind=comment_kind, body=body)
        if note:
            await repo.add_history(uow, ticket_id=row.id, at=now, actor=principal.user, actor_name="",
                                   action="comment", from_status=0, to_status=0,
                                   comment_kind=int(CommentKind.NOTE), body=note)
        await record_act(uow, principal, service=SERVICE, action=act, object_type="ticket", object_id=row.id,
                         aggregate_version=new.version, event=_replied(row, replied) if replied else None)
        view = await _view(uow, new)
        await uow.commit()
    return view


async def resolve_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, resolution: str,
                         version: int) -> TicketView:
    """办结 a ticket with what was done (shown to the member); the member may rate or reopen it."""
    if (p := domain.text_problem(resolution, low=2, high=2000, label="办理结果")) is not None:
        raise invalid_field("resolution", p)
    tenant, calendar = await _act(deps=deps, principal=principal, ticket_id=ticket_id,
                                  permission=Permission.TICKETS_HANDLE)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_HANDLE, for_update=True)
        _check_version(row, version)
        _to(row, Move.RESOLVE)
        new = await _resolve(deps=deps, uow=uow, principal=principal, row=row, resolution=resolution.strip(),
                             calendar=calendar, now=now, actor=principal.user, actor_name="")
        # Told here, not in _resolve: a resolution mirrored from the county a referral went to was told there.
        if (replied := _replied(row, "RESOLVED")) is not None:
            _emit(uow, row, replied, version=new.version)
        view = await _view(uow, new)
        await uow.commit()
    return view


async def _resolve(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, row: TicketRow, resolution: str,
                   calendar: WorkCalendar, now: datetime, actor: str, actor_name: str) -> TicketRow:
    found = await categories.category_any(uow, code=row.category)
    reopen_days = found.reopen_days if found is not None else 15
    new = await _step(uow, row, to=TicketStatus.RESOLVED, now=now, calendar=calendar,
                      sla_events=(SlaEvent.RESOLVED,),
                      changes={"resolved_at": now, "resolution": resolution,
                               "reopen_until": domain.reopen_until(now, reopen_days)},
                      actor=actor, actor_name=actor_name, action="resolved", comment_kind=int(CommentKind.REPLY),
                      body=resolution)
    sla = ticket_sla(new)
    first_met, resolution_met = sla_domain.met(sla)
    worked = sla_domain.working_minutes_open(sla, calendar, now)
    await record_act(uow, principal, service=SERVICE, action="ticket.resolve", object_type="ticket",
                     object_id=row.id, aggregate_version=new.version, event=events.TicketResolved(
                         ticket_id=row.id, category=row.category, category_group=row.category_group,
                         serving_org_id=row.serving_org_id or "", first_response_met=first_met,
                         resolution_met=resolution_met, resolved_at=now.isoformat(), working_minutes=worked))
    if row.incoming_referral_id:
        # The county that referred the member's request here resolves its own ticket with the same outcome.
        # It continues the referral's trace (the saga's first step, at the referring county).
        trace = await referral_repo.saga_trace_of(uow, referral_id=row.incoming_referral_id)
        _emit(uow, row, events.ReferralResolved(
            referral_id=row.incoming_referral_id, origin_tenant_id=row.referred_from_tenant_id,
            resolution=resolution, resolved_at=now.isoformat()), version=new.version, trace=trace)
    return new


def _replied(row: TicketRow, kind: str) -> events.TicketReplied | None:
    """TicketReplied (COMMENT, INFO_REQUESTED or RESOLVED): the office answered the member, so they hear of it;
    None when the ticket names no member to tell."""
    if not row.member_id or not row.member_home_tenant_id:
        return None
    return events.TicketReplied(ticket_id=row.id, category=row.category, serving_org_id=row.serving_org_id or "",
                                member_id=row.member_id, member_home_tenant_id=row.member_home_tenant_id,
                                kind=kind, title=row.title)


def _emit(uow: UnitOfWork, row: TicketRow, event: Message, *, version: int, trace: str = "") -> None:
    uow.add_event(new_event(event, service=SERVICE, tenant=uow.tenant, aggregate_id=row.id,
                            aggregate_version=version, traceparent=trace or telemetry.current_traceparent()))


async def close_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, reason: str, note: str,
                       version: int) -> TicketView:
    """Close an open ticket without resolution (撤回, 重复, 无法联系, 不属于受理范围)."""
    if reason not in domain.CLOSE_REASONS:
        raise invalid_field("reason", "关闭原因：应为 WITHDRAWN、DUPLICATE、UNREACHABLE 或 OUT_OF_SCOPE")
    if len(note) > 500:
        raise invalid_field("note", "备注：不能超过500个字")
    tenant, calendar = await _act(deps=deps, principal=principal, ticket_id=ticket_id,
                                  permission=Permission.TICKETS_HANDLE)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_HANDLE, for_update=True)
        _check_version(row, version)
        _to(row, Move.CLOSE)
        new = await _close(deps=deps, uow=uow, principal=principal, row=row, reason=reason, note=note.strip(),
                           calendar=calendar, now=now, actor=principal.user, actor_name="")
        view = await _view(uow, new)
        await uow.commit()
    return view


async def _close(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, row: TicketRow, reason: str, note: str,
                 calendar: WorkCalendar | None, now: datetime, actor: str, actor_name: str) -> TicketRow:
    label = domain.CLOSE_REASONS.get(reason, "已转办" if reason == "REFERRED_AWAY" else reason)
    new = await _step(uow, row, to=TicketStatus.CLOSED, now=now, calendar=calendar, sla_events=(SlaEvent.CLOSED,),
                      changes={"closed_at": now, "close_reason": reason}, actor=actor, actor_name=actor_name,
                      action="closed", body=f"{label}{'：' + note if note else ''}")
    await record_act(uow, principal, service=SERVICE, action="ticket.close", object_type="ticket", object_id=row.id,
                     aggregate_version=new.version, reason=reason, event=events.TicketClosed(
                         ticket_id=row.id, category=row.category, serving_org_id=row.serving_org_id or "",
                         reason=reason))
    return new


async def rate_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, score: int,
                      comment: str) -> TicketView:
    """Record the 满意度回访 of a resolved ticket: the member on their own, or staff after a phone call (已回访)."""
    problems = []
    if not 1 <= score <= 5:
        problems.append(FieldViolation("score", "满意度：应为1至5分"))
    if len(comment) > 500:
        problems.append(FieldViolation("comment", "评价：不能超过500个字"))
    if problems:
        raise invalid(problems)
    tenant = require_tenant(principal)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_FILE, for_update=True)
        to = _to(row, Move.RATE)
        actor, actor_name = _actor(principal, row)
        new = await _step(uow, row, to=to, now=now, calendar=None, sla_events=(),
                          changes={"rating": score, "rating_comment": comment.strip(), "rated_at": now,
                                   "closed_at": now, "close_reason": "REVIEWED"},
                          actor=actor, actor_name=actor_name, action="rated",
                          body=f"{score}分{'：' + comment.strip() if comment.strip() else ''}")
        await record_act(uow, principal, service=SERVICE, action="ticket.rate", object_type="ticket",
                         object_id=row.id, aggregate_version=new.version, event=events.TicketRated(
                             ticket_id=row.id, category=row.category, serving_org_id=row.serving_org_id or "",
                             score=score))
        _emit(uow, row, events.TicketClosed(ticket_id=row.id, category=row.category,
                                            serving_org_id=row.serving_org_id or "", reason="REVIEWED"),
              version=new.version)
        view = await _view(uow, new)
        await uow.commit()
    return view


async def reopen_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, reason: str) -> TicketView:
    """Reopen a resolved (or reviewed) ticket within its category's period: back to 处理中."""
    if (p := domain.text_problem(reason, low=1, high=500, label="理由")) is not None:
        raise invalid_field("reason", p)
    tenant, calendar = await _act(deps=deps, principal=principal, ticket_id=ticket_id,
                                  permission=Permission.TICKETS_FILE)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_FILE, for_update=True)
        to = _to(row, Move.REOPEN)
        if row.reopen_until is None or now > row.reopen_until:
            raise FailedPrecondition("已超过可重新打开的期限，请重新提交诉求")
        actor, actor_name = _actor(principal, row)
        new = await _step(uow, row, to=to, now=now, calendar=calendar, sla_events=(SlaEvent.REOPENED,),
                          changes={"reopened_count": row.reopened_count + 1, "resolved_at": None,
                                   "reopen_until": None, "closed_at": None, "close_reason": ""},
                          actor=actor, actor_name=actor_name, action="reopened", body=reason.strip())
        await record_act(uow, principal, service=SERVICE, action="ticket.reopen", object_type="ticket",
                         object_id=row.id, aggregate_version=new.version, reason=reason.strip(),
                         event=events.TicketReopened(ticket_id=row.id, category=row.category,
                                                     serving_org_id=row.serving_org_id or ""))
        view = await _view(uow, new)
        await uow.commit()
    return view


async def add_comment(*, deps: DeskDeps, principal: Principal, ticket_id: str, kind: int,
                      body: str) -> tuple[repo.HistoryRow, TicketView]:
    """An internal note or a reply (staff), or the member's message (which resumes a ticket awaiting materials)."""
    member = _is_member(principal)
    if member:
        chosen = CommentKind.MEMBER
    elif kind == CommentKind.MEMBER:
        raise invalid_field("kind", "留言类型：工作人员不能以党员身份留言")
    elif kind in (CommentKind.NOTE, CommentKind.REPLY):
        chosen = CommentKind(kind)
    else:
        raise invalid_field("kind", "留言类型：应为内部备注或答复")
    if (p := domain.text_problem(body, low=1, high=2000, label="内容")) is not None:
        raise invalid_field("body", p)
    tenant, calendar = await _act(deps=deps, principal=principal, ticket_id=ticket_id,
                                  permission=Permission.TICKETS_FILE)
    now = deps.clock()
    text = body.strip()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_ticket(uow, principal, ticket_id, permission=Permission.TICKETS_FILE, for_update=True)
        if row.status == TicketStatus.CLOSED:
            raise FailedPrecondition("工单当前为“已关闭”状态，不能留言")
        actor, actor_name = _actor(principal, row)
        if member and row.status == TicketStatus.AWAITING_INFO:
            # The member's materials: the ticket goes back to work and its clocks run again.
            new = await repo.update(uow, ticket_id=row.id, changes={
                "status": int(TicketStatus.IN_PROGRESS), "updated_at": now,
                **_clock_changes(row, (SlaEvent.RESUMED,), calendar, now)})
            entry = await repo.add_history(uow, ticket_id=row.id, at=now, actor=actor, actor_name=actor_name,
                                           action="info_supplied", from_status=row.status,
                                           to_status=int(TicketStatus.IN_PROGRESS), comment_kind=int(chosen),
                                           body=text)
        else:
            sla_events = (SlaEvent.UPDATED,) if chosen is CommentKind.REPLY and row.status in domain.OPEN else ()
            new = await repo.update(uow, ticket_id=row.id, changes={
                "updated_at": now, **_clock_changes(row, sla_events, calendar, now)})
            entry = await repo.add_history(uow, ticket_id=row.id, at=now, actor=actor, actor_name=actor_name,
                                           action="comment", from_status=0, to_status=0, comment_kind=int(chosen),
                                           body=text)
        # Only a reply reaches the member (TicketReplied → their inbox); an internal note stays in the office.
        await record_act(uow, principal, service=SERVICE, action=f"ticket.comment.{chosen.name.lower()}",
                         object_type="ticket", object_id=row.id, aggregate_version=new.version,
                         event=_replied(row, "COMMENT") if chosen is CommentKind.REPLY else None)
        view = await _view(uow, new)
        await uow.commit()
    return entry, view
