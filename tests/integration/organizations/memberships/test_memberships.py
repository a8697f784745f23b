"""Temporary memberships at the placing county on real PostgreSQL and NATS: the consumers of the registry's flow
events (placement, redirect, closure; duplicates and reordering) and the membership RPCs (roles, check-in by staff
and by QR code, refusal, activities, assessments)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from faststream.nats import NatsBroker

from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import FieldCipher, decode_keyring
from jinqiao.kit.db import PendingEvent
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.integration.conftest import bearer, eventually
from tests.support import field_violations

K = pb.OrgKind
S = pb.MembershipStatus
TAG = uuid.uuid4().hex[:6]
PHONE = "13812345678"
ORIGIN = "411523"  # 新县, the home county
DEST = "410102"  # 中原区, the in-province destination
OTHER = "410103"  # 二七区, a county that holds nothing of these flows
BEIJING = "110000"
PUBLISHED: list[str] = []


@pytest.fixture(scope="module")
async def stub(platform):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    yield organizations_pb2_grpc.OrganizationsServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="module")
async def nats(infra):
    broker = infra.broker_as("registry")  # the registry's events, published with the registry's login
    await broker.connect()
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
def cipher(secrets) -> FieldCipher:
    """The session's PII keyring, as the registry would seal the phone with it."""
    return FieldCipher(keys=decode_keyring(secrets.pii_keys), active=1)


async def root_of(stub, md, name: str) -> str:
    """The county committee (other tests of the session may have founded it already)."""
    roots = await stub.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)
    if roots.orgs:
        return roots.orgs[0].id
    return (await stub.CreateOrg(pb.CreateOrgRequest(name=name, kind=K.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id


async def add_org(stub, md, name: str, kind: int, parent: str, **extra: object) -> str:
    return (await stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind, **extra),
                                 metadata=md)).org.id


@pytest.fixture(scope="module")
async def trees(stub, county_token, issuer):
    """中原区 with two townships (an employer's branch, a community, a village) and 新县 with its Beijing branch."""
    dest = bearer(county_token(DEST))
    root = await root_of(stub, dest, "中共中原区委员会")
    east = await add_org(stub, dest, f"林山寨街道党工委{TAG}", K.ORG_KIND_TOWNSHIP_COMMITTEE, root)
    west = await add_org(stub, dest, f"桐柏路街道党工委{TAG}", K.ORG_KIND_TOWNSHIP_COMMITTEE, root)
    plant = await add_org(stub, dest, f"郑煤机党支部{TAG}", K.ORG_KIND_ENTERPRISE_BRANCH, east,
                          employer=f"郑州煤矿机械{TAG}")
    listed = await add_org(stub, dest, f"郑州日产党支部{TAG}", K.ORG_KIND_ENTERPRISE_BRANCH, east,
                           employer=f"郑州日产{TAG}")
    community = await add_org(stub, dest, f"建设路社区党支部{TAG}", K.ORG_KIND_COMMUNITY_BRANCH, east,
                              coverage=[f"建设路{TAG}"])
    village = await add_org(stub, dest, f"须水村党支部{TAG}", K.ORG_KIND_VILLAGE_BRANCH, west)
    origin = bearer(county_token(ORIGIN))
    origin_root = await root_of(stub, origin, "中共新县委员会")
    beijing = await add_org(stub, origin, f"新县驻北京流动党员党支部{TAG}", K.ORG_KIND_EXTERNAL_BRANCH, origin_root,
                            city_code=BEIJING, founding_mode=pb.FOUNDING_MODE_STANDALONE)

    def token(role: Role, org: str) -> tuple[tuple[str, str], ...]:
        return bearer(issuer.issue(user=f"{role.value}-{org[:8]}", role=role, scope=DEST, org=org)[0])

    return {
        "dest": dest, "origin": origin, "other": bearer(county_token(OTHER)), "root": root, "east": east,
        "west": west, "plant": plant, "listed": listed, "community": community, "village": village,
        "beijing": beijing, "east_officer": token(Role.TOWNSHIP_OFFICER, east),
        "west_officer": token(Role.TOWNSHIP_OFFICER, west), "plant_secretary": token(Role.BRANCH_SECRETARY, plant),
        "village_secretary": token(Role.BRANCH_SECRETARY, village),
    }


def handover(cipher: FieldCipher, *, flow_id: str, placing: str = DEST, destination: str = DEST, employer: str = "",
             industry: str = "机械制造", address: str = "", phone: str = PHONE) -> handover_pb2.Handover:
    """What the origin hands over: masked ID, the phone sealed for the placing county and this flow."""
    sealed = cipher.encrypt(phone, tenant=placing, table="handover", column="phone", row=flow_id) if phone else b""
    return handover_pb2.Handover(
        member_name="王建军", id_number_masked="4115**********0516", phone_sealed=sealed,
        destination_code=destination, placing_tenant_id=placing, out_of_province=destination[:2] != "41",
        employer=employer, industry=industry, address=address, gender="male",
    )


def registered(cipher: FieldCipher, *, flow_id: str | None = None, member_id: str | None = None, attempt: int = 1,
               **fields: object) -> reg_events.FlowRegistered:
    flow = flow_id or str(uuid.uuid4())
    return reg_events.FlowRegistered(flow_id=flow, member_id=member_id or str(uuid.uuid4()), attempt=attempt,
                                     handover=handover(cipher, flow_id=flow, **fields), start_date="2026-11-01",
                                     expected_months=6, certificate_serial=f"XX{TAG}")


async def publish(nats: NatsBroker, message, *, origin: str = ORIGIN, again: PendingEvent | None = None,
                  new_msg_id: bool = False) -> PendingEvent:
    """Publish a registry event as the relay would (``again`` re-publishes an already built one)."""
    pending = again or ev.new_event(message, service="registry", tenant=origin, aggregate_id=message.flow_id,
                                    aggregate_version=1, traceparent=None)
    headers = ev.headers_for(event_id=str(uuid.uuid4()) if new_msg_id else pending.event_id,
                             event_type=pending.event_type, event_version=1, tenant=pending.tenant_id,
                             traceparent=None)
    await nats.publish(pending.payload, pending.subject, headers=headers, stream=ev.stream_name("registry"))
    PUBLISHED.append(pending.event_id)
    return pending


async def handled(conn, consumer: str, pending: PendingEvent) -> None:
    """Wait until the consumer committed its effect for the event."""
    async def check() -> bool:
        return bool(await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2::uuid",
                                        consumer, pending.event_id))

    await eventually(check)


