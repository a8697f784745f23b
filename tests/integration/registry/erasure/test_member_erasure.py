"""Erasure of a departed member's personal fields (issue 18) against real PostgreSQL and NATS: on request and on
schedule, what goes and what stays, the copies in other services, tenancy and authorization."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import grpc
import pytest

from jinqiao.kit import audit
from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.erasure import service as erasure
from jinqiao.registry.v1 import flows_pb2, registry_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import field_violations, id_number, member_request

ORIGIN = "411321"  # 南召县
DESTINATION = "411322"  # 方城县
FOREIGN = "411323"  # 西峡县
TODAY = date.today().isoformat()
DECEASED = registry_pb2.MEMBER_DEPARTURE_DECEASED


@pytest.fixture(scope="module")
def md(county_token):
    return {code: bearer(county_token(code)) for code in (ORIGIN, DESTINATION, FOREIGN)}


@pytest.fixture(scope="module")
async def deps(settings_for):
    settings = settings_for("registry")
    db = await Database.connect(settings.database_url, min_size=1, max_size=3)
    yield RegistryDeps(db=db, cipher=FieldCipher.from_settings(settings),
                       blind_index=BlindIndex.from_settings(settings))
    await db.close()


@pytest.fixture(scope="module")
async def orgs(platform):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    yield organizations_pb2_grpc.OrganizationsServiceStub(channel)
    await channel.close()


async def _member(platform, md, county: str = ORIGIN, **overrides: object) -> tuple[registry_pb2.Member, str]:
    number = id_number(county)
    request = member_request(county, id_number=number, household_address="南召县城关镇人民路 1 号", **overrides)
    return (await platform.registry_stub.CreateMember(request, metadata=md[county])).member, number


async def _depart(platform, md, member_id: str, on: str = TODAY, county: str = ORIGIN) -> registry_pb2.Member:
    return (await platform.registry_stub.RecordMemberDeparture(registry_pb2.RecordMemberDepartureRequest(
        id=member_id, departure=DECEASED, date=on, reason="家属报告该同志去世"), metadata=md[county])).member


async def _erase(platform, md, member_id: str, county: str = ORIGIN,
                 reason: str = "家属依法申请删除个人信息") -> registry_pb2.EraseMemberPersonalDataResponse:
    return await platform.registry_stub.EraseMemberPersonalData(
        registry_pb2.EraseMemberPersonalDataRequest(id=member_id, reason=reason), metadata=md[county])


async def _chain_intact(deps: RegistryDeps, county: str) -> bool:
    async with deps.db.unit_of_work(tenant=county) as uow:
        return await audit.verify_chain(uow) is None


async def _audits(conn, member_id: str, action: str) -> list:
    return await conn.fetch("SELECT actor, reason FROM audit_log WHERE object_id = $1 AND action = $2 ORDER BY seq",
                            member_id, action)


async def test_an_erased_member_keeps_the_row_but_no_number_address_or_blind_index(platform, md, deps,
                                                                                 admin_conn_factory):
    """Erasure nulls the ciphertexts and blind index, clears the address, audits the act, the chain verifies."""
    conn = await admin_conn_factory("registry")
    member, number = await _member(platform, md)
    await _depart(platform, md, member.id)
    counted = await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1", ORIGIN)
    last = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    reply = await _erase(platform, md, member.id)
    assert not reply.already_erased and reply.member.HasField("erase_time")
    assert (reply.member.id_number_masked, reply.member.phone_masked) == ("已删除", "已删除")
    assert reply.member.record_status == registry_pb2.RECORD_STATUS_DECEASED
    row = await conn.fetchrow("SELECT * FROM members WHERE id = $1::uuid", member.id)
    assert (row["id_number_enc"], row["id_number_bidx"], row["phone_enc"]) == (None, None, None)
    assert row["household_address"] == "" and row["erased_at"] is not None
    assert row["name"] == member.name and row["birth_date"] == date(int(number[6:10]), 1, 1)
    bidx = deps.blind_index.digest(number, purpose="id_number")
    assert await conn.fetchval("SELECT count(*) FROM members WHERE id_number_bidx = $1", bidx) == 0
    # The row stays: the county's count (and every foreign key) is what it was.
    assert await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1", ORIGIN) == counted
    [entry] = await _audits(conn, member.id, "member.erase")
    assert entry["actor"] == f"admin-{ORIGIN}" and entry["reason"] == "家属依法申请删除个人信息"
    # The erasure's only event tells the holders to erase copies; no fact the aggregates count (insights) changes.
    queued = await conn.fetch("SELECT event_type, payload FROM outbox WHERE id > $1 AND tenant_id = $2", last, ORIGIN)
    mine = [r for r in queued if member.id.encode() in bytes(r["payload"])]
    assert [r["event_type"].rsplit(".", 1)[-1] for r in mine] == ["MemberPersonalDataErased"]
    assert await _chain_intact(deps, ORIGIN)


async def test_a_second_erasure_changes_nothing_and_writes_nothing(platform, md, admin_conn_factory):
    """Idempotent: the second request says already erased, with no new audit row or event."""
    conn = await admin_conn_factory("registry")
    member, _ = await _member(platform, md)
    await _depart(platform, md, member.id)
    first = await _erase(platform, md, member.id)
    outbox = await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", ORIGIN)
    second = await _erase(platform, md, member.id)
    assert second.already_erased and second.member.erase_time == first.member.erase_time
    assert len(await _audits(conn, member.id, "member.erase")) == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", ORIGIN) == outbox


async def test_an_active_member_is_not_erased(platform, md, admin_conn_factory):
    """Where the law does not allow it (the county still holds the record): FAILED_PRECONDITION, nothing changed."""
    conn = await admin_conn_factory("registry")
    member, _ = await _member(platform, md)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _erase(platform, md, member.id)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "依法不能删除" in caught.value.details()
    assert await conn.fetchval("SELECT id_number_enc IS NOT NULL FROM members WHERE id = $1::uuid", member.id)


async def test_the_http_refusal_is_a_chinese_409_problem(platform, county_token):
    """The gateway maps the refusal to 409 application/problem+json."""
    member, _ = await _member(platform, {ORIGIN: bearer(county_token(ORIGIN))})
    response = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member.id}/erase-personal-data",
                                        json={"reason": "家属依法申请删除"},
                                        headers={"Authorization": f"Bearer {county_token(ORIGIN)}"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "依法不能删除" in response.text


async def test_an_erasure_needs_a_reason_named_in_chinese(platform, md):
    """A missing reason is INVALID_ARGUMENT naming the field."""
    member, _ = await _member(platform, md)
    await _depart(platform, md, member.id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _erase(platform, md, member.id, reason=" ")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "理由" in field_violations(caught.value)["reason"]


async def test_a_departure_names_every_bad_field(platform, md):
    """No form, a future date and no reason are reported at once."""
    member, _ = await _member(platform, md)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.RecordMemberDeparture(registry_pb2.RecordMemberDepartureRequest(
            id=member.id, date="2999-01-01"), metadata=md[ORIGIN])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"departure", "date", "reason"}


async def test_another_countys_admin_finds_no_member_to_erase(platform, md):
    """A foreign county's admin gets NOT_FOUND, over gRPC and HTTP (404)."""
    member, _ = await _member(platform, md)
    await _depart(platform, md, member.id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _erase(platform, md, member.id, county=FOREIGN)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    response = await platform.http.post(f"/api/v1/tenants/{FOREIGN}/members/{member.id}/erase-personal-data",
                                        json={"reason": "家属依法申请删除"},
                                        headers={"Authorization": md[FOREIGN][0][1]})
    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.MEMBER, Role.TOWNSHIP_OFFICER, Role.COUNTY_SYSTEM, Role.PROVINCE_ANALYST])
