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


async def hold_member(uow: UnitOfWork, *, member_id: str, held: bool) -> None:
    """Record that the county holds (MemberRegistered) or no longer holds (MemberTransferred) a member.

    A hand-over is final (a member coming back is registered under a new id), so it wins whichever of the two
    consumers gets its event first, as on a replay of the whole stream.
    """
    keep = "DO NOTHING" if held else "DO UPDATE SET held = false, updated_at = now()"
    await uow.conn.execute(
        "INSERT INTO county_members (tenant_id, member_id, held) VALUES ($1, $2, $3)"
        f" ON CONFLICT (tenant_id, member_id) {keep}",
        uow.tenant, member_id, held,
    )


async def held_members(uow: UnitOfWork, *, member_ids: list[str]) -> set[str]:
    """Those of the ids that name a member the county holds."""
    records = await uow.conn.fetch(
        "SELECT member_id FROM county_members WHERE member_id = ANY($1::uuid[]) AND held", member_ids)
    return {str(r["member_id"]) for r in records}


async def known_member(uow: UnitOfWork, *, member_id: str) -> bool:
    """Whether the county holds or once held the member (a member transferred out keeps their history)."""
    return bool(await uow.conn.fetchval("SELECT EXISTS (SELECT 1 FROM county_members WHERE member_id = $1)",
                                        member_id))
