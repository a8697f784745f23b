"""The cross-county flow end to end on real PostgreSQL and JetStream: 外出登记 → 临时组织关系 → 报到 → 回归/转出.

Registry (origin) and organizations (destination) only talk through events; these tests watch both sides
converge, including after redelivery in any order and a restart of the destination service.
"""

from __future__ import annotations

import random
import uuid
from datetime import date

import grpc
import pytest

from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import flows_pb2, registry_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import field_violations, id_number, member_request

K = pb.OrgKind
F = flows_pb2.FlowStatus
ORIGIN = "411523"  # 新县
DESTINATION = "410108"  # 惠济区
TRANSFER_TO = "410104"  # 管城回族区
CITY = "440100"  # 广州, outside the province
TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
async def orgs(platform):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    yield organizations_pb2_grpc.OrganizationsServiceStub(channel)
    await channel.close()


async def _root(orgs, md, name: str) -> str:
    try:
        return (await orgs.CreateOrg(pb.CreateOrgRequest(name=name, kind=K.ORG_KIND_COUNTY_COMMITTEE),
                                     metadata=md)).org.id
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        return (await orgs.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)).orgs[0].id


async def _add(orgs, md, parent: str, name: str, kind: int, **extra: object) -> str:
    return (await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=f"{name}-{uuid.uuid4().hex[:6]}",
                                                     kind=kind, **extra), metadata=md)).org.id