async def test_only_the_county_department_may_erase(platform, md, issuer, role):
    """Every other role is refused before anything is read."""
    member, _ = await _member(platform, md)
    await _depart(platform, md, member.id)
    scope = "41" if role is Role.PROVINCE_ANALYST else ORIGIN
    token = issuer.issue(user=f"u-{role}", role=role, scope=scope, tenant=ORIGIN if scope == "41" else None,
                         member=member.id if role is Role.MEMBER else None,
                         org=str(uuid.uuid4()) if role is Role.TOWNSHIP_OFFICER else None,
                         permissions=frozenset({"members.write", "members.read"})
                         if role is Role.COUNTY_SYSTEM else None)[0]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.EraseMemberPersonalData(
            registry_pb2.EraseMemberPersonalDataRequest(id=member.id, reason="家属依法申请删除"),
            metadata=bearer(token))
    assert caught.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
    assert (await platform.registry_stub.GetMember(registry_pb2.GetMemberRequest(id=member.id),
                                                   metadata=md[ORIGIN])).member.id_number_masked != "已删除"


async def test_the_scheduled_erasure_on_a_fake_clock_erases_only_what_is_due(platform, md, deps,
                                                                            admin_conn_factory):
    """Records ended before the period erase; a recent one and an active one stay whole; the chain verifies."""
    conn = await admin_conn_factory("registry")
    old, _ = await _member(platform, md)
    recent, _ = await _member(platform, md)
    active, _ = await _member(platform, md)
    await _depart(platform, md, old.id, on="2020-03-01")
    await _depart(platform, md, recent.id, on="2024-06-01")
    # On 2025-01-01 with a one-year period: only records ended by 2024-01-01 are due.
    erased = await erasure.erase_due_all_tenants(deps=deps, now=datetime(2025, 1, 1, 4, tzinfo=UTC),
                                                 period_days=366)
    assert erased >= 1

    async def erased_at(member_id: str) -> object:
        return await conn.fetchval("SELECT erased_at FROM members WHERE id = $1::uuid", member_id)

    assert await erased_at(old.id) is not None
    assert await erased_at(recent.id) is None and await erased_at(active.id) is None
    [entry] = await _audits(conn, old.id, "member.erase")
    assert entry["actor"] == "system:retention" and "member_departed" in entry["reason"]
    assert await _chain_intact(deps, ORIGIN)
    # Run again: nothing more is due, nothing is written twice.
    await erasure.erase_due_all_tenants(deps=deps, now=datetime(2025, 1, 1, 4, tzinfo=UTC), period_days=366)
    assert len(await _audits(conn, old.id, "member.erase")) == 1


