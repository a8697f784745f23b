"""Meetings' persistence model: a meeting row with its attendance counts, and its mapping."""

from __future__ import annotations

import asyncpg

from jinqiao.organizations.meetings.domain import Meeting, MeetingType

MEETING = (
    "SELECT m.id, m.org_id, m.type, m.title, m.starts_at, m.place, m.online_link, m.agenda,"
    " (SELECT count(*) FROM attendance a WHERE a.meeting_id = m.id AND a.tenant_id = m.tenant_id"
    "  AND a.status = 1) AS present,"
    " (SELECT count(*) FROM attendance a WHERE a.meeting_id = m.id AND a.tenant_id = m.tenant_id"
    "  AND a.status = 1 AND a.home_tenant_id <> m.tenant_id) AS guests"
    " FROM meetings m"
)


def meeting_from_record(r: asyncpg.Record) -> Meeting:
    """Map a row selected with MEETING."""
    return Meeting(id=str(r["id"]), org_id=str(r["org_id"]), type=MeetingType(r["type"]), title=r["title"],
                   starts_at=r["starts_at"], place=r["place"], online_link=r["online_link"], agenda=r["agenda"],
                   present=r["present"], guests=r["guests"])
