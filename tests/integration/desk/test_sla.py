"""The SLA sweep over real PostgreSQL: a breach emits its event once (two sweeps in a row, two at once), warnings
come first, escalation goes to the county department, and a paused ticket is left alone."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import pytest

from jinqiao.desk.calendar.domain import BEIJING, working_days
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla import service
from jinqiao.desk.sla.domain import SlaPolicy, open_clocks
from jinqiao.kit import audit
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database

POLICY = SlaPolicy(first_response_minutes=working_days(1), resolution_minutes=working_days(5))
OPENED = datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING)  # a Monday


@pytest.fixture
async def deps(settings_for):
    settings = settings_for("desk")
    db = await Database.connect(settings.database_url, min_size=2, max_size=4)
    yield DeskDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: OPENED)
    await db.close()


async def insert_ticket(conn, tenant: str, *, paused: bool = False) -> str:
    """A NEW ticket opened at OPENED with POLICY's clocks, written as the tickets service would."""
    from jinqiao.desk.calendar.domain import WorkCalendar, package_year

    cal = WorkCalendar.from_years([package_year(2026)])  # type: ignore[list-item]
    cols = open_clocks(policy=POLICY, calendar=cal, at=OPENED)
    tid = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO tickets (tenant_id, id, number, category, status, priority, channel, member_home_tenant_id,"
        " member_id, title, filed_by, created_at, updated_at, sla_policy, first_response_due, resolution_due,"
        " next_sla_check, paused_at) VALUES ($1, $2, $3, 'WAGES', 1, 2, 2, $1, $4, '讨薪', 'staff', $5, $5, $6,"
        " $7, $8, $9, $10)",
        tenant, tid, f"T{tid[:12]}", str(uuid.uuid4()), OPENED, json.dumps(cols["sla_policy"]),
        cols["first_response_due"], cols["resolution_due"], cols["next_sla_check"],
        OPENED + timedelta(hours=1) if paused else None)
    return tid


async def events(conn, tenant: str, kind: str) -> int:
    """How many events of a type the county's outbox holds."""
    return await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type = $2",
                               tenant, f"jinqiao.events.v1.{kind}")


async def test_breach_emits_its_event_once_across_repeated_and_concurrent_sweeps(deps, admin_conn_factory):
    tenant = "650403"
    conn = await admin_conn_factory("desk")
    tid = await insert_ticket(conn, tenant)
    # Monday 16:00: the first response (due 17:30) warns; nothing breached.
    assert await service.sweep_county(deps=deps, tenant=tenant, now=datetime(2026, 11, 2, 16, 0, tzinfo=BEIJING)) == 1
    assert await events(conn, tenant, "TicketSlaWarned") == 1
    late = datetime(2026, 11, 3, 10, 0, tzinfo=BEIJING)
    assert await service.sweep_all_tenants(deps=deps, now=late) >= 1
    assert await service.sweep_county(deps=deps, tenant=tenant, now=late) == 0
    # Pretend the look is due again (a lost update) and race two sweeps: the marks keep the event single.
    await conn.execute("UPDATE tickets SET next_sla_check = $2 WHERE id = $1", tid, late - timedelta(hours=1))
    results = await asyncio.gather(service.sweep_county(deps=deps, tenant=tenant, now=late),
                                   service.sweep_county(deps=deps, tenant=tenant, now=late))
    assert sum(results) == 0
    assert await events(conn, tenant, "TicketSlaBreached") == 1
    assert await events(conn, tenant, "TicketSlaWarned") == 1
    row = await conn.fetchrow("SELECT escalated, escalated_to_org_id, next_sla_check FROM tickets WHERE id = $1", tid)
    assert row["escalated"] and row["escalated_to_org_id"] is None
    assert row["next_sla_check"] > late
    actions = [r["action"] for r in await conn.fetch(
        "SELECT action FROM ticket_history WHERE ticket_id = $1 ORDER BY at, action", tid)]
    assert sorted(actions) == ["escalated", "sla_breached", "sla_warned"]
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        assert await audit.verify_chain(uow) is None
        acts = await uow.conn.fetch("SELECT action FROM audit_log WHERE object_id = $1 ORDER BY seq", tid)
    assert [a["action"] for a in acts] == ["ticket.sla_warned", "ticket.sla_breached"]


async def test_concurrent_first_sweeps_emit_one_breach(deps, admin_conn_factory):
    tenant = "650404"
    conn = await admin_conn_factory("desk")
    for _ in range(5):
        await insert_ticket(conn, tenant)
    late = datetime(2026, 11, 4, 10, 0, tzinfo=BEIJING)
    results = await asyncio.gather(*[service.sweep_county(deps=deps, tenant=tenant, now=late) for _ in range(3)])
    assert sum(results) == 5
    assert await events(conn, tenant, "TicketSlaBreached") == 5


