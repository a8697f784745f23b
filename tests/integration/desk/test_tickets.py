"""Tickets over gRPC on real PostgreSQL and NATS: filing (member, staff for a guest), every move, reach, 回访 and
reopening, what a member never sees, and the county's categories. Counties 650410–650429 are this file's own."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from jinqiao.desk.v1 import desk_pb2, tickets_pb2
from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer, eventually
from tests.support import field_violations, member_request

WAGES_FORM = {"employer": "某建筑工程有限公司", "unpaid_amount_fen": 1_250_000, "unpaid_months": 3,
              "contact_phone": "13812345678"}


async def seed_org(admin_conn_factory, county: str, *, name: str, kind: str, parent: str | None = None) -> str:
    """An organisation in the desk's replica (what organizations' events would have written)."""
    conn = await admin_conn_factory("desk")
    org_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO desk_orgs (tenant_id, id, parent_id, name, kind) VALUES ($1, $2, $3, $4, $5)",
                       county, org_id, parent, name, kind)
    return org_id


async def seed_guest(admin_conn_factory, county: str, *, origin: str, name: str = "王德胜") -> str:
    """A member of ``origin`` placed in ``county`` (临时组织关系), as the replica holds them."""
    conn = await admin_conn_factory("desk")
    member_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO desk_guests (tenant_id, flow_id, origin_tenant_id, member_id, member_name, status)"
        " VALUES ($1, $2, $3, $4, $5, 'CHECKED_IN')", county, str(uuid.uuid4()), origin, member_id, name)
    return member_id


async def registered_member(platform, admin_conn_factory, county_token, county: str) -> str:
    """A member registered through the registry, once the desk's replica has learned of them."""
    member = (await platform.registry_stub.CreateMember(member_request(county, name="刘春梅"),
                                                        metadata=bearer(county_token(county)))).member
    conn = await admin_conn_factory("desk")

    async def replicated() -> bool:
        return bool(await conn.fetchval("SELECT count(*) FROM desk_members WHERE tenant_id = $1 AND id = $2",
                                        county, member.id))

    await eventually(replicated, timeout=30)
    return member.id


def file_request(**overrides: object) -> desk_pb2.CreateTicketRequest:
    fields: dict[str, object] = {"category": "legal_wages", "title": "工地拖欠三个月工资",
                                 "description": "包工头拖欠工资，多次讨要未果", "form_json": json.dumps(WAGES_FORM)}
    fields.update(overrides)
    return desk_pb2.CreateTicketRequest(**fields)


def member_md(issuer, county: str, member_id: str):
    return bearer(issuer.issue(user=f"m-{member_id[:8]}", role=Role.MEMBER, scope=county, member=member_id)[0])


def staff_md(issuer, county: str, org: str, role: Role = Role.STATION_STAFF, user: str = "zhangmin"):
    return bearer(issuer.issue(user=f"{user}-{county}", role=role, scope=county, org=org)[0])


async def test_a_member_files_from_their_phone_into_the_county_queue(platform, issuer, county_token,
                                                                     admin_conn_factory):
    county = "650410"
    member_id = await registered_member(platform, admin_conn_factory, county_token, county)
    ticket = (await platform.desk_stub.CreateTicket(
        file_request(category="employment", form_json=json.dumps({"skills": "电工"})),
        metadata=member_md(issuer, county, member_id))).ticket
    assert ticket.channel == tickets_pb2.TICKET_CHANNEL_MEMBER_APP
    assert ticket.status == tickets_pb2.TICKET_STATUS_NEW
    assert ticket.serving_org_id == "" and ticket.member_id == member_id and ticket.member_name == "刘春梅"
    assert re.fullmatch(rf"{county}-\d{{8}}-\d{{4}}", ticket.number)
    # A member's copy never says who filed or works on it internally.
    assert ticket.filed_by == "" and ticket.assignee == ""
    assert any(t.clock == tickets_pb2.SLA_CLOCK_FIRST_RESPONSE for t in ticket.sla)