@pytest.fixture(scope="module")
async def trees(orgs, county_token):
    """The destination has an enterprise branch; the origin a 驻广州 branch; the transfer county a station."""
    dest = bearer(county_token(DESTINATION))
    root = await _root(orgs, dest, "中共惠济区委员会")
    street = await _add(orgs, dest, root, "新城街道党工委", K.ORG_KIND_TOWNSHIP_COMMITTEE)
    employer = await _add(orgs, dest, street, "惠济物流园党支部", K.ORG_KIND_ENTERPRISE_BRANCH,
                          employer="惠济物流园有限公司")
    station = await _add(orgs, dest, root, "惠济区驻城党建工作站", K.ORG_KIND_TOWN_STATION)
    await _add(orgs, dest, station, "工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)
    origin = bearer(county_token(ORIGIN))
    home = await _root(orgs, origin, "中共新县委员会")
    general = await _add(orgs, origin, home, "新县驻广州流动党员党总支", K.ORG_KIND_EXTERNAL_GENERAL_BRANCH,
                         city_code=CITY, founding_mode=pb.FOUNDING_MODE_STANDALONE)
    other = bearer(county_token(TRANSFER_TO))
    other_root = await _root(orgs, other, "中共管城回族区委员会")
    other_station = await _add(orgs, other, other_root, "管城区驻城党建工作站", K.ORG_KIND_TOWN_STATION)
    await _add(orgs, other, other_station, "工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)
    return {"employer": employer, "general": general}


@pytest.fixture
def md(county_token):
    return {code: bearer(county_token(code)) for code in (ORIGIN, DESTINATION, TRANSFER_TO)}


async def new_member(platform, md, county: str = ORIGIN) -> registry_pb2.Member:
    return (await platform.registry_stub.CreateMember(member_request(county), metadata=md[county])).member


async def register(platform, md, member_id: str, **overrides: object) -> flows_pb2.Flow:
    fields: dict[str, object] = {"member_id": member_id, "destination_code": DESTINATION,
                                 "address": "惠济区新城路 8 号", "employer": "惠济物流园有限公司", "industry": "物流",
                                 "start_date": TODAY,
                                 "expected_months": 6}
    fields.update(overrides)
    return (await platform.registry_stub.RegisterFlow(flows_pb2.RegisterFlowRequest(**fields),
                                                      metadata=md[ORIGIN])).flow


async def flow_in(platform, md, flow_id: str, *statuses: int) -> flows_pb2.Flow | None:
    flow = (await platform.registry_stub.GetFlow(flows_pb2.GetFlowRequest(id=flow_id), metadata=md[ORIGIN])).flow
    return flow if flow.status in statuses else None


async def membership_of(orgs, md, county: str, flow_id: str, *statuses: int) -> pb.Membership | None:
    page = await orgs.ListMemberships(pb.ListMembershipsRequest(statuses=list(statuses), page_size=200),
                                      metadata=md[county])
    return next((m for m in page.memberships if m.flow_id == flow_id), None)


async def test_in_province_flow_is_offered_checked_in_and_returned(platform, orgs, trees, md, admin_conn_factory):
    number = id_number(ORIGIN)
    member = (await platform.registry_stub.CreateMember(member_request(ORIGIN, id_number=number, phone="13912345678"),
                                                        metadata=md[ORIGIN])).member
    flow = await register(platform, md, member.id)
    assert flow.status == F.FLOW_STATUS_REGISTERED and flow.placing_tenant_id == DESTINATION
    assert flow.certificate_serial.startswith(f"{ORIGIN}-{date.today().year}-")
    assert "惠济区" in flow.letter and member.id_number_masked in flow.letter

    offered = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    assert offered.org_id == trees["employer"] and offered.placement_rule == "EMPLOYER_BRANCH"

    # The destination holds only what it needs: name, masked ID and phone, industry.
    held = await membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_OFFERED)
    assert held is not None and held.member_name == member.name
    assert held.id_number_masked == member.id_number_masked and held.phone_masked == member.phone_masked
    dest_db = await admin_conn_factory("organizations")
    stored = await dest_db.fetchrow("SELECT * FROM memberships WHERE flow_id = $1", uuid.UUID(flow.id))
    as_text = " ".join(str(v) for v in stored.values()) + " ".join(
        bytes(v).decode("latin-1") for v in stored.values() if isinstance(v, bytes | memoryview))
    assert number not in as_text and "13912345678" not in as_text

    await orgs.CheckInMembership(pb.CheckInMembershipRequest(id=held.id), metadata=md[DESTINATION])
    managed = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_MANAGED))
    assert managed.check_in_method == "STAFF" and managed.HasField("check_in_time")
    away = await platform.registry_stub.ListMembers(
        registry_pb2.ListMembersRequest(flow_status=F.FLOW_STATUS_MANAGED, destination_code=DESTINATION),
        metadata=md[ORIGIN])
    assert member.id in {m.id for m in away.members}

    returned = (await platform.registry_stub.ReturnFlow(flows_pb2.ReturnFlowRequest(
        id=flow.id, facts=flows_pb2.ReturneeFacts(joined_reserve_pool=True)), metadata=md[ORIGIN])).flow
    assert returned.status == F.FLOW_STATUS_RETURNED
    assert await eventually(lambda: membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_CLOSED))
    home = (await platform.registry_stub.GetMember(registry_pb2.GetMemberRequest(id=member.id),
                                                   metadata=md[ORIGIN])).member
    assert not home.flow_id and home.flow_status == 0
    returnees = await platform.registry_stub.ListReturnees(flows_pb2.ListReturneesRequest(), metadata=md[ORIGIN])
    assert any(r.flow_id == flow.id and r.facts.joined_reserve_pool for r in returnees.returnees)


async def test_out_of_province_flow_is_placed_in_the_origins_own_external_branch(platform, orgs, trees, md):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id, destination_code=CITY, address="广州市白云区", employer="",
                          industry="建筑")
    assert flow.out_of_province and flow.placing_tenant_id == ORIGIN
    offered = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    assert offered.org_id == trees["general"]
    held = await membership_of(orgs, md, ORIGIN, flow.id, pb.MEMBERSHIP_STATUS_OFFERED)
    assert held is not None and held.origin_tenant_id == ORIGIN


async def test_a_refusal_sends_the_origin_back_to_place_the_member_again(platform, orgs, trees, md):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id)
    await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    held = await membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_OFFERED)
    await orgs.RefuseMembership(pb.RefuseMembershipRequest(id=held.id, reason="该企业党支部已满员，请改派"),
                                metadata=md[DESTINATION])
    refused = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_REFUSED))
    assert "满员" in refused.refusal_reason

    moved = (await platform.registry_stub.RedirectFlow(flows_pb2.RedirectFlowRequest(
        id=flow.id, employer="个体经营", address="不详"), metadata=md[ORIGIN])).flow
    assert moved.attempt == 2 and moved.status == F.FLOW_STATUS_REGISTERED
    again = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    assert again.attempt == 2 and again.placement_rule == "STATION_TEMPORARY_BRANCH"