async def membership_rows(conn, flow_id: str):
    return await conn.fetch("SELECT * FROM memberships WHERE flow_id = $1::uuid ORDER BY attempt", flow_id)


async def placed(conn, flow_id: str, *, count: int = 1):
    """Wait for the flow's memberships to appear and return them."""
    async def check():
        rows = await membership_rows(conn, flow_id)
        return rows if len(rows) >= count else None

    return await eventually(check)


async def outbox(conn, tenant: str, cls, **match: object) -> list:
    """The organisations events of a type in a county's outbox that match the given fields."""
    rows = await conn.fetch("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_type = $2", tenant,
                            ev.event_type(cls))
    decoded = [cls.FromString(r["payload"]) for r in rows]
    return [e for e in decoded if all(getattr(e, k) == v for k, v in match.items())]


async def offer(nats, conn, cipher, trees, **fields: object) -> tuple[str, reg_events.FlowRegistered]:
    """A flow to 中原区 offered at the plant's branch; returns the membership id and the event."""
    event = registered(cipher, employer=f"郑州煤矿机械{TAG}", **fields)
    await publish(nats, event)
    rows = await placed(conn, event.flow_id)
    return str(rows[0]["id"]), event


async def status_code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_an_in_province_flow_is_offered_at_the_employers_branch(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, event = await offer(nats, conn, cipher, trees)
    got = (await stub.GetMembership(pb.GetMembershipRequest(id=membership_id), metadata=trees["dest"])).membership
    assert (got.tenant_id, got.origin_tenant_id, got.flow_id, got.member_id, got.attempt) == (
        DEST, ORIGIN, event.flow_id, event.member_id, 1)
    assert (got.org_id, got.rule, got.status) == (trees["plant"], pb.PLACEMENT_RULE_EMPLOYER_BRANCH,
                                                  S.MEMBERSHIP_STATUS_OFFERED)
    assert got.org_name == f"郑煤机党支部{TAG}" and got.reason
    assert (got.phone_masked, got.id_number_masked, got.member_name) == ("138****5678", "4115**********0516",
                                                                         "王建军")
    offered = await outbox(conn, DEST, org_events.TemporaryMembershipOffered, flow_id=event.flow_id)
    assert len(offered) == 1
    assert (offered[0].meta.tenant_id, offered[0].meta.aggregate_id, offered[0].org_id, offered[0].rule) == (
        DEST, membership_id, trees["plant"], "EMPLOYER_BRANCH")
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND object_id = $2"
                               " AND action = 'membership.offer'", DEST, membership_id) == 1