async def test_a_member_the_replica_does_not_know_yet_is_told_to_wait(platform, issuer):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CreateTicket(file_request(), metadata=member_md(issuer, "650411", str(uuid.uuid4())))
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "同步" in err.value.details()


async def test_station_staff_file_for_a_verified_guest_into_their_station(platform, issuer, admin_conn_factory):
    county, origin = "650412", "650413"
    station = await seed_org(admin_conn_factory, county, name="东城驻城党建工作站", kind="TOWN_STATION")
    guest = await seed_guest(admin_conn_factory, county, origin=origin)
    ticket = (await platform.desk_stub.CreateTicket(
        file_request(member_home_tenant_id=origin, member_id=guest), metadata=staff_md(issuer, county, station))).ticket
    assert ticket.tenant_id == county and ticket.member_home_tenant_id == origin
    assert ticket.member_name == "王德胜" and ticket.serving_org_id == station
    assert ticket.serving_org_name == "东城驻城党建工作站"
    assert ticket.channel == tickets_pb2.TICKET_CHANNEL_WALK_IN
    assert ticket.priority == tickets_pb2.TICKET_PRIORITY_URGENT
    assert json.loads(ticket.form_json)["contact_phone"] == "138****5678"


async def test_an_unknown_member_of_another_county_is_refused_naming_member_id(platform, issuer,
                                                                              admin_conn_factory):
    county = "650414"
    station = await seed_org(admin_conn_factory, county, name="西城服务中心", kind="SERVICE_CENTER")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CreateTicket(
            file_request(member_home_tenant_id="650415", member_id=str(uuid.uuid4())),
            metadata=staff_md(issuer, county, station))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"member_id"}


async def test_a_bad_form_names_the_field_in_chinese(platform, issuer, admin_conn_factory):
    county = "650416"
    guest = await seed_guest(admin_conn_factory, county, origin="650417")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CreateTicket(
            file_request(member_home_tenant_id="650417", member_id=guest,
                         form_json=json.dumps({"employer": "某公司", "unpaid_amount_fen": 12.5}), title="x"),
            metadata=bearer(issuer.issue(user="a-650416", role=Role.COUNTY_ADMIN, scope=county)[0]))
    found = field_violations(err.value)
    assert set(found) == {"form.unpaid_amount_fen", "title"}
    assert "拖欠金额" in found["form.unpaid_amount_fen"]


async def test_a_repeated_request_id_returns_the_first_ticket(platform, issuer, admin_conn_factory, county_token):
    county = "650418"
    guest = await seed_guest(admin_conn_factory, county, origin="650419")
    md = bearer(county_token(county))
    first = (await platform.desk_stub.CreateTicket(
        file_request(member_home_tenant_id="650419", member_id=guest, request_id="walk-in-1"), metadata=md)).ticket
    again = (await platform.desk_stub.CreateTicket(
        file_request(member_home_tenant_id="650419", member_id=guest, request_id="walk-in-1"), metadata=md)).ticket
    assert again.id == first.id and again.number == first.number


async def _admin_ticket(platform, admin_conn_factory, county_token, county: str, origin: str, **overrides: object):
    guest = await seed_guest(admin_conn_factory, county, origin=origin)
    return (await platform.desk_stub.CreateTicket(
        file_request(member_home_tenant_id=origin, member_id=guest, **overrides),
        metadata=bearer(county_token(county)))).ticket


