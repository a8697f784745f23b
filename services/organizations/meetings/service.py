"""Meetings' use cases: schedule 三会一课 and 主题党日, record and read attendance."""

from __future__ import annotations

import uuid
from datetime import datetime

from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit import authz, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Reach
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.events import new_event
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.meetings import domain, repo
from jinqiao.organizations.memberships import service as memberships
from jinqiao.organizations.orgs import domain as orgs
from jinqiao.organizations.orgs import service as org_scope


async def schedule_meeting(*, deps: OrgDeps, principal: Principal, org_id: str, type_: int, title: str,
                           starts_at: datetime | None, place: str, online_link: str,
                           agenda: str) -> domain.Meeting:
    """Schedule a 三会一课 meeting or 主题党日; MeetingScheduled goes out through the outbox."""
    orgs.ensure_may_keep_org_life(principal.role)
    new = domain.validate_meeting(type_=type_, title=title, starts_at=starts_at, place=place,
                                  online_link=online_link, agenda=agenda)
    meeting_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        result = await repo.insert_meeting(uow, meeting_id=meeting_id, org_id=org.id, meeting=new)
        # The audit row has named the meeting under the "org" object type since meetings began; kept as it is.
        await record_act(uow, principal, service=SERVICE, action="meeting.schedule", object_type="org",
                         object_id=meeting_id, event=events.MeetingScheduled(
                             meeting_id=meeting_id, org_id=org.id, type=new.type.name, title=new.title,
                             start_time=new.starts_at.isoformat()))
        await uow.commit()
    return result


async def record_attendance(*, deps: OrgDeps, principal: Principal, meeting_id: str,
                            entries: list[tuple[str, str, int]], org_id: str = "") -> domain.Meeting:
    """Record attendance; each entry emits AttendanceRecorded so the member's home county can count it.

    A guest is recorded only where the county placed them, an own member only if the county holds them.
    """
    orgs.ensure_may_keep_org_life(principal.role)
    parsed = domain.validate_entries(entries)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        found = await repo.meeting(uow, meeting_id=parse_id(meeting_id, what="该会议"))
        # A meeting of another organisation than the one named (the path's) is not this organisation's meeting.
        if found is None or (org_id and found.org_id != parse_id(org_id, what="该会议")):
            raise NotFound("未找到该会议")
        where = await org_scope.load(uow, principal, found.org_id)
        await _ensure_legitimate(uow, entries=parsed, within_path=where.path)
        await repo.upsert_attendance(uow, meeting_id=found.id, entries=parsed)
        # One event per member (each goes to that member's home county) under one audited act.
        traceparent = telemetry.current_traceparent()
        for entry in parsed:
            uow.add_event(new_event(events.AttendanceRecorded(
                meeting_id=found.id, org_id=found.org_id, member_id=entry.member_id,
                home_tenant_id=entry.home_tenant_id, status=entry.status.name,
                guest=entry.home_tenant_id != uow.tenant, meeting_type=found.type.name,
            ), service=SERVICE, tenant=uow.tenant, aggregate_id=found.id, aggregate_version=1,
                traceparent=traceparent))
        await record_act(uow, principal, service=SERVICE, action="meeting.attendance", object_type="meeting",
                         object_id=found.id, reason=f"{len(parsed)} entries")
        result = await repo.meeting(uow, meeting_id=found.id)
        await uow.commit()
    assert result is not None
    return result


async def _ensure_legitimate(uow: UnitOfWork, *, entries: list[domain.Entry], within_path: str) -> None:
    """Refuse, by field, every member the county does not hold and every guest without a membership here."""
    own = [e.member_id for e in entries if e.home_tenant_id == uow.tenant]
    guests = [(e.home_tenant_id, e.member_id) for e in entries if e.home_tenant_id != uow.tenant]
    violations = domain.foreign_id_violations(
        entries, tenant=uow.tenant, own_held=await repo.held_members(uow, member_ids=own) if own else set(),
        guests_held=await memberships.guests_held(uow, members=guests, within_path=within_path))
    if violations:
        raise InvalidArgument(violations)


async def members_held(uow: UnitOfWork, *, member_ids: list[str]) -> set[str]:
    """Those of the ids that name a member the county holds (the replica of the registry's events)."""
    return await repo.held_members(uow, member_ids=member_ids) if member_ids else set()


async def hold_member(*, uow: UnitOfWork, member_id: str, held: bool) -> None:
    """Keep the replica of the county's members: registered (or transferred in), or transferred out."""
    key = parse_id_or_none(member_id)
    if key is None:
        raise InvalidArgument.field("member_id", "事件中的党员编号无效")
    await repo.hold_member(uow, member_id=key, held=held)


async def list_meetings(*, deps: OrgDeps, principal: Principal, org_id: str) -> list[domain.Meeting]:
    """An organisation's meetings, newest first."""
    orgs.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        return await repo.meetings(uow, org_id=org.id)


async def member_attendance(*, deps: OrgDeps, principal: Principal, member_id: str) -> list[domain.Attendance]:
    """A member's attendance in this county's meetings (staff reaching the whole county only: it spans the tree)."""
    orgs.ensure_may_read(principal.role)
    if authz.reach(principal.role) is not Reach.COUNTY:
        raise PermissionDenied("只有县委组织部可以查看党员在全县的出席情况")
    key = parse_id(member_id, what="该党员")
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        found = await repo.member_attendance(uow, member_id=key)
        # Another county's member, or no one at all, has no attendance here: not an empty list, but not found.
        if not found and not await repo.known_member(uow, member_id=key) \
                and not await memberships.ever_placed(uow, member_id=key):
            raise NotFound("未找到该党员")
        return found