async def test_the_phone_is_kept_encrypted_and_only_ever_shown_masked(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, _ = await offer(nats, conn, cipher, trees)
    row = await conn.fetchrow("SELECT * FROM memberships WHERE id = $1::uuid", membership_id)
    assert PHONE not in await conn.fetchval("SELECT row_to_json(m)::text FROM memberships m WHERE id = $1::uuid",
                                            membership_id)
    assert PHONE.encode() not in bytes(row["phone_enc"])
    assert cipher.decrypt(row["phone_enc"], tenant=DEST, table="memberships", column="phone",
                          row=membership_id) == PHONE
    listed = await stub.ListMemberships(pb.ListMembershipsRequest(org_id=trees["plant"]), metadata=trees["dest"])
    assert listed.memberships and all(PHONE not in str(m) for m in listed.memberships)
    assert {m.phone_masked for m in listed.memberships} == {"138****5678"}


async def test_an_out_of_province_flow_is_offered_in_the_origins_own_external_branch(nats, cipher, trees,
                                                                                     admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    event = registered(cipher, placing=ORIGIN, destination=BEIJING, industry="建筑")
    await publish(nats, event)
    rows = await placed(conn, event.flow_id)
    assert (rows[0]["tenant_id"], str(rows[0]["org_id"]), rows[0]["rule"], rows[0]["status"]) == (
        ORIGIN, trees["beijing"], pb.PLACEMENT_RULE_EXTERNAL_BRANCH_IN_CITY, S.MEMBERSHIP_STATUS_OFFERED)
    assert len(await outbox(conn, ORIGIN, org_events.TemporaryMembershipOffered, flow_id=event.flow_id)) == 1


async def test_no_placement_is_refused_with_advice(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    event = registered(cipher, employer="无党组织的个体户", industry="装修", address="不详")
    await publish(nats, event)
    rows = await placed(conn, event.flow_id)
    assert (rows[0]["status"], rows[0]["org_id"]) == (S.MEMBERSHIP_STATUS_REFUSED, None)
    refused = await outbox(conn, DEST, org_events.TemporaryMembershipRefused, flow_id=event.flow_id)
    assert len(refused) == 1 and refused[0].no_placement and "临时党支部" in refused[0].advice and refused[0].reason
    got = await stub.GetMembership(pb.GetMembershipRequest(id=str(rows[0]["id"])), metadata=trees["dest"])
    assert got.membership.status == S.MEMBERSHIP_STATUS_REFUSED and not got.membership.org_id
    assert "临时党支部" in got.membership.refusal_reason
    # A membership no organisation took is the county's alone: a township officer does not see it.
    assert await status_code(stub.GetMembership(pb.GetMembershipRequest(id=str(rows[0]["id"])),
                                                metadata=trees["east_officer"])) == grpc.StatusCode.NOT_FOUND


async def test_the_same_event_delivered_twice_offers_once(nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    event = registered(cipher, employer=f"郑州煤矿机械{TAG}")
    first = await publish(nats, event)
    # Past the stream's duplicate window a re-publish carries a new Nats-Msg-Id: only the inbox stops it.
    await publish(nats, event, again=first, new_msg_id=True)
    # Another event for the same attempt (the origin's relay re-built it): the attempt rule stops it.
    replay = await publish(nats, registered(cipher, flow_id=event.flow_id, member_id=event.member_id,
                                            employer=f"郑州煤矿机械{TAG}"))
    await handled(conn, "organizations-placement", first)
    await handled(conn, "organizations-placement", replay)
    await asyncio.sleep(0.5)
    assert len(await membership_rows(conn, event.flow_id)) == 1
    assert len(await outbox(conn, DEST, org_events.TemporaryMembershipOffered, flow_id=event.flow_id)) == 1


async def test_a_closure_that_arrives_before_the_registration_wins(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    flow_id, member_id = str(uuid.uuid4()), str(uuid.uuid4())
    closed = await publish(nats, reg_events.FlowClosed(flow_id=flow_id, member_id=member_id, placing_tenant_id=DEST,
                                                       reason="CANCELLED", closed_on="2026-11-20",
                                                       destination_code=DEST, industry="机械制造"))
    await handled(conn, "organizations-flow-closed", closed)
    late = await publish(nats, registered(cipher, flow_id=flow_id, member_id=member_id,
                                          employer=f"郑州煤矿机械{TAG}"))
    await handled(conn, "organizations-placement", late)
    assert await membership_rows(conn, flow_id) == []
    assert await conn.fetchval("SELECT closed_reason FROM flow_closures WHERE tenant_id = $1 AND flow_id = $2::uuid",
                               DEST, flow_id) == "CANCELLED"
    assert await outbox(conn, DEST, org_events.TemporaryMembershipOffered, flow_id=flow_id) == []


async def test_a_returning_member_closes_the_checked_in_membership(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, event = await offer(nats, conn, cipher, trees)
    await stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id), metadata=trees["dest"])
    closed = await publish(nats, reg_events.FlowClosed(flow_id=event.flow_id, member_id=event.member_id,
                                                       placing_tenant_id=DEST, reason="RETURNED",
                                                       closed_on="2026-11-20"))
    await handled(conn, "organizations-flow-closed", closed)
    got = (await stub.GetMembership(pb.GetMembershipRequest(id=membership_id), metadata=trees["dest"])).membership
    assert (got.status, got.close_reason) == (S.MEMBERSHIP_STATUS_CLOSED, "RETURNED")
    events = await outbox(conn, DEST, org_events.TemporaryMembershipClosed, membership_id=membership_id)
    assert [e.reason for e in events] == ["RETURNED"]
    assert await status_code(stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id),
                                                    metadata=trees["dest"])) == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_redirect_closes_the_previous_attempt_and_places_the_new_one(stub, nats, cipher, trees,
                                                                            admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, event = await offer(nats, conn, cipher, trees)
    flow_id = event.flow_id
    redirected = await publish(nats, reg_events.FlowRedirected(
        flow_id=flow_id, member_id=event.member_id, attempt=2, reason="DESTINATION_CHANGED",
        previous_placing_tenant_id=DEST,
        handover=handover(cipher, flow_id=flow_id, placing=ORIGIN, destination=BEIJING, industry="建筑"),
    ))
    await handled(conn, "organizations-redirect-close", redirected)
    await handled(conn, "organizations-placement-redirected", redirected)
    rows = await membership_rows(conn, flow_id)
    assert [(r["tenant_id"], r["attempt"], r["status"], r["close_reason"]) for r in rows] == [
        (DEST, 1, S.MEMBERSHIP_STATUS_CLOSED, "REDIRECTED"), (ORIGIN, 2, S.MEMBERSHIP_STATUS_OFFERED, "")]
    assert len(await outbox(conn, DEST, org_events.TemporaryMembershipClosed, membership_id=membership_id)) == 1
    assert len(await outbox(conn, ORIGIN, org_events.TemporaryMembershipOffered, flow_id=flow_id, attempt=2)) == 1
    # The superseded attempt delivered again opens nothing.
    again = await publish(nats, registered(cipher, flow_id=flow_id, member_id=event.member_id,
                                           employer=f"郑州煤矿机械{TAG}"))
    await handled(conn, "organizations-placement", again)
    assert len(await membership_rows(conn, flow_id)) == 2


async def test_a_refusal_needs_a_reason_and_writes_nothing_without_one(stub, nats, cipher, trees,
                                                                       admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, event = await offer(nats, conn, cipher, trees)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RefuseMembership(pb.RefuseMembershipRequest(id=membership_id, reason="  "), metadata=trees["dest"])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(caught.value)
    row = await conn.fetchrow("SELECT status, version FROM memberships WHERE id = $1::uuid", membership_id)
    assert (row["status"], row["version"]) == (S.MEMBERSHIP_STATUS_OFFERED, 1)
    assert await outbox(conn, DEST, org_events.TemporaryMembershipRefused, membership_id=membership_id) == []
    reply = await stub.RefuseMembership(pb.RefuseMembershipRequest(id=membership_id, reason="本支部已满员，请另行安置"),
                                        metadata=trees["east_officer"])
    assert (reply.membership.status, reply.membership.refusal_reason) == (S.MEMBERSHIP_STATUS_REFUSED,
                                                                          "本支部已满员，请另行安置")
    refused = await outbox(conn, DEST, org_events.TemporaryMembershipRefused, membership_id=membership_id)
    assert len(refused) == 1 and not refused[0].no_placement and refused[0].flow_id == event.flow_id
    for call in (stub.RefuseMembership(pb.RefuseMembershipRequest(id=membership_id, reason="再次拒绝"),
                                       metadata=trees["dest"]),
                 stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id), metadata=trees["dest"])):
        assert await status_code(call) == grpc.StatusCode.FAILED_PRECONDITION


async def test_staff_check_in_happens_once(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, _ = await offer(nats, conn, cipher, trees)
    first = await stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id),
                                         metadata=trees["plant_secretary"])
    again = await stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id), metadata=trees["dest"])
    assert (first.membership.status, first.membership.check_in_method) == (S.MEMBERSHIP_STATUS_CHECKED_IN, "STAFF")
    assert first.membership.HasField("check_in_time")
    assert again.membership == first.membership
    checked = await outbox(conn, DEST, org_events.CheckedIn, membership_id=membership_id)
    assert [(e.method, e.org_id) for e in checked] == [("STAFF", trees["plant"])]