async def test_every_move_from_filing_to_the_follow_up(platform, issuer, county_token, admin_conn_factory):
    county = "650420"
    member_id = await registered_member(platform, admin_conn_factory, county_token, county)
    admin = bearer(county_token(county))
    me = member_md(issuer, county, member_id)
    desk = platform.desk_stub
    ticket = (await desk.CreateTicket(file_request(member_id=member_id, member_home_tenant_id=county,
                                                   channel=tickets_pb2.TICKET_CHANNEL_HOME_COUNTY),
                                      metadata=admin)).ticket
    assert ticket.channel == tickets_pb2.TICKET_CHANNEL_HOME_COUNTY
    accepted = (await desk.AcceptTicket(desk_pb2.AcceptTicketRequest(id=ticket.id, message="已受理，律师将联系您",
                                                                      version=ticket.version), metadata=admin)).ticket
    assert accepted.status == tickets_pb2.TICKET_STATUS_ACCEPTED and accepted.version == ticket.version + 1
    first = next(t for t in accepted.sla if t.clock == tickets_pb2.SLA_CLOCK_FIRST_RESPONSE)
    assert first.state == tickets_pb2.SLA_STATE_MET
    started = (await desk.StartTicket(desk_pb2.StartTicketRequest(id=ticket.id), metadata=admin)).ticket
    assert started.status == tickets_pb2.TICKET_STATUS_IN_PROGRESS
    await desk.AddTicketComment(desk_pb2.AddTicketCommentRequest(
        id=ticket.id, kind=tickets_pb2.COMMENT_KIND_NOTE, body="内部：已联系劳动监察大队"), metadata=admin)
    paused = (await desk.RequestTicketInfo(desk_pb2.RequestTicketInfoRequest(
        id=ticket.id, message="请补充工资欠条照片"), metadata=admin)).ticket
    assert paused.status == tickets_pb2.TICKET_STATUS_AWAITING_INFO
    assert all(t.state in (tickets_pb2.SLA_STATE_PAUSED, tickets_pb2.SLA_STATE_MET) for t in paused.sla)
    # The member's message with the materials resumes the ticket.
    supplied = await desk.AddTicketComment(desk_pb2.AddTicketCommentRequest(
        id=ticket.id, kind=tickets_pb2.COMMENT_KIND_MEMBER, body="欠条照片已上传"), metadata=me)
    assert supplied.entry.action == "info_supplied"
    assert supplied.ticket.status == tickets_pb2.TICKET_STATUS_IN_PROGRESS
    resolved = (await desk.ResolveTicket(desk_pb2.ResolveTicketRequest(
        id=ticket.id, resolution="经调解，用人单位已支付全部拖欠工资"), metadata=admin)).ticket
    assert resolved.status == tickets_pb2.TICKET_STATUS_RESOLVED and resolved.HasField("reopen_until")
    rated = (await desk.RateTicket(desk_pb2.RateTicketRequest(id=ticket.id, score=5, comment="非常满意"),
                                   metadata=me)).ticket
    assert rated.status == tickets_pb2.TICKET_STATUS_REVIEWED and rated.rating == 5
    staff_view = (await desk.ListTicketHistory(desk_pb2.ListTicketHistoryRequest(id=ticket.id),
                                               metadata=admin)).entries
    member_view = (await desk.ListTicketHistory(desk_pb2.ListTicketHistoryRequest(id=ticket.id), metadata=me)).entries
    assert [e.action for e in staff_view] == ["filed", "accepted", "started", "comment", "info_requested",
                                              "info_supplied", "resolved", "rated"]
    # The member never sees the internal note; replies, moves and their own message stay.
    assert [e.action for e in member_view] == ["filed", "accepted", "started", "info_requested", "info_supplied",
                                               "resolved", "rated"]
    assert all(e.comment_kind != tickets_pb2.COMMENT_KIND_NOTE for e in member_view)
    conn = await admin_conn_factory("desk")
    kinds = {r["event_type"] for r in await conn.fetch(
        "SELECT event_type FROM outbox WHERE tenant_id = $1", county)}
    assert {"jinqiao.events.v1.TicketOpened", "jinqiao.events.v1.TicketResolved", "jinqiao.events.v1.TicketRated",
            "jinqiao.events.v1.TicketClosed"} <= kinds