async def test_paused_ticket_is_not_swept(deps, admin_conn_factory):
    tenant = "650405"
    conn = await admin_conn_factory("desk")
    await insert_ticket(conn, tenant, paused=True)
    # A paused ticket keeps no pending clock: the sweep looks once and stops looking.
    assert await service.sweep_county(deps=deps, tenant=tenant,
                                      now=datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)) == 0
    assert await conn.fetchval("SELECT count(*) FROM tickets WHERE tenant_id = $1 AND next_sla_check IS NOT NULL",
                               tenant) == 0


# ------------------------------------------------------------------ through the DeskService RPCs


async def _ticket_for(platform, admin_conn_factory, county: str):
    """A county admin's ticket for a member of the county (the member seeded into the desk's replica)."""
    from jinqiao.desk.v1 import desk_pb2

    conn = await admin_conn_factory("desk")
    member = str(uuid.uuid4())
    await conn.execute("INSERT INTO desk_members (tenant_id, id, name) VALUES ($1, $2, '王建国')", county, member)
    return conn, member, desk_pb2


def _due(ticket, clock: int) -> datetime:
    """A clock's due instant on the wire."""
    from datetime import UTC

    return next(t for t in ticket.sla if t.clock == clock).due_time.ToDatetime(tzinfo=UTC)


async def test_rpc_ticket_filed_before_a_county_holiday_is_due_after_it(platform, admin_conn_factory, county_token):
    from jinqiao.desk.v1 import calendar_pb2, tickets_pb2
    from tests.integration.conftest import bearer

    county = "650409"
    conn, member, desk_pb2 = await _ticket_for(platform, admin_conn_factory, county)
    md = bearer(county_token(county))

    async def first_response_due() -> datetime:
        created = (await platform.desk_stub.CreateTicket(desk_pb2.CreateTicketRequest(
            category="other", title="咨询", description="咨询事项", form_json="{}", member_home_tenant_id=county,
            member_id=member, channel=tickets_pb2.TICKET_CHANNEL_WALK_IN), metadata=md)).ticket
        return _due(created, tickets_pb2.SLA_CLOCK_FIRST_RESPONSE)

    # The day the clock would end on without a holiday depends on the hour the test runs (before, in or after the
    # working day): make exactly that day the county's holiday.
    holiday = (await first_response_due()).astimezone(BEIJING).date()
    overrides = desk_pb2.SetCountyCalendarOverridesRequest(year=holiday.year, days=[
        calendar_pb2.CalendarDay(date=holiday.isoformat(), working=False, name="县庆")])
    await platform.desk_stub.SetCountyCalendarOverrides(overrides, metadata=md)
    due = await first_response_due()
    # The clock skips the county's holiday: due on a working day after it.
    assert due.astimezone(BEIJING).date() > holiday
    await conn.execute("DELETE FROM work_calendar_days WHERE tenant_id = $1", county)


async def test_rpc_request_info_pauses_and_resume_shifts_the_due(platform, admin_conn_factory, county_token, deps):
    from jinqiao.desk.calendar.service import calendar_for
    from jinqiao.desk.v1 import tickets_pb2
    from tests.integration.conftest import bearer

    county = "650408"
    conn, member, desk_pb2 = await _ticket_for(platform, admin_conn_factory, county)
    md = bearer(county_token(county))
    stub = platform.desk_stub
    t = (await stub.CreateTicket(desk_pb2.CreateTicketRequest(
        category="other", title="咨询", description="咨询事项", form_json="{}", member_home_tenant_id=county,
        member_id=member, channel=tickets_pb2.TICKET_CHANNEL_WALK_IN), metadata=md)).ticket
    t = (await stub.AcceptTicket(desk_pb2.AcceptTicketRequest(id=t.id, version=t.version), metadata=md)).ticket
    before = _due(t, tickets_pb2.SLA_CLOCK_RESOLUTION)
    t = (await stub.RequestTicketInfo(desk_pb2.RequestTicketInfoRequest(id=t.id, message="请补充劳动合同",
                                                                        version=t.version), metadata=md)).ticket
    states = {s.clock: s.state for s in t.sla}
    assert states[tickets_pb2.SLA_CLOCK_RESOLUTION] == tickets_pb2.SLA_STATE_PAUSED
    # The member took a week to answer: move the pause back (the clocks count only working time paused).
    await conn.execute("UPDATE tickets SET paused_at = paused_at - interval '7 days' WHERE tenant_id = $1"
                       " AND id = $2", county, t.id)
    assert await conn.fetchval("SELECT next_sla_check FROM tickets WHERE tenant_id = $1 AND id = $2",
                               county, t.id) is None
    t = (await stub.ResumeTicket(desk_pb2.ResumeTicketRequest(id=t.id, version=t.version), metadata=md)).ticket
    after = _due(t, tickets_pb2.SLA_CLOCK_RESOLUTION)
    row = await conn.fetchrow("SELECT paused_minutes, paused_at FROM tickets WHERE tenant_id = $1 AND id = $2",
                              county, t.id)
    # Seven days back hold four or five working days (a holiday may take one).
    assert row["paused_at"] is None and row["paused_minutes"] >= 4 * 420
    calendar = await calendar_for(deps=deps, tenant=county)
    assert after == calendar.add_working_minutes(before, row["paused_minutes"])