async def test_a_member_checks_in_by_scanning_the_code(stub, nats, cipher, trees, issuer, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, event = await offer(nats, conn, cipher, trees)
    code = await stub.GetCheckInCode(pb.GetCheckInCodeRequest(org_id=trees["plant"]), metadata=trees["east_officer"])
    assert code.code.startswith(f"JQ1.{DEST}.{trees['plant']}.") and code.org_name == f"郑煤机党支部{TAG}"
    same = await stub.GetCheckInCode(pb.GetCheckInCodeRequest(org_id=trees["plant"]), metadata=trees["dest"])
    assert same.code == code.code
    member = bearer(issuer.issue(user="member-wjj", role=Role.MEMBER, scope=ORIGIN, member=event.member_id)[0])
    stranger = bearer(issuer.issue(user="member-x", role=Role.MEMBER, scope=ORIGIN, member=str(uuid.uuid4()))[0])
    wrong_secret = code.code[:-4] + ("AAAA" if not code.code.endswith("AAAA") else "BBBB")
    other_org = (await stub.GetCheckInCode(pb.GetCheckInCodeRequest(org_id=trees["community"]),
                                           metadata=trees["dest"])).code
    for md, text in ((member, wrong_secret), (member, "JQ1.410102.nonsense"), (member, other_org),
                     (stranger, code.code)):
        assert await status_code(stub.CheckInByCode(pb.CheckInByCodeRequest(code=text), metadata=md)) == \
            grpc.StatusCode.NOT_FOUND
    assert await status_code(stub.CheckInByCode(pb.CheckInByCodeRequest(code=code.code), metadata=trees["dest"])) \
        == grpc.StatusCode.PERMISSION_DENIED
    reply = await stub.CheckInByCode(pb.CheckInByCodeRequest(code=code.code), metadata=member)
    assert (reply.membership_id, reply.tenant_id, reply.org_name) == (membership_id, DEST, f"郑煤机党支部{TAG}")
    got = (await stub.GetMembership(pb.GetMembershipRequest(id=membership_id), metadata=trees["dest"])).membership
    assert (got.status, got.check_in_method) == (S.MEMBERSHIP_STATUS_CHECKED_IN, "QR_CODE")
    await stub.CheckInByCode(pb.CheckInByCodeRequest(code=code.code), metadata=member)
    assert [e.method for e in await outbox(conn, DEST, org_events.CheckedIn, membership_id=membership_id)] == [
        "QR_CODE"]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND object_id = $2"
                               " AND action = 'membership.check_in' AND actor = 'member-wjj'", DEST,
                               membership_id) == 1
    assert await status_code(stub.GetCheckInCode(pb.GetCheckInCodeRequest(org_id=trees["east"]),
                                                 metadata=trees["dest"])) == grpc.StatusCode.FAILED_PRECONDITION