async def test_a_wrong_move_is_refused_naming_the_state(platform, county_token, admin_conn_factory):
    county = "650421"
    ticket = await _admin_ticket(platform, admin_conn_factory, county_token, county, "650422")
    md = bearer(county_token(county))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.ResolveTicket(desk_pb2.ResolveTicketRequest(id=ticket.id, resolution="已办理完毕"),
                                               metadata=md)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION and "新建" in err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.RateTicket(desk_pb2.RateTicketRequest(id=ticket.id, score=4), metadata=md)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AcceptTicket(desk_pb2.AcceptTicketRequest(id=ticket.id, version=ticket.version + 5),
                                              metadata=md)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CloseTicket(desk_pb2.CloseTicketRequest(id=ticket.id, reason="BORED"), metadata=md)
    assert set(field_violations(err.value)) == {"reason"}
    closed = (await platform.desk_stub.CloseTicket(desk_pb2.CloseTicketRequest(
        id=ticket.id, reason="DUPLICATE", note="与另一工单重复"), metadata=md)).ticket
    assert closed.status == tickets_pb2.TICKET_STATUS_CLOSED and closed.close_reason == "DUPLICATE"


async def test_pausing_and_resuming_moves_the_resolution_due(platform, county_token, admin_conn_factory):
    county = "650423"
    ticket = await _admin_ticket(platform, admin_conn_factory, county_token, county, "650424")
    md = bearer(county_token(county))
    desk = platform.desk_stub
    await desk.AcceptTicket(desk_pb2.AcceptTicketRequest(id=ticket.id), metadata=md)
    await desk.RequestTicketInfo(desk_pb2.RequestTicketInfoRequest(id=ticket.id, message="请补充劳动合同"), metadata=md)
    conn = await admin_conn_factory("desk")
    before = await conn.fetchval("SELECT resolution_due FROM tickets WHERE tenant_id = $1 AND id = $2", county,
                                 ticket.id)
    # As if the ticket had waited three days for the materials: those working minutes do not count.
    await conn.execute("UPDATE tickets SET paused_at = paused_at - interval '3 days' WHERE tenant_id = $1 AND id = $2",
                       county, ticket.id)
    resumed = (await desk.ResumeTicket(desk_pb2.ResumeTicketRequest(id=ticket.id, note="材料已当面补交"),
                                       metadata=md)).ticket
    assert resumed.status == tickets_pb2.TICKET_STATUS_IN_PROGRESS
    row = await conn.fetchrow("SELECT resolution_due, paused_at, paused_minutes FROM tickets"
                              " WHERE tenant_id = $1 AND id = $2", county, ticket.id)
    assert row["paused_at"] is None and row["paused_minutes"] > 0 and row["resolution_due"] > before


async def test_reopening_only_within_the_window(platform, county_token, admin_conn_factory):
    county = "650425"
    md = bearer(county_token(county))
    desk = platform.desk_stub
    conn = await admin_conn_factory("desk")
    ids = []
    for _ in range(2):
        ticket = await _admin_ticket(platform, admin_conn_factory, county_token, county, "650426")
        await desk.AcceptTicket(desk_pb2.AcceptTicketRequest(id=ticket.id), metadata=md)
        await desk.ResolveTicket(desk_pb2.ResolveTicketRequest(id=ticket.id, resolution="已协调支付"), metadata=md)
        ids.append(ticket.id)
    reopened = (await desk.ReopenTicket(desk_pb2.ReopenTicketRequest(id=ids[0], reason="工资只付了一半"),
                                        metadata=md)).ticket
    assert reopened.status == tickets_pb2.TICKET_STATUS_IN_PROGRESS and not reopened.HasField("resolve_time")
    await conn.execute("UPDATE tickets SET reopen_until = now() - interval '1 minute' WHERE tenant_id = $1"
                       " AND id = $2", county, ids[1])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.ReopenTicket(desk_pb2.ReopenTicketRequest(id=ids[1], reason="还没解决"), metadata=md)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION and "期限" in err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.RateTicket(desk_pb2.RateTicketRequest(id=ids[1], score=6), metadata=md)
    assert set(field_violations(err.value)) == {"score"}