async def _destination_tree(orgs, md) -> None:
    dest = md[DESTINATION]
    try:
        root = (await orgs.CreateOrg(pb.CreateOrgRequest(name="中共方城县委员会",
                                                         kind=pb.ORG_KIND_COUNTY_COMMITTEE), metadata=dest)).org.id
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        root = (await orgs.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=dest)).orgs[0].id
    suffix = uuid.uuid4().hex[:6]
    station = (await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=root, name=f"方城县驻城党建工作站-{suffix}",
                                                        kind=pb.ORG_KIND_TOWN_STATION), metadata=dest)).org.id
    await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=station, name=f"工作站临时党支部-{uuid.uuid4().hex[:6]}",
                                             kind=pb.ORG_KIND_TEMPORARY_BRANCH), metadata=dest)


async def test_the_event_erases_the_destinations_copies(platform, md, orgs, admin_conn_factory):
    """MemberPersonalDataErased reaches the county that placed the member: its membership loses the masked ID,
    phone and address (the name stays)."""
    await _destination_tree(orgs, md)
    member, _ = await _member(platform, md, phone="13912345678")
    flow = (await platform.registry_stub.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=DESTINATION, address="方城县释之路 9 号", employer="",
        industry="商贸", start_date=TODAY, expected_months=6), metadata=md[ORIGIN])).flow
    dest = await admin_conn_factory("organizations")

    async def held() -> object:
        return await dest.fetchrow("SELECT * FROM memberships WHERE flow_id = $1", uuid.UUID(flow.id))

    copy = await eventually(held)
    assert copy["phone_masked"] == member.phone_masked and copy["address"]
    await platform.registry_stub.ReturnFlow(flows_pb2.ReturnFlowRequest(id=flow.id), metadata=md[ORIGIN])
    await _depart(platform, md, member.id)
    await _erase(platform, md, member.id)

    async def erased() -> object:
        row = await held()
        return row if row["phone_enc"] is None and row["address"] == "" else None

    row = await eventually(erased)
    assert (row["id_number_masked"], row["phone_masked"], row["member_name"]) == ("已删除", "已删除", member.name)
    registry = await admin_conn_factory("registry")
    flow_row = await registry.fetchrow("SELECT address, contact_phone_enc FROM flows WHERE id = $1::uuid", flow.id)
    assert flow_row["address"] == "" and flow_row["contact_phone_enc"] is None
