"""Meetings and attendance: SQL over the unit of work's connection."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.organizations.meetings.domain import Attendance, Entry, Meeting, NewMeeting, Status
from jinqiao.organizations.meetings.models import MEETING, meeting_from_record


async def insert_meeting(uow: UnitOfWork, *, meeting_id: str, org_id: str, meeting: NewMeeting) -> Meeting:
    """Record a scheduled meeting."""
    await uow.conn.execute(
        "INSERT INTO meetings (tenant_id, id, org_id, type, title, starts_at, place, online_link, agenda)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        uow.tenant, meeting_id, org_id, int(meeting.type), meeting.title, meeting.starts_at, meeting.place,
        meeting.online_link, meeting.agenda,
    )
    return meeting_from_record(await uow.conn.fetchrow(f"{MEETING} WHERE m.id = $1", meeting_id))


async def meeting(uow: UnitOfWork, *, meeting_id: str) -> Meeting | None:
    """One meeting, or None."""
    record = await uow.conn.fetchrow(f"{MEETING} WHERE m.id = $1", meeting_id)
    return meeting_from_record(record) if record else None


async def upsert_attendance(uow: UnitOfWork, *, meeting_id: str, entries: list[Entry]) -> None:
    """Record attendance; a repeated member replaces its earlier entry."""
    await uow.conn.executemany(
        "INSERT INTO attendance (tenant_id, meeting_id, member_id, home_tenant_id, status) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id, meeting_id, member_id) DO UPDATE SET home_tenant_id = EXCLUDED.home_tenant_id,"
        " status = EXCLUDED.status, recorded_at = now()",
        [(uow.tenant, meeting_id, e.member_id, e.home_tenant_id, int(e.status)) for e in entries],
    )


async def meetings(uow: UnitOfWork, *, org_id: str) -> list[Meeting]:
    """An organisation's meetings, newest first."""
    return [meeting_from_record(r) for r in await uow.conn.fetch(
        f"{MEETING} WHERE m.org_id = $1 ORDER BY m.starts_at DESC LIMIT 500", org_id)]


async def member_attendance(uow: UnitOfWork, *, member_id: str) -> list[Attendance]:
    """A member's attendance in this county's meetings, newest first."""
    records = await uow.conn.fetch(
        f"SELECT q.*, a.status AS member_status, a.home_tenant_id <> a.tenant_id AS guest FROM attendance a"
        f" JOIN ({MEETING}) q ON q.id = a.meeting_id WHERE a.member_id = $1 ORDER BY q.starts_at DESC LIMIT 500",
        member_id,
    )
    return [Attendance(meeting=meeting_from_record(r), status=Status(r["member_status"]), guest=r["guest"])
            for r in records]