async def test_another_countys_membership_does_not_exist_for_the_caller(stub, nats, cipher, trees,
                                                                        admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, _ = await offer(nats, conn, cipher, trees)
    for md, key in ((trees["other"], membership_id), (trees["origin"], membership_id), (trees["dest"], "not-a-uuid"),
                    (trees["dest"], str(uuid.uuid4()))):
        assert await status_code(stub.GetMembership(pb.GetMembershipRequest(id=key), metadata=md)) == \
            grpc.StatusCode.NOT_FOUND
    assert await status_code(stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id),
                                                    metadata=trees["other"])) == grpc.StatusCode.NOT_FOUND
    listed = await stub.ListMemberships(pb.ListMembershipsRequest(), metadata=trees["other"])
    assert membership_id not in {m.id for m in listed.memberships}


async def test_roles_see_only_their_part_of_the_tree(stub, nats, cipher, trees, issuer, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, _ = await offer(nats, conn, cipher, trees)
    get = pb.GetMembershipRequest(id=membership_id)
    for md in (trees["east_officer"], trees["plant_secretary"]):
        assert (await stub.GetMembership(get, metadata=md)).membership.id == membership_id
    for md in (trees["west_officer"], trees["village_secretary"]):
        assert await status_code(stub.GetMembership(get, metadata=md)) == grpc.StatusCode.NOT_FOUND
        listed = await stub.ListMemberships(pb.ListMembershipsRequest(page_size=200), metadata=md)
        assert membership_id not in {m.id for m in listed.memberships}
    east = await stub.ListMemberships(pb.ListMembershipsRequest(page_size=200), metadata=trees["east_officer"])
    assert membership_id in {m.id for m in east.memberships}
    assert await status_code(stub.ListMemberships(pb.ListMembershipsRequest(org_id=trees["east"]),
                                                  metadata=trees["west_officer"])) == grpc.StatusCode.NOT_FOUND
    analyst = bearer(issuer.issue(user="analyst", role=Role.CITY_ANALYST, scope="4101")[0])
    assert await status_code(stub.ListMemberships(pb.ListMembershipsRequest(), metadata=analyst)) == \
        grpc.StatusCode.PERMISSION_DENIED


async def test_the_list_pages_newest_first_and_filters_by_status(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    ids = []
    for _ in range(3):
        event = registered(cipher, employer=f"郑州日产{TAG}")
        await publish(nats, event)
        ids.append(str((await placed(conn, event.flow_id))[0]["id"]))
    await stub.CheckInMembership(pb.CheckInMembershipRequest(id=ids[0]), metadata=trees["dest"])
    seen, token = [], ""
    while True:
        page = await stub.ListMemberships(pb.ListMembershipsRequest(org_id=trees["listed"], page_size=2,
                                                                    page_token=token), metadata=trees["dest"])
        seen += [m.id for m in page.memberships]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids[::-1]
    offered = await stub.ListMemberships(pb.ListMembershipsRequest(org_id=trees["listed"],
                                                                   statuses=[S.MEMBERSHIP_STATUS_OFFERED]),
                                         metadata=trees["dest"])
    assert [m.id for m in offered.memberships] == ids[:0:-1]
    township = await stub.ListMemberships(pb.ListMembershipsRequest(org_id=trees["east"], page_size=200,
                                                                    statuses=[S.MEMBERSHIP_STATUS_CHECKED_IN]),
                                          metadata=trees["dest"])
    assert ids[0] in {m.id for m in township.memberships}
    for request, field in ((pb.ListMembershipsRequest(statuses=[9]), "statuses"),
                           (pb.ListMembershipsRequest(page_token="%%%"), "page_token"),
                           (pb.ListMembershipsRequest(org_id="x"), "org_id")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListMemberships(request, metadata=trees["dest"])
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(caught.value)


async def test_activities_and_assessments_of_a_checked_in_member(stub, nats, cipher, trees, admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    membership_id, event = await offer(nats, conn, cipher, trees)
    today = datetime.now(UTC).date()
    activity = pb.RecordActivityRequest(membership_id=membership_id, occurred_on=today.isoformat(), title="主题党日")
    assert await status_code(stub.RecordActivity(activity, metadata=trees["dest"])) == \
        grpc.StatusCode.FAILED_PRECONDITION
    await stub.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id), metadata=trees["dest"])
    future = (today + timedelta(days=3)).isoformat()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RecordActivity(pb.RecordActivityRequest(membership_id=membership_id, occurred_on=future,
                                                           title=""), metadata=trees["dest"])
    assert set(field_violations(caught.value)) == {"occurred_on", "title"}
    recorded = await stub.RecordActivity(pb.RecordActivityRequest(
        membership_id=membership_id, occurred_on=(today - timedelta(days=1)).isoformat(), title="主题党日：学习党章",
        note="参加并发言"), metadata=trees["plant_secretary"])
    events = await outbox(conn, DEST, org_events.ActivityRecorded, membership_id=membership_id)
    assert [(e.activity_id, e.title, e.origin_tenant_id, e.member_id) for e in events] == [
        (recorded.activity_id, "主题党日：学习党章", ORIGIN, event.member_id)]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.AssessMembership(pb.AssessMembershipRequest(membership_id=membership_id, year=today.year,
                                                               grade="GOOD"), metadata=trees["dest"])
    assert set(field_violations(caught.value)) == {"grade"}
    for grade in ("COMPETENT", "EXCELLENT"):
        reply = await stub.AssessMembership(pb.AssessMembershipRequest(
            membership_id=membership_id, year=today.year, grade=grade, comment="积极参加组织生活"),
            metadata=trees["dest"])
        assert (reply.year, reply.grade) == (today.year, grade)
    assert await conn.fetchval("SELECT grade FROM membership_assessments WHERE membership_id = $1::uuid",
                               membership_id) == "EXCELLENT"
    given = await outbox(conn, DEST, org_events.DestinationAssessmentGiven, membership_id=membership_id)
    assert [e.grade for e in sorted(given, key=lambda e: e.meta.aggregate_version)] == ["COMPETENT", "EXCELLENT"]
    assert len({e.meta.aggregate_version for e in given}) == 2


async def test_no_event_of_this_module_was_dead_lettered(admin_conn_factory):
    conn = await admin_conn_factory("organizations")
    assert PUBLISHED
    assert await conn.fetch("SELECT consumer, error FROM dead_letters WHERE event_id = ANY($1::text[])",
                            PUBLISHED) == []