async def test_a_member_checks_in_by_scanning_the_stations_code(platform, orgs, trees, md, issuer):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id, employer="", industry="装修", address="不详")
    offered = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    code = (await orgs.GetCheckInCode(pb.GetCheckInCodeRequest(org_id=offered.org_id),
                                      metadata=md[DESTINATION])).code
    token, _ = issuer.issue(user=f"member-{member.id[:8]}", role=Role.MEMBER, scope=ORIGIN, member=member.id)
    done = await orgs.CheckInByCode(pb.CheckInByCodeRequest(code=code), metadata=bearer(token))
    assert done.tenant_id == DESTINATION
    managed = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_MANAGED))
    assert managed.check_in_method == "QR_CODE"
    # The member sees their own flow, and nobody else's record.
    own = await platform.registry_stub.GetFlow(flows_pb2.GetFlowRequest(id=flow.id), metadata=bearer(token))
    assert own.flow.member_id == member.id
    stranger = await new_member(platform, md)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.GetMember(registry_pb2.GetMemberRequest(id=stranger.id), metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_transfer_hands_the_member_to_the_destination_countys_registry(platform, orgs, trees, md):
    number = id_number(ORIGIN)
    member = (await platform.registry_stub.CreateMember(member_request(ORIGIN, id_number=number),
                                                        metadata=md[ORIGIN])).member
    flow = await register(platform, md, member.id, destination_code=TRANSFER_TO, employer="", industry="装修",
                          address="不详")
    await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    done = (await platform.registry_stub.TransferFlow(flows_pb2.TransferFlowRequest(id=flow.id),
                                                      metadata=md[ORIGIN])).flow
    assert done.status == F.FLOW_STATUS_TRANSFERRED

    async def arrived() -> registry_pb2.Member | None:
        page = await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(id_number=number),
                                                        metadata=md[TRANSFER_TO])
        return page.members[0] if page.members else None

    there = await eventually(arrived)
    assert there.name == member.name and there.id_number_masked == member.id_number_masked
    assert await eventually(lambda: membership_of(orgs, md, TRANSFER_TO, flow.id, pb.MEMBERSHIP_STATUS_CLOSED))
    gone = await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(id_number=number),
                                                    metadata=md[ORIGIN])
    assert not gone.members
    # The person now belongs to 管城回族区: registering them again at the origin is refused without naming where.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.CreateMember(member_request(ORIGIN, id_number=number), metadata=md[ORIGIN])
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert TRANSFER_TO not in caught.value.details() and "管城" not in caught.value.details()


async def test_a_flow_out_of_the_province_cannot_be_transferred_here(platform, trees, md):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id, destination_code="310000", address="上海市", employer="",
                          industry="餐饮")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.TransferFlow(flows_pb2.TransferFlowRequest(id=flow.id), metadata=md[ORIGIN])
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_bad_outflow_names_every_field_and_writes_nothing(platform, md, admin_conn_factory):
    member = await new_member(platform, md)
    conn = await admin_conn_factory("registry")
    before = await conn.fetchval("SELECT count(*) FROM flows WHERE tenant_id = $1", ORIGIN)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await register(platform, md, member.id, destination_code=ORIGIN, address=" ", industry="",
                       start_date="2026-13-01", expected_months=0, contact_phone="12345")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"destination_code", "address", "industry", "start_date",
                                                   "expected_months", "contact_phone"}
    assert await conn.fetchval("SELECT count(*) FROM flows WHERE tenant_id = $1", ORIGIN) == before


