"""Queues, duty and assignment on real PostgreSQL: round robin deals tickets in turn among the staff on duty (also
under concurrent calls), by-hand assignment stays within the queue's roster, and each queue counts its tickets."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from jinqiao.desk.v1 import desk_pb2 as pb
from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer
from tests.support import field_violations

RR = "650430"
CONCURRENT = "650431"
BY_HAND = "650432"
COUNTS = "650433"
DUTY = "650434"
OTHER = "650439"


async def add_station(conn: Any, county: str, name: str = "驻城党建工作站", *, parent: str | None = None,
                      kind: str = "TOWN_STATION") -> str:
    """A station in the desk's replica of the county's org tree (as organizations' events would leave it)."""
    org_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO desk_orgs (tenant_id, id, parent_id, name, kind) VALUES ($1, $2, $3, $4, $5)",
                       county, org_id, parent, f"{name}-{org_id[:6]}", kind)
    return org_id


async def add_ticket(conn: Any, county: str, *, serving_org_id: str | None, status: int = 1, assignee: str = "",
                     member_id: str | None = None, member_home: str | None = None, escalated: bool = False) -> str:
    """A ticket row with every NOT NULL column, as filing would leave it."""
    ticket_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO tickets (tenant_id, id, number, category, category_name, category_group, status, priority,"
        " channel, member_home_tenant_id, member_id, member_name, serving_org_id, title, filed_by, created_at,"
        " updated_at, assignee, escalated) VALUES ($1, $2, $3, 'wage_claim', '讨薪', '法律援助', $4, 2, 2, $5, $6,"
        " '张三', $7, '工地拖欠三个月工资', 'staff', $8, $8, $9, $10)",
        county, ticket_id, f"{county}-T-{ticket_id[:8]}", status, member_home or county,
        member_id or str(uuid.uuid4()), serving_org_id, now, assignee, escalated)
    return ticket_id


def staff_md(issuer: Any, county: str, user: str, org: str) -> Any:
    return bearer(issuer.issue(user=user, role=Role.STATION_STAFF, scope=county, org=org)[0])


async def on_duty(desk: Any, md: Any, queue: str, on: bool = True, display_name: str = "") -> pb.SetDutyResponse:
    return await desk.SetDuty(pb.SetDutyRequest(queue=queue, on_duty=on, display_name=display_name), metadata=md)


async def round_robin(desk: Any, md: Any, ticket_id: str) -> str:
    reply = await desk.AssignTicket(pb.AssignTicketRequest(id=ticket_id, round_robin=True), metadata=md)
    return reply.ticket.assignee


@pytest.fixture(scope="module")
async def conn(admin_conn_factory: Any) -> Any:
    return await admin_conn_factory("desk")


async def test_round_robin_deals_tickets_in_turn_and_skips_who_went_off_duty(platform, conn, issuer,
                                                                            county_token):
    desk, admin = platform.desk_stub, bearer(county_token(RR))
    station = await add_station(conn, RR)
    staff = {user: staff_md(issuer, RR, user, station) for user in ("rr-a", "rr-b", "rr-c")}
    for user, md in staff.items():
        await on_duty(desk, md, station, display_name=f"工作人员{user[-1]}")
    tickets = [await add_ticket(conn, RR, serving_org_id=station) for _ in range(6)]

    dealt = [await round_robin(desk, admin, t) for t in tickets]

    assert dealt == ["rr-a", "rr-b", "rr-c", "rr-a", "rr-b", "rr-c"]
    roster = (await desk.ListDuty(pb.ListDutyRequest(queue=station), metadata=admin)).entries
    assert {e.user: e.open_assigned for e in roster} == {"rr-a": 2, "rr-b": 2, "rr-c": 2}
    assert {e.user: e.display_name for e in roster}["rr-b"] == "工作人员b"

    await on_duty(desk, staff["rr-b"], station, on=False)
    more = [await round_robin(desk, admin, await add_ticket(conn, RR, serving_org_id=station)) for _ in range(3)]
    assert more == ["rr-a", "rr-c", "rr-a"]

    await on_duty(desk, staff["rr-b"], station)
    # Back on duty, b's last assignment is the oldest: b is next.
    assert await round_robin(desk, admin, await add_ticket(conn, RR, serving_org_id=station)) == "rr-b"