async def test_another_countys_ticket_is_not_found(platform, county_token, admin_conn_factory):
    ticket = await _admin_ticket(platform, admin_conn_factory, county_token, "650427", "650428")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.GetTicket(desk_pb2.GetTicketRequest(id=ticket.id),
                                           metadata=bearer(county_token("650428")))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_station_or_township_outside_the_queue_does_not_see_the_ticket(platform, issuer,
                                                                               admin_conn_factory):
    county = "650429"
    town_a = await seed_org(admin_conn_factory, county, name="甲镇党委", kind="TOWNSHIP")
    town_b = await seed_org(admin_conn_factory, county, name="乙镇党委", kind="TOWNSHIP")
    station_a = await seed_org(admin_conn_factory, county, name="甲镇工作站", kind="TOWN_STATION", parent=town_a)
    station_b = await seed_org(admin_conn_factory, county, name="乙镇工作站", kind="TOWN_STATION", parent=town_b)
    guest = await seed_guest(admin_conn_factory, county, origin="650410")
    ticket = (await platform.desk_stub.CreateTicket(
        file_request(member_home_tenant_id="650410", member_id=guest),
        metadata=staff_md(issuer, county, station_a))).ticket
    assert ticket.serving_org_id == station_a
    get = desk_pb2.GetTicketRequest(id=ticket.id)
    for outsider in (staff_md(issuer, county, station_b, user="other"),
                     staff_md(issuer, county, town_b, role=Role.TOWNSHIP_OFFICER, user="town-b")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.desk_stub.GetTicket(get, metadata=outsider)
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    seen = (await platform.desk_stub.GetTicket(
        get, metadata=staff_md(issuer, county, town_a, role=Role.TOWNSHIP_OFFICER, user="town-a"))).ticket
    assert seen.id == ticket.id
    listed = await platform.desk_stub.ListTickets(desk_pb2.ListTicketsRequest(),
                                                  metadata=staff_md(issuer, county, station_b, user="other"))
    assert ticket.id not in {t.id for t in listed.tickets}
    # Staff of the queue may not post as the member; a note from them is fine.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AddTicketComment(desk_pb2.AddTicketCommentRequest(
            id=ticket.id, kind=tickets_pb2.COMMENT_KIND_MEMBER, body="冒充"),
            metadata=staff_md(issuer, county, station_a))
    assert set(field_violations(err.value)) == {"kind"}


async def test_staff_may_backdate_a_walk_in_within_thirty_days(platform, county_token, admin_conn_factory):
    county, origin = "650411", "650412"
    guest = await seed_guest(admin_conn_factory, county, origin=origin)
    md = bearer(county_token(county))
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    request = file_request(member_home_tenant_id=origin, member_id=guest)
    request.received_time.FromDatetime(received)
    ticket = (await platform.desk_stub.CreateTicket(request, metadata=md)).ticket
    assert ticket.create_time.ToDatetime(tzinfo=UTC) == received
    request.received_time.FromDatetime(received - timedelta(days=30))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CreateTicket(request, metadata=md)
    assert set(field_violations(err.value)) == {"received_time"}


async def test_categories_are_written_on_first_use_and_a_disabled_one_refuses_filing(platform, county_token,
                                                                                     admin_conn_factory):
    county = "650415"
    md = bearer(county_token(county))
    listed = (await platform.desk_stub.ListTicketCategories(desk_pb2.ListTicketCategoriesRequest(),
                                                            metadata=md)).categories
    assert len(listed) == 10
    training = next(c for c in listed if c.code == "training")
    training.enabled = False
    changed = (await platform.desk_stub.UpdateTicketCategory(
        desk_pb2.UpdateTicketCategoryRequest(category=training), metadata=md)).category
    assert not changed.enabled and changed.version == training.version + 1
    enabled = (await platform.desk_stub.ListTicketCategories(desk_pb2.ListTicketCategoriesRequest(),
                                                             metadata=md)).categories
    assert "training" not in {c.code for c in enabled}
    guest = await seed_guest(admin_conn_factory, county, origin="650416")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CreateTicket(file_request(category="training", form_json="{}",
                                                           member_home_tenant_id="650416", member_id=guest),
                                              metadata=md)
    assert set(field_violations(err.value)) == {"category"}
    changed.sla.warn_percent = 20
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.UpdateTicketCategory(desk_pb2.UpdateTicketCategoryRequest(category=changed),
                                                      metadata=md)
    assert set(field_violations(err.value)) == {"category.sla.warn_percent"}