async def test_one_open_flow_per_member(platform, trees, md):
    member = await new_member(platform, md)
    await register(platform, md, member.id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await register(platform, md, member.id)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_another_countys_flow_is_not_found(platform, trees, md):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id)
    stub = platform.registry_stub
    for call, request in ((stub.GetFlow, flows_pb2.GetFlowRequest(id=flow.id)),
                          (stub.ReturnFlow, flows_pb2.ReturnFlowRequest(id=flow.id)),
                          (stub.ListActivities, flows_pb2.ListActivitiesRequest(member_id=member.id))):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, metadata=md[DESTINATION])
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def _saga_rows(conn, *, flow_id: str, member_id: str) -> list:
    return await conn.fetch(
        "SELECT subject, event_type, payload, tenant_id FROM outbox WHERE position($1::bytea IN payload) > 0"
        " OR position($2::bytea IN payload) > 0 ORDER BY id", flow_id.encode(), member_id.encode())


async def _flow_state(conn, flow_id: str) -> tuple:
    row = await conn.fetchrow("SELECT status, attempt, org_id, membership_id, checked_in_at, closed_on, version"
                              " FROM flows WHERE id = $1", uuid.UUID(flow_id))
    return tuple(row)


async def test_every_event_delivered_again_and_out_of_order_changes_nothing(platform, orgs, trees, md, infra,
                                                                            admin_conn_factory):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id)
    await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    held = await membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_OFFERED)
    await orgs.CheckInMembership(pb.CheckInMembershipRequest(id=held.id), metadata=md[DESTINATION])
    await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_MANAGED))
    await platform.registry_stub.ReturnFlow(flows_pb2.ReturnFlowRequest(id=flow.id), metadata=md[ORIGIN])
    await eventually(lambda: membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_CLOSED))

    registry_db, orgs_db = await admin_conn_factory("registry"), await admin_conn_factory("organizations")
    await eventually(lambda: _all_sent(registry_db, orgs_db))
    origin_before = await _flow_state(registry_db, flow.id)
    dest_before = await orgs_db.fetch("SELECT status, attempt, close_reason, version FROM memberships"
                                      " WHERE flow_id = $1 ORDER BY attempt", uuid.UUID(flow.id))
    rows = [*await _saga_rows(registry_db, flow_id=flow.id, member_id=member.id),
            *await _saga_rows(orgs_db, flow_id=flow.id, member_id=member.id)]
    assert {r["event_type"].rsplit(".", 1)[1] for r in rows} >= {
        "FlowRegistered", "TemporaryMembershipOffered", "CheckedIn", "FlowClosed", "TemporaryMembershipClosed"}
    # Every event again, twice, newest first and shuffled, under new Nats-Msg-Ids (past the stream's dedupe).
    replay = list(reversed(rows)) + random.Random(7).sample(rows, len(rows))
    # Each producer's events go out with that producer's login, as its relay would publish them.
    brokers = {service: infra.broker_as(service) for service in ("registry", "organizations")}
    for broker in brokers.values():
        await broker.connect()
    try:
        for row in replay:
            service = row["subject"].split(".")[2]
            headers = ev.headers_for(event_id=str(uuid.uuid4()), event_type=row["event_type"], event_version=1,
                                     tenant=row["tenant_id"], traceparent=None)
            await brokers[service].publish(bytes(row["payload"]), row["subject"], headers=headers,
                                           stream=ev.stream_name(service))
    finally:
        for broker in brokers.values():
            await broker.stop()
    await eventually(lambda: _consumers_idle(infra))
    assert await _flow_state(registry_db, flow.id) == origin_before
    assert await orgs_db.fetch("SELECT status, attempt, close_reason, version FROM memberships"
                               " WHERE flow_id = $1 ORDER BY attempt", uuid.UUID(flow.id)) == dest_before


async def _all_sent(*conns) -> bool:
    for conn in conns:
        if await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
            return False
    return True


async def _consumers_idle(infra) -> bool:
    """Every durable consumer of both streams has acknowledged everything delivered to it."""
    import nats

    client = await nats.connect(infra.nats_url, **infra.nats_options())  # the runner's login may look at every one
    try:
        js = client.jetstream()
        for stream in (ev.stream_name("registry"), ev.stream_name("organizations")):
            for info in await js.consumers_info(stream):
                ours = info.name.startswith(("registry-", "organizations-"))
                if ours and (info.num_pending or info.num_ack_pending):
                    return False
        return True
    finally:
        await client.close()