async def test_concurrent_round_robin_assignments_take_turns(platform, conn, issuer, county_token):
    desk, admin = platform.desk_stub, bearer(county_token(CONCURRENT))
    station = await add_station(conn, CONCURRENT)
    for user in ("cc-a", "cc-b", "cc-c"):
        await on_duty(desk, staff_md(issuer, CONCURRENT, user, station), station)
    tickets = [await add_ticket(conn, CONCURRENT, serving_org_id=station) for _ in range(10)]

    dealt = await asyncio.gather(*(round_robin(desk, admin, t) for t in tickets))

    assert sorted(Counter(dealt).values()) == [3, 3, 4]
    stored = await conn.fetch("SELECT assignee FROM tickets WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
                              CONCURRENT, tickets)
    assert Counter(r["assignee"] for r in stored) == Counter(dealt)
    history = await conn.fetchval("SELECT count(*) FROM ticket_history WHERE tenant_id = $1 AND action = 'assigned'"
                                  " AND ticket_id = ANY($2::uuid[])", CONCURRENT, tickets)
    assert history == 10


async def test_by_hand_assignment_takes_the_caller_or_someone_on_the_queues_roster(platform, conn, issuer):
    desk = platform.desk_stub
    station = await add_station(conn, BY_HAND)
    lead = staff_md(issuer, BY_HAND, "bh-lead", station)
    await on_duty(desk, staff_md(issuer, BY_HAND, "bh-off", station), station, on=False)

    mine = await desk.AssignTicket(pb.AssignTicketRequest(
        id=await add_ticket(conn, BY_HAND, serving_org_id=station), assignee="bh-lead"), metadata=lead)
    assert mine.ticket.assignee == "bh-lead"
    theirs = await desk.AssignTicket(pb.AssignTicketRequest(
        id=await add_ticket(conn, BY_HAND, serving_org_id=station), assignee="bh-off"), metadata=lead)
    assert theirs.ticket.assignee == "bh-off" and theirs.ticket.serving_org_name.startswith("驻城党建工作站")

    ticket = await add_ticket(conn, BY_HAND, serving_org_id=station)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.AssignTicket(pb.AssignTicketRequest(id=ticket, assignee="stranger"), metadata=lead)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == {"assignee": "该工作人员不在本队列"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.AssignTicket(pb.AssignTicketRequest(id=ticket, assignee="bh-lead", round_robin=True),
                                metadata=lead)
    assert "assignee" in field_violations(err.value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.AssignTicket(pb.AssignTicketRequest(id=ticket), metadata=lead)
    assert "assignee" in field_violations(err.value)


async def test_round_robin_with_nobody_on_duty_asks_for_a_hand_assignment(platform, conn, issuer):
    desk = platform.desk_stub
    station = await add_station(conn, BY_HAND)
    md = staff_md(issuer, BY_HAND, "bh-alone", station)
    await on_duty(desk, md, station, on=False)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await round_robin(desk, md, await add_ticket(conn, BY_HAND, serving_org_id=station))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details() == "该队列当前无人值班，请手动分派"


async def test_only_open_tickets_are_assigned(platform, conn, issuer):
    desk = platform.desk_stub
    station = await add_station(conn, BY_HAND)
    md = staff_md(issuer, BY_HAND, "bh-closer", station)
    closed = await add_ticket(conn, BY_HAND, serving_org_id=station, status=7)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.AssignTicket(pb.AssignTicketRequest(id=closed, assignee="bh-closer"), metadata=md)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_ticket_outside_the_callers_reach_or_county_is_not_found(platform, conn, issuer, county_token):
    desk = platform.desk_stub
    mine, other = await add_station(conn, BY_HAND), await add_station(conn, BY_HAND)
    md = staff_md(issuer, BY_HAND, "bh-reach", mine)
    for ticket, caller in ((await add_ticket(conn, BY_HAND, serving_org_id=other), md),
                           (await add_ticket(conn, BY_HAND, serving_org_id=None), md),
                           (await add_ticket(conn, OTHER, serving_org_id=None), bearer(county_token(BY_HAND)))):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await desk.AssignTicket(pb.AssignTicketRequest(id=ticket, assignee="bh-reach"), metadata=caller)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_duty_toggles_and_the_roster_keeps_who_went_off(platform, conn, issuer, county_token):
    desk = platform.desk_stub
    station = await add_station(conn, DUTY)
    md = staff_md(issuer, DUTY, "duty-zhang", station)

    entry = (await on_duty(desk, md, station)).entry
    assert (entry.user, entry.display_name, entry.on_duty, entry.queue_org_id) == (
        "duty-zhang", "duty-zhang", True, station)
    assert entry.HasField("since") and not entry.HasField("last_assigned_time")
    entry = (await on_duty(desk, md, station, on=False, display_name="  张敏（工作站） ")).entry
    assert (entry.on_duty, entry.display_name) == (False, "张敏（工作站）")

    roster = (await desk.ListDuty(pb.ListDutyRequest(queue=station), metadata=md)).entries
    assert [(e.user, e.on_duty) for e in roster] == [("duty-zhang", False)]
    queues = (await desk.ListQueues(pb.ListQueuesRequest(), metadata=md)).queues
    assert [(q.org_id, q.on_duty) for q in queues] == [(station, 0)]

    # The county department's own queue is the county-wide caller's.
    admin = bearer(county_token(DUTY))
    county = (await on_duty(desk, admin, "county", display_name="县委组织部值班")).entry
    assert county.queue_org_id == "" and county.on_duty


async def test_duty_in_a_queue_out_of_reach_is_not_found_and_a_long_name_names_its_field(platform, conn, issuer):
    desk = platform.desk_stub
    station, elsewhere = await add_station(conn, DUTY), await add_station(conn, DUTY)
    foreign = await add_station(conn, OTHER)
    md = staff_md(issuer, DUTY, "duty-li", station)
    for queue in ("county", elsewhere, foreign, "not-a-queue"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await on_duty(desk, md, queue)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, queue
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await desk.ListDuty(pb.ListDutyRequest(queue=queue), metadata=md)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, queue
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await on_duty(desk, md, station, display_name="张" * 31)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "display_name" in field_violations(err.value)


async def test_each_queue_counts_open_unassigned_warned_and_breached_tickets(platform, conn, issuer,
                                                                             county_token):
    desk, admin = platform.desk_stub, bearer(county_token(COUNTS))
    # The county department's queue outlives a session on a kept database: compare with what it held before.
    before = (await desk.ListQueues(pb.ListQueuesRequest(), metadata=admin)).queues[0]
    station = await add_station(conn, COUNTS)
    await add_ticket(conn, COUNTS, serving_org_id=station)
    await add_ticket(conn, COUNTS, serving_org_id=station)
    await add_ticket(conn, COUNTS, serving_org_id=station, status=3, assignee="cnt-a")
    warned = await add_ticket(conn, COUNTS, serving_org_id=station, status=2, assignee="cnt-a")
    breached = await add_ticket(conn, COUNTS, serving_org_id=station)
    await add_ticket(conn, COUNTS, serving_org_id=station, escalated=True, assignee="cnt-b")
    await add_ticket(conn, COUNTS, serving_org_id=station, status=7)
    await add_ticket(conn, COUNTS, serving_org_id=station, status=5, assignee="cnt-a")
    await add_ticket(conn, COUNTS, serving_org_id=None)
    now = datetime.now(UTC)
    await conn.execute("INSERT INTO ticket_sla_marks (tenant_id, ticket_id, clock, kind, cycle, at) VALUES"
                       " ($1, $2, 'RESOLUTION', 'WARNED', 0, $4), ($1, $3, 'FIRST_RESPONSE', 'WARNED', 0, $4),"
                       " ($1, $3, 'FIRST_RESPONSE', 'BREACHED', 0, $4)", COUNTS, warned, breached, now)
    await on_duty(desk, staff_md(issuer, COUNTS, "cnt-a", station), station)

    queues = (await desk.ListQueues(pb.ListQueuesRequest(), metadata=admin)).queues
    assert [q.org_id for q in queues][0] == ""
    county = queues[0]
    assert (county.open - before.open, county.unassigned - before.unassigned, county.warned, county.breached) == (
        1, 1, before.warned, before.breached)
    mine = next(q for q in queues if q.org_id == station)
    assert (mine.open, mine.unassigned, mine.warned, mine.breached, mine.on_duty) == (6, 3, 1, 2, 1)
    assert mine.name.startswith("驻城党建工作站")

    staff = (await desk.ListQueues(pb.ListQueuesRequest(), metadata=staff_md(issuer, COUNTS, "cnt-a", station)))
    assert [q.org_id for q in staff.queues] == [station]


async def test_a_ticket_filed_for_the_county_queue_goes_round_robin_to_the_department_on_duty(platform, conn,
                                                                                              county_token):
    desk, admin = platform.desk_stub, bearer(county_token(DUTY))
    member = str(uuid.uuid4())
    await conn.execute("INSERT INTO desk_members (tenant_id, id, name) VALUES ($1, $2, '王五')", DUTY, member)
    filed = (await desk.CreateTicket(pb.CreateTicketRequest(
        category="other", title="咨询临时组织关系", member_id=member, member_home_tenant_id=DUTY,
        serving_org_id="county", channel=2), metadata=admin)).ticket
    assert filed.serving_org_id == ""
    await on_duty(desk, admin, "county", display_name="县委组织部值班")

    assigned = (await desk.AssignTicket(pb.AssignTicketRequest(id=filed.id, round_robin=True,
                                                               version=filed.version), metadata=admin)).ticket

    assert (assigned.assignee, assigned.assignee_name) == (f"admin-{DUTY}", "县委组织部值班")
    assert assigned.version == filed.version + 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.AssignTicket(pb.AssignTicketRequest(id=filed.id, round_robin=True, version=filed.version),
                                metadata=admin)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
