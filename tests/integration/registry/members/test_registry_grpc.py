"""Registry over gRPC against real PostgreSQL: validation, masking, tenancy, idempotency, encryption."""

from __future__ import annotations

import uuid

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.registry.v1 import registry_pb2
from tests.integration.conftest import bearer
from tests.support import field_violations, member_request, wrong_check_digit


async def counts(conn, tenant: str) -> tuple[int, int]:
    """Members and outbox rows of a tenant, seen by the superuser."""
    members = await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1", tenant)
    outbox = await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", tenant)
    return members, outbox


async def test_created_member_is_returned_masked(platform, county_token):
    request = member_request("411525")
    reply = await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411525")))
    member = reply.member
    assert member.tenant_id == "411525"
    assert member.id_number_masked == request.id_number[:4] + "*" * 10 + request.id_number[-4:]
    assert member.phone_masked == "138****5678"
    assert member.birth_date == f"{request.id_number[6:10]}-{request.id_number[10:12]}-{request.id_number[12:14]}"
    fetched = await platform.registry_stub.GetMember(
        registry_pb2.GetMemberRequest(id=member.id), metadata=bearer(county_token("411525"))
    )
    assert fetched.member == member
    assert request.id_number not in str(fetched)


async def test_foreign_county_member_is_not_found(platform, county_token):
    reply = await platform.registry_stub.CreateMember(member_request("411525"),
                                                      metadata=bearer(county_token("411525")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.GetMember(
            registry_pb2.GetMemberRequest(id=reply.member.id), metadata=bearer(county_token("411503"))
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_foreign_county_members_are_not_listed(platform, county_token):
    reply = await platform.registry_stub.CreateMember(member_request("411521"),
                                                      metadata=bearer(county_token("411521")))
    listed = await platform.registry_stub.ListMembers(
        registry_pb2.ListMembersRequest(page_size=200), metadata=bearer(county_token("411522"))
    )
    assert reply.member.id not in {m.id for m in listed.members}
    assert all(m.tenant_id == "411522" for m in listed.members)


async def test_wrong_check_digit_is_invalid_argument_naming_the_field_and_writes_nothing(
    platform, county_token, admin_conn_factory
):
    conn = await admin_conn_factory("registry")
    before = await counts(conn, "411524")
    request = member_request("411524")
    request.id_number = wrong_check_digit(request.id_number)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411524")))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(caught.value)
    assert "校验位" in violations["id_number"]
    assert await counts(conn, "411524") == before


async def test_every_bad_field_is_reported_at_once(platform, county_token):
    request = member_request("411524", name="  ", phone="12345", join_date="2030-01-01", membership_status=0)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411524")))
    assert set(field_violations(caught.value)) == {"name", "phone", "join_date", "membership_status"}


async def test_same_id_number_twice_in_one_county_is_already_exists(platform, county_token):
    request = member_request("411526")
    await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411526")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411526")))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_repeated_request_id_returns_the_first_member_and_one_event(
    platform, county_token, admin_conn_factory
):
    conn = await admin_conn_factory("registry")
    before = await counts(conn, "411527")
    request = member_request("411527", request_id=f"retry-{uuid.uuid4()}")
    first = await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411527")))
    second = await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411527")))
    assert first.member.id == second.member.id
    members, outbox = await counts(conn, "411527")
    # One creation's events, once: MemberRegistered and MemberProfileChanged (issue 14).
    assert (members - before[0], outbox - before[1]) == (1, 2)


async def test_id_and_phone_numbers_are_encrypted_at_rest(platform, county_token, admin_conn_factory):
    request = member_request("411528")
    reply = await platform.registry_stub.CreateMember(request, metadata=bearer(county_token("411528")))
    conn = await admin_conn_factory("registry")
    row = await conn.fetchrow("SELECT * FROM members WHERE id = $1::uuid", reply.member.id)
    stored = b"".join(bytes(v) if isinstance(v, bytes | bytearray | memoryview) else str(v).encode()
                      for v in row.values() if v is not None)
    assert request.id_number.encode() not in stored
    assert request.phone.encode() not in stored


async def test_listing_pages_with_a_cursor_without_repeats(platform, county_token):
    token = county_token("410108")
    created = set()
    for _ in range(5):
        reply = await platform.registry_stub.CreateMember(member_request("410108"), metadata=bearer(token))
        created.add(reply.member.id)
    seen: list[str] = []
    page_token = ""
    while True:
        page = await platform.registry_stub.ListMembers(
            registry_pb2.ListMembersRequest(page_size=2, page_token=page_token), metadata=bearer(token)
        )
        seen += [m.id for m in page.members]
        page_token = page.next_page_token
        if not page_token:
            break
    assert created <= set(seen)
    assert len(seen) == len(set(seen))


async def test_garbage_page_token_is_invalid_argument(platform, county_token):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.ListMembers(
            registry_pb2.ListMembersRequest(page_token="%%%not-a-token"), metadata=bearer(county_token("410108"))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in field_violations(caught.value)


async def test_province_analyst_cannot_read_persons(platform, issuer):
    token, _ = issuer.issue(user="p", role=Role.PROVINCE_ANALYST, scope="41")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(), metadata=bearer(token))
    assert caught.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer not-a-jwt"),), (("authorization", "Basic x"),)])
async def test_calls_without_a_valid_token_are_unauthenticated(platform, metadata):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