async def test_the_destination_converges_after_a_restart_in_the_middle(platform, orgs, trees, md, settings_for):
    from jinqiao.kit.process import start_service
    from jinqiao.organizations import server as organizations_server

    port = platform.organizations.port
    await platform.organizations.stop()
    member = await new_member(platform, md)
    # Registered while the destination is down: the event waits in the stream.
    flow = await register(platform, md, member.id)
    assert await flow_in(platform, md, flow.id, F.FLOW_STATUS_REGISTERED)
    platform.organizations = await start_service(
        settings_for("organizations", grpc_port=port), service="organizations",
        service_names=[organizations_server.SERVICE_NAME], produces_events=True, setup=organizations_server.setup,
    )
    offered = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED), timeout=30)
    assert offered.org_id == trees["employer"]


async def test_a_stale_attempts_answer_is_ignored(platform, orgs, trees, md):
    member = await new_member(platform, md)
    flow = await register(platform, md, member.id)
    await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    first = await membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_OFFERED)
    await platform.registry_stub.RedirectFlow(flows_pb2.RedirectFlowRequest(id=flow.id, employer="个体经营",
                                                                            address="不详"), metadata=md[ORIGIN])
    await eventually(lambda: membership_of(orgs, md, DESTINATION, flow.id, pb.MEMBERSHIP_STATUS_CLOSED))
    second = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    assert second.attempt == 2 and second.membership_id != first.id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orgs.CheckInMembership(pb.CheckInMembershipRequest(id=first.id), metadata=md[DESTINATION])
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def _publish_fresh(infra, message: object, *, tenant: str) -> None:
    """An organizations event never seen before (new event id), as a late or reordered delivery would be."""
    pending = ev.new_event(message, service="organizations", tenant=tenant, aggregate_id=str(uuid.uuid4()),
                           aggregate_version=1, traceparent=None)
    broker = infra.broker_as("organizations")  # the answer comes with the organizations service's own login
    await broker.connect()
    try:
        headers = ev.headers_for(event_id=pending.event_id, event_type=pending.event_type, event_version=1,
                                 tenant=tenant, traceparent=None)
        await broker.publish(pending.payload, pending.subject, headers=headers,
                             stream=ev.stream_name("organizations"))
    finally:
        await broker.stop()


async def test_answers_in_any_order_end_in_the_same_state(platform, orgs, trees, md, infra, admin_conn_factory):
    from jinqiao.events.v1 import organizations_events_pb2 as oe

    member = await new_member(platform, md)
    flow = await register(platform, md, member.id)
    offered = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_OFFERED))
    common = {"flow_id": flow.id, "origin_tenant_id": ORIGIN, "member_id": member.id,
              "membership_id": offered.membership_id}
    # A check-in overtakes everything, then a late refusal of the same attempt and a stale offer of attempt 0.
    await _publish_fresh(infra, oe.CheckedIn(attempt=1, org_id=offered.org_id, org_name=offered.org_name,
                                             method="STAFF", checked_in_at=f"{TODAY}T08:00:00+08:00", **common),
                         tenant=DESTINATION)
    managed = await eventually(lambda: flow_in(platform, md, flow.id, F.FLOW_STATUS_MANAGED))
    await _publish_fresh(infra, oe.TemporaryMembershipRefused(attempt=1, reason="迟到的拒收", **common),
                         tenant=DESTINATION)
    await _publish_fresh(infra, oe.TemporaryMembershipOffered(attempt=0, org_id=str(uuid.uuid4()), org_name="旧的",
                                                              rule="ONLINE_BRANCH", **common), tenant=DESTINATION)
    await eventually(lambda: _consumers_idle(infra))
    after = await flow_in(platform, md, flow.id, F.FLOW_STATUS_MANAGED)
    assert after is not None and after.org_id == managed.org_id and not after.refusal_reason
