"""Queue use cases: the queues in the caller's reach with their counts, duty on and off, and assignment (by hand
or round robin among the staff on duty)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from jinqiao.desk.attachments import service as attachments
from jinqiao.desk.calendar.service import calendar_for
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.queues import repo
from jinqiao.desk.queues.domain import (
    NOBODY_ON_DUTY,
    NOT_ON_ROSTER,
    DutyCandidate,
    clean_display_name,
    pick_round_robin,
)
from jinqiao.desk.queues.models import DutyRow, QueueCounts
from jinqiao.desk.replica import service as replica
from jinqiao.desk.tickets import service as tickets
from jinqiao.desk.tickets.domain import COUNTY_QUEUE, OPEN, TicketStatus
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Permission
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from jinqiao.kit.usecases import parse_id, record_act, require_tenant

# Two assignments in one queue never share a stamp, so "the oldest last assignment" is always well defined.
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class QueueView:
    """A queue in the caller's reach: its key, organisation (None: the county department's), name and counts."""

    key: str
    org_id: str | None
    name: str
    counts: QueueCounts
    on_duty: int


@dataclass(frozen=True, slots=True)
class AssignedTicket:
    """A ticket just assigned, with what its wire form shows besides the row."""

    row: TicketRow
    serving_org_name: str
    attachment_count: int


async def _queue_key(uow: UnitOfWork, principal: Principal, queue: str) -> str:
    """A queue key the caller reaches ("county", or a station's org id in canonical form); NotFound otherwise."""
    reach = await tickets.queue_reach(uow, principal, Permission.TICKETS_HANDLE)
    if queue == COUNTY_QUEUE:
        if reach is not None:
            raise NotFound("未找到该队列")
        return COUNTY_QUEUE
    org_id = parse_id(queue, what="该队列")
    org = await replica.org(uow, org_id=org_id)
    if org is None or org.dissolved or (reach is not None and org_id not in reach):
        raise NotFound("未找到该队列")
    return org_id


async def list_queues(*, deps: DeskDeps, principal: Principal) -> list[QueueView]:
    """The stations' queues within the caller's reach (and the county department's for a county-wide caller),
    each with its open, unassigned, warned and breached tickets and its staff on duty."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        reach = await tickets.queue_reach(uow, principal, Permission.TICKETS_HANDLE)
        counts = await repo.queue_counts(uow)
        duty = await repo.on_duty_counts(uow)
        names: dict[str, str] = {s.id: s.name for s in await replica.stations(uow)
                                 if reach is None or s.id in reach}
        # An organisation that is no station may still serve tickets (chosen when filing): it is a queue too.
        for key in counts:
            if key != COUNTY_QUEUE and key not in names and (reach is None or key in reach):
                org = await replica.org(uow, org_id=key)
                names[key] = org.name if org is not None else ""
        await uow.commit()
    views = [QueueView(key=key, org_id=key, name=name, counts=counts.get(key, QueueCounts()),
                       on_duty=duty.get(key, 0)) for key, name in sorted(names.items(), key=lambda kv: (kv[1], kv[0]))]
    if reach is None:
        views.insert(0, QueueView(key=COUNTY_QUEUE, org_id=None, name="县级服务台",
                                  counts=counts.get(COUNTY_QUEUE, QueueCounts()), on_duty=duty.get(COUNTY_QUEUE, 0)))
    return views


async def set_duty(*, deps: DeskDeps, principal: Principal, queue: str, on_duty: bool,
                   display_name: str) -> DutyRow:
    """Put the caller on or off duty in a queue within their reach (shown as ``display_name``, default the login
    name)."""
    tenant = require_tenant(principal)
    name = clean_display_name(display_name, default=principal.user)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        key = await _queue_key(uow, principal, queue)
        row = await repo.set_duty(uow, queue=key, user_name=principal.user, display_name=name, on_duty=on_duty,
                                  at=deps.clock())
        await record_act(uow, principal, service=SERVICE, action="desk.duty_on" if on_duty else "desk.duty_off",
                         object_type="queue", object_id=key)
        await uow.commit()
    return row


async def list_duty(*, deps: DeskDeps, principal: Principal, queue: str) -> list[DutyRow]:
    """A queue's roster (on duty first) with each person's open assigned tickets."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        key = await _queue_key(uow, principal, queue)
        rows = await repo.roster(uow, queue=key)
        await uow.commit()
    return rows


async def assign_ticket(*, deps: DeskDeps, principal: Principal, ticket_id: str, assignee: str, round_robin: bool,
                        version: int) -> AssignedTicket:
    """Assign an open ticket by hand (the caller, or someone on its queue's roster) or round robin among the
    queue's staff on duty (the one whose last assignment is oldest)."""
    tenant = require_tenant(principal)
    tid = parse_id(ticket_id, what="工单")
    assignee = assignee.strip()
    if round_robin and assignee:
        raise InvalidArgument.field("assignee", "轮流分派时不能同时指定处理人")
    if not round_robin and not assignee:
        raise InvalidArgument.field("assignee", "请选择处理人，或选择轮流分派")
    # The assignment's clock event needs the county's calendar; it is read (and cached) on a connection of its
    # own, so it must come before this unit of work: under concurrent assignments each waiting for the roster lock,
    # a second connection taken inside would exhaust the pool while holding the lock.
    await calendar_for(deps=deps, tenant=tenant)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await tickets.visible_ticket(uow, principal, tid, permission=Permission.TICKETS_HANDLE,
                                           for_update=True)
        if version and version != row.version:
            raise FailedPrecondition("工单已被他人修改，请刷新后重试")
        if TicketStatus(row.status) not in OPEN:
            raise FailedPrecondition("只有未办结的工单可以分派")
        queue = row.serving_org_id or COUNTY_QUEUE
        if round_robin:
            on_duty = await repo.lock_on_duty(uow, queue=queue)
            chosen = pick_round_robin(DutyCandidate(user=d.user_name, last_assigned_at=d.last_assigned_at,
                                                    open_assigned=d.open_assigned) for d in on_duty)
            if chosen is None:
                raise FailedPrecondition(NOBODY_ON_DUTY)
            person = next(d for d in on_duty if d.user_name == chosen.user)
            user, name = person.user_name, person.display_name or person.user_name
        else:
            listed = await repo.entry(uow, queue=queue, user_name=assignee)
            if listed is None and assignee != principal.user:
                raise InvalidArgument.field("assignee", NOT_ON_ROSTER)
            user = assignee
            name = listed.display_name if listed is not None and listed.display_name else assignee
        now = deps.clock()
        latest = await repo.latest_assignment(uow, queue=queue)
        stamp = max(now, latest + _TICK) if latest is not None else now
        await repo.mark_assigned(uow, queue=queue, user_name=user, at=stamp)
        updated = await tickets.set_assignee(deps=deps, uow=uow, principal=principal, row=row, assignee=user,
                                             assignee_name=name)
        await record_act(uow, principal, service=SERVICE,
                         action="ticket.assign_round_robin" if round_robin else "ticket.assign", object_type="ticket",
                         object_id=tid)
        org = await replica.org(uow, org_id=updated.serving_org_id) if updated.serving_org_id else None
        files = await attachments.count_by_ticket(uow, [tid])
        await uow.commit()
    # The county department's queue is shown under the department's name, as the tickets concept shows it.
    return AssignedTicket(row=updated, serving_org_name=org.name if org is not None else
                          ("" if updated.serving_org_id else "县委组织部"), attachment_count=files.get(tid, 0))
