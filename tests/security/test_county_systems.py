"""County systems as first-class gRPC clients (issue 10, finding 5).

A county department registers its systems' service accounts over HTTP; a system exchanges its client credentials for
a token of at most five minutes that names its county and the permissions it was given, and calls the services'
gRPC endpoints with it: held to those permissions (not merely to its role's), to its own county, and to a per-client
rate limit; on a TLS port in a deployment. The walk of every route and method is tests/security/test_matrix.py.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.demo import seed
from jinqiao.gateway import integrations
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit import authz, grpcserver
from jinqiao.kit.auth import Principal, Role, TokenIssuer, TokenVerifier
from jinqiao.kit.authz import GRANTABLE, METHODS, Permission
from jinqiao.kit.channels import open_channel
from jinqiao.kit.db import Database
from jinqiao.kit.errors import InvalidArgument, PermissionDenied, Unauthenticated
from jinqiao.kit.settings import KitSettings
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from jinqiao.registry.v1 import registry_pb2
from tests.integration.conftest import bearer
from tests.support import field_violations, id_number, member_request, wrong_check_digit

X, Y = "411525", "410108"  # 固始县, 惠济区
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_FAILURES = GatewaySettings.model_fields["login_account_failures"].default
TTL_CAP = 300

_addresses = itertools.count(2)
_run = uuid.uuid4().int % 200 + 20


def _address() -> str:
    # A loopback address of this file's own (127.x.250.y), so failures here never count against 127.0.0.1.
    return f"127.{_run}.250.{next(_addresses) % 250 + 2}"


def _system(permissions: set[str] | None, role: Role = Role.COUNTY_SYSTEM) -> Principal:
    return Principal(user="jq-411525-00000000000000aa", role=role, scope=X, tenant=X,
                     permissions=frozenset(permissions) if permissions is not None else None)


# ------------------------------------------------------------------------------------------- the table


def test_a_county_system_may_be_given_only_county_work_never_a_full_id_number():
    assert {p.value for p in GRANTABLE} == {"members.read", "members.write", "flows.write", "development.read",
                                            "development.write", "orgs.read", "memberships.handle", "insights.read"}
    assert Permission.MEMBERS_REVEAL not in GRANTABLE
    for permission in GRANTABLE:
        rule = authz.scope(Role.COUNTY_SYSTEM, permission)
        assert rule in (authz.Reach.COUNTY, authz.Reach.AGGREGATE), permission
    assert authz.scope(Role.COUNTY_SYSTEM, Permission.INSIGHTS_READ) is authz.Reach.AGGREGATE
    assert authz.scope(Role.COUNTY_ADMIN, Permission.INTEGRATIONS_MANAGE) is authz.Reach.COUNTY
    assert [r for r in Role if authz.allows(r, Permission.INTEGRATIONS_MANAGE)] == [Role.COUNTY_ADMIN]


def test_a_county_system_holds_only_what_both_its_role_and_its_token_name():
    reader = _system({"members.read"})
    assert authz.holds(reader, Permission.MEMBERS_READ)
    assert not authz.holds(reader, Permission.MEMBERS_WRITE)  # its role could hold it; its token does not name it
    # Naming a permission its role has no grant for gives nothing either.
    assert not authz.holds(_system({"members.reveal", "orgs.write"}), Permission.MEMBERS_REVEAL)
    assert not authz.holds(_system({"members.reveal", "orgs.write"}), Permission.ORGS_WRITE)
    # A county system whose token names nothing holds nothing.
    assert not any(authz.holds(_system(None), p) for p in Permission)
    # People name no permissions: their role decides, as before.
    admin = Principal(user="admin", role=Role.COUNTY_ADMIN, scope=X, tenant=X)
    assert all(authz.holds(admin, p) == authz.allows(Role.COUNTY_ADMIN, p) for p in Permission)


def test_a_method_refuses_a_county_system_whose_token_does_not_name_its_permission():
    method = "/jinqiao.registry.v1.RegistryService/CreateMember"
    with pytest.raises(PermissionDenied) as caught:
        authz.require_method(method, _system({"members.read"}))
    assert "members.write" in caught.value.message
    authz.require_method(method, _system({"members.write"}))
    with pytest.raises(PermissionDenied):
        authz.require_method("/jinqiao.registry.v1.RegistryService/RevealIdNumber", _system(set(authz.TABLE)))


def test_every_http_route_refuses_a_county_system_whatever_its_token_names():
    everything = _system({p.value for p in Permission})
    for permission in Permission:
        with pytest.raises(PermissionDenied):
            authz.require_route(everything, permission)


def test_the_demo_county_system_is_a_valid_client_of_its_county():
    assert integrations.client_tenant(seed.DEMO_CLIENT_ID) == seed.OFFICER_COUNTY == X
    assert set(seed.DEMO_CLIENT_PERMISSIONS) <= set(integrations.grantable())


def test_a_token_scope_may_only_narrow_the_accounts_permissions():
    account = integrations.ServiceAccount(
        tenant=X, client_id="jq-411525-00000000000000aa", name="n", permissions=("members.read", "orgs.read"),
        created_by="a", created_at=datetime.now(UTC), rotated_at=None, previous_secret_expires_at=None,
        disabled_at=None, last_token_at=None)
    assert integrations.requested_scope(account, None) == {"members.read", "orgs.read"}
    assert integrations.requested_scope(account, " orgs.read ") == {"orgs.read"}
    with pytest.raises(InvalidArgument) as caught:
        integrations.requested_scope(account, "orgs.read members.write")
    assert caught.value.violations[0].field == "scope"


# ------------------------------------------------------------------------------------------- over the platform


@dataclass
class Client:
    """A registered county system."""

    client_id: str
    secret: str
    tenant: str


@pytest.fixture
async def register(platform, county_token) -> Callable[..., Any]:
    """Register a county system of a county as its county department would."""

    async def make(permissions: list[str], county: str = X) -> Client:
        reply = await platform.http.post(f"/api/v1/tenants/{county}/integrations/clients",
                                         headers={"Authorization": f"Bearer {county_token(county)}"},
                                         json={"name": f"测试县级系统{uuid.uuid4().hex[:6]}",
                                               "permissions": permissions})
        assert reply.status_code == 201, reply.text
        body = reply.json()
        return Client(client_id=body["client"]["client_id"], secret=body["client_secret"], tenant=county)

    return make


@pytest.fixture
async def from_address(platform) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """Clients of the real gateway, each from a loopback address of its own."""
    opened: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=platform.base_url, timeout=15,
                                   transport=httpx.AsyncHTTPTransport(local_address=_address()))
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


async def _token(http: httpx.AsyncClient, client: Client, *, secret: str | None = None, scope: str | None = None,
                 basic: bool = False) -> httpx.Response:
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        raw = f"{client.client_id}:{secret or client.secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    else:
        form |= {"client_id": client.client_id, "client_secret": secret or client.secret}
    if scope is not None:
        form["scope"] = scope
    return await http.post("/api/v1/auth/client-token", data=form, headers=headers)


async def _access(platform, client: Client, scope: str | None = None) -> str:
    reply = await _token(platform.http, client, scope=scope)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


async def test_a_county_department_registers_a_system_and_sees_its_secret_only_once(platform, register,
                                                                                     county_token,
                                                                                     admin_conn_factory):
    client = await register(["members.read", "orgs.read"])
    assert integrations.client_tenant(client.client_id) == X and len(client.secret) >= 40
    listed = await platform.http.get(f"/api/v1/tenants/{X}/integrations/clients",
                                     headers={"Authorization": f"Bearer {county_token(X)}"})
    assert listed.status_code == 200
    mine = [c for c in listed.json()["clients"] if c["client_id"] == client.client_id]
    assert mine and mine[0]["permissions"] == ["members.read", "orgs.read"] and not mine[0]["disabled"]
    assert client.secret not in listed.text and "secret_hash" not in listed.text
    assert "members.reveal" not in listed.json()["grantable"]
    conn = await admin_conn_factory("gateway")
    row = await conn.fetchrow("SELECT actor, role, action FROM audit_log WHERE tenant_id = $1 AND object_id = $2",
                              X, client.client_id)
    assert (row["actor"], row["role"], row["action"]) == (f"admin-{X}", "county_admin", "service_account.create")
    stored = await conn.fetchval("SELECT secret_hash FROM service_accounts WHERE client_id = $1", client.client_id)
    assert stored.startswith("$argon2id$") and client.secret not in stored


async def test_permissions_beyond_what_a_county_system_may_be_given_are_refused_by_field(platform, county_token):
    reply = await platform.http.post(f"/api/v1/tenants/{X}/integrations/clients",
                                     headers={"Authorization": f"Bearer {county_token(X)}"},
                                     json={"name": "越权系统", "permissions": ["members.read", "members.reveal"]})
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["permissions"]
    assert "members.reveal" in reply.json()["errors"][0]["detail"]


async def test_client_credentials_give_a_short_token_naming_the_county_and_its_permissions(platform, register,
                                                                                           secrets):
    client = await register(["members.read", "orgs.read", "insights.read"])
    verifier = TokenVerifier(public_key_pem=secrets.jwt_public.read_bytes(), issuer="jinqiao", audience="jinqiao")
    for basic in (False, True):
        reply = await _token(platform.http, client, basic=basic)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= TTL_CAP
        assert body["scope"] == "insights.read members.read orgs.read"
        assert reply.headers["cache-control"] == "no-store"
        principal = verifier.verify(body["access_token"])
        assert (principal.role, principal.tenant, principal.scope, principal.user) == (
            Role.COUNTY_SYSTEM, X, X, client.client_id)
        assert principal.permissions == {"members.read", "orgs.read", "insights.read"}
    narrowed = await _token(platform.http, client, scope="orgs.read")
    assert narrowed.json()["scope"] == "orgs.read"
    beyond = await _token(platform.http, client, scope="orgs.read members.write")
    assert beyond.status_code == 422 and beyond.json()["errors"][0]["field"] == "scope"


async def test_a_wrong_grant_type_or_body_names_the_field_and_never_a_server_error(platform, register):
    client = await register(["orgs.read"])
    wrong = await platform.http.post("/api/v1/auth/client-token", data={
        "grant_type": "password", "client_id": client.client_id, "client_secret": client.secret})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "grant_type"
    as_json = await platform.http.post("/api/v1/auth/client-token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 422 and as_json.headers["content-type"].startswith("application/problem+json")
    garbage = await platform.http.post("/api/v1/auth/client-token", content=b"\xff\xfe=%%%&&",
                                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert garbage.status_code in (401, 422)


async def test_wrong_credentials_answer_401_and_repeated_failures_lock_the_client(register, from_address):
    client = await register(["orgs.read"])
    http = from_address()
    for _ in range(ACCOUNT_FAILURES):
        reply = await _token(http, client, secret="wrong-secret")
        assert reply.status_code == 401
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.json()["detail"] == "客户端编号或密钥错误" and "access_token" not in reply.text
    locked = await _token(from_address(), client)  # the right secret, even from elsewhere, during the lockout
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 900
    assert "锁定" in locked.json()["detail"]
    unknown = await _token(from_address(), Client(client_id=f"jq-{X}-{uuid.uuid4().hex[:16]}", secret="x", tenant=X))
    assert unknown.status_code == 401 and unknown.json()["detail"] == "客户端编号或密钥错误"


async def test_a_county_system_token_is_refused_by_every_http_route(platform, register):
    token = await _access(platform, await register(["members.read", "orgs.read", "insights.read"]))
    headers = {"Authorization": f"Bearer {token}"}
    for path in (f"/api/v1/tenants/{X}/members", f"/api/v1/tenants/{X}/orgs", "/api/v1/me",
                 f"/api/v1/scopes/{X}/insights/members", f"/api/v1/tenants/{X}/integrations/clients"):
        reply = await platform.http.get(path, headers=headers)
        assert reply.status_code == 403, (path, reply.text)
        assert "gRPC" in reply.json()["detail"]


async def test_a_county_system_calls_grpc_with_its_own_credentials(platform, register, county_token):
    token = await _access(platform, await register(["members.read", "members.write", "orgs.read"]))
    created = await platform.registry_stub.CreateMember(member_request(X), metadata=bearer(token))
    assert created.member.tenant_id == X
    listed = await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(page_size=100),
                                                      metadata=bearer(token))
    assert listed.members
    got = await platform.registry_stub.GetMember(registry_pb2.GetMemberRequest(id=created.member.id),
                                                 metadata=bearer(token))
    # Masked like every reader without the reveal permission: no full number, no birth date.
    assert "*" in got.member.id_number_masked and got.member.birth_date == ""
    await platform.organizations_stub.ListChildOrgs(orgs_pb.ListChildOrgsRequest(), metadata=bearer(token))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.RevealIdNumber(registry_pb2.RevealIdNumberRequest(
            id=created.member.id, reason="核对身份信息"), metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_without_a_named_permission_every_method_its_role_could_hold_is_permission_denied(platform, issuer):
    walked = 0
    channels = {name: grpc.aio.insecure_channel(f"127.0.0.1:{s.port}") for name, s in platform.services.items()}
    services = {"registry": "/jinqiao.registry.v1.RegistryService/",
                "organizations": "/jinqiao.organizations.v1.OrganizationsService/",
                "insights": "/jinqiao.insights.v1.InsightsService/"}
    try:
        for missing in sorted(GRANTABLE):
            others = frozenset(p.value for p in GRANTABLE) - {missing.value}
            token, _ = issuer.issue(user=f"jq-{X}-{uuid.uuid4().hex[:16]}", role=Role.COUNTY_SYSTEM, scope=X,
                                    permissions=others)
            for method, permission in METHODS.items():
                if permission is not missing:
                    continue
                service = next(name for name, prefix in services.items() if method.startswith(prefix))
                call = channels[service].unary_unary(method, request_serializer=lambda b: b,
                                                     response_deserializer=lambda b: b)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call(b"", metadata=bearer(token), timeout=10)
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, method
                assert missing.value in (caught.value.details() or ""), method
                walked += 1
    finally:
        for channel in channels.values():
            await channel.close()
    assert walked >= len(GRANTABLE)


async def test_another_countys_objects_are_not_found_for_a_county_system(platform, register, county_token):
    foreign_member = (await platform.registry_stub.CreateMember(member_request(Y),
                                                                metadata=bearer(county_token(Y)))).member.id
    token = await _access(platform, await register(["members.read", "members.write", "orgs.read"]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.GetMember(registry_pb2.GetMemberRequest(id=foreign_member),
                                               metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.UpdateMember(registry_pb2.UpdateMemberRequest(
            id=foreign_member, version=1, update_mask=["occupation"], occupation="电工"), metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(page_size=100),
                                                      metadata=bearer(token))
    assert all(m.tenant_id == X for m in listed.members) and foreign_member not in {m.id for m in listed.members}


async def test_another_countys_admin_cannot_see_or_touch_a_county_system(platform, register, county_token):
    client = await register(["orgs.read"], county=X)
    other = {"Authorization": f"Bearer {county_token(Y)}"}
    base = f"/api/v1/tenants/{X}/integrations/clients"
    assert (await platform.http.get(base, headers=other)).status_code == 404
    for action in ("rotate-secret", "disable"):
        assert (await platform.http.post(f"{base}/{client.client_id}/{action}", headers=other)).status_code == 404
        # Nor through its own county's path, naming the other county's client.
        own_path = f"/api/v1/tenants/{Y}/integrations/clients/{client.client_id}/{action}"
        assert (await platform.http.post(own_path, headers=other)).status_code == 404
    listed = await platform.http.get(f"/api/v1/tenants/{Y}/integrations/clients", headers=other)
    assert client.client_id not in listed.text
    assert (await _token(platform.http, client)).status_code == 200  # untouched


async def test_a_rotated_out_secret_works_through_the_grace_period_and_not_after(platform, register, county_token,
                                                                                 settings_for, admin_conn_factory,
                                                                                 from_address):
    client = await register(["orgs.read"])
    rotated = await platform.http.post(f"/api/v1/tenants/{X}/integrations/clients/{client.client_id}/rotate-secret",
                                       headers={"Authorization": f"Bearer {county_token(X)}"})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    until = datetime.fromisoformat(rotated.json()["client"]["previous_secret_valid_until"])
    grace = KitSettings.model_fields["client_secret_grace_seconds"].default
    assert new_secret != client.secret and grace == 86400
    assert (await _token(platform.http, client)).status_code == 200  # within the grace period
    assert (await _token(platform.http, client, secret=new_secret)).status_code == 200
    # After the grace period, told by the clock the use case reads: the old secret is refused, the new one not.
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    try:
        later = lambda: until + timedelta(seconds=1)  # noqa: E731
        with pytest.raises(Unauthenticated):
            await integrations.authenticate(db=db, client_id=client.client_id, client_secret=client.secret,
                                            clock=later)
        assert (await integrations.authenticate(db=db, client_id=client.client_id, client_secret=new_secret,
                                                clock=later)).client_id == client.client_id
    finally:
        await db.close()
    # And over HTTP once the stored grace has run out.
    conn = await admin_conn_factory("gateway")
    await conn.execute("UPDATE service_accounts SET previous_secret_expires_at = now() - interval '1 second'"
                       " WHERE client_id = $1", client.client_id)
    assert (await _token(from_address(), client)).status_code == 401
    assert (await _token(platform.http, client, secret=new_secret)).status_code == 200


async def test_a_disabled_client_gets_no_token(platform, register, county_token, admin_conn_factory, from_address):
    client = await register(["orgs.read"])
    assert (await _token(platform.http, client)).status_code == 200
    headers = {"Authorization": f"Bearer {county_token(X)}"}
    base = f"/api/v1/tenants/{X}/integrations/clients/{client.client_id}"
    disabled = await platform.http.post(f"{base}/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"]
    refused = await _token(from_address(), client)
    assert refused.status_code == 401 and refused.json()["detail"] == "客户端编号或密钥错误"
    assert (await platform.http.post(f"{base}/rotate-secret", headers=headers)).status_code == 409
    assert (await platform.http.post(f"{base}/disable", headers=headers)).status_code == 200  # idempotent
    conn = await admin_conn_factory("gateway")
    actions = await conn.fetch("SELECT action FROM audit_log WHERE tenant_id = $1 AND object_id = $2 ORDER BY seq",
                               X, client.client_id)
    assert [a["action"] for a in actions] == ["service_account.create", "service_account.disable"]


async def test_the_demo_seed_registers_its_county_system_again_and_again(platform, settings_for):
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    try:
        for _ in range(2):
            account = await integrations.upsert_account(
                db=db, tenant=seed.OFFICER_COUNTY, client_id=seed.DEMO_CLIENT_ID, name=seed.DEMO_CLIENT_NAME,
                permissions=seed.DEMO_CLIENT_PERMISSIONS, secret=seed.DEMO_CLIENT_SECRET, actor="demo-seed")
            assert account.permissions == tuple(sorted(seed.DEMO_CLIENT_PERMISSIONS)) and not account.disabled
    finally:
        await db.close()
    demo = Client(client_id=seed.DEMO_CLIENT_ID, secret=seed.DEMO_CLIENT_SECRET, tenant=X)
    reply = await _token(platform.http, demo, basic=True)
    assert reply.status_code == 200 and reply.json()["scope"] == " ".join(sorted(seed.DEMO_CLIENT_PERMISSIONS))


# ------------------------------------------------------------------------------------------- the gRPC edge


async def _counts(request: bytes, context: Any) -> bytes:
    return insights_pb2.GetMemberCountsResponse().SerializeToString()


def _counts_service(server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler("jinqiao.insights.v1.InsightsService", {
        "GetMemberCounts": grpc.unary_unary_rpc_method_handler(_counts)})
    server.add_generic_rpc_handlers((handler,))


@pytest.fixture
def verifier(secrets) -> TokenVerifier:
    """Verifies the session's tokens."""
    return TokenVerifier(public_key_pem=secrets.jwt_public.read_bytes(), issuer="jinqiao", audience="jinqiao")


def _retry_info(err: grpc.aio.AioRpcError) -> error_details_pb2.RetryInfo | None:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            assert status.code == code_pb2.RESOURCE_EXHAUSTED
            for detail in status.details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info
    return None


async def test_a_county_system_past_its_rate_answers_resource_exhausted_with_retry_info(verifier,
                                                                                        issuer: TokenIssuer):
    app = await grpcserver.start_server(
        verifier=verifier, service_names=["jinqiao.insights.v1.InsightsService"], register=[_counts_service],
        host="127.0.0.1", port=0, service="limits-test",
        client_limiter=grpcserver.ClientRateLimiter("3/minute", service="limits-test"))
    method = "/jinqiao.insights.v1.InsightsService/GetMemberCounts"

    def system(name: str) -> str:
        return issuer.issue(user=f"jq-{X}-{name}", role=Role.COUNTY_SYSTEM, scope=X,
                            permissions=frozenset({"insights.read"}))[0]

    person = issuer.issue(user=f"admin-{X}", role=Role.COUNTY_ADMIN, scope=X)[0]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            busy, calm = system("a" * 16), system("b" * 16)
            for _ in range(3):
                await call(b"", metadata=bearer(busy), timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"", metadata=bearer(busy), timeout=5)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "调用过于频繁" in (caught.value.details() or "")
            info = _retry_info(caught.value)
            assert info is not None and 0 < info.retry_delay.seconds <= 60
            # Another client keeps its own allowance, and people are not limited here at all.
            await call(b"", metadata=bearer(calm), timeout=5)
            for _ in range(10):
                await call(b"", metadata=bearer(person), timeout=5)
    finally:
        await app.stop(0)


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jinqiao-test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


async def test_the_grpc_port_speaks_tls_when_given_a_certificate(verifier, issuer, tmp_path):
    cert, key = _self_signed()
    (tmp_path / "grpc.crt").write_bytes(cert)
    (tmp_path / "grpc.key").write_bytes(key)
    settings = KitSettings(grpc_tls_cert_file=tmp_path / "grpc.crt", grpc_tls_key_file=tmp_path / "grpc.key")
    tls = grpcserver.ServerTls.from_settings(settings)
    assert tls is not None
    app = await grpcserver.start_server(
        verifier=verifier, service_names=["jinqiao.insights.v1.InsightsService"], register=[_counts_service],
        host="127.0.0.1", port=0, service="tls-test", tls=tls)
    token = issuer.issue(user=f"jq-{X}-{'c' * 16}", role=Role.COUNTY_SYSTEM, scope=X,
                         permissions=frozenset({"insights.read"}))[0]
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert)
        async with grpc.aio.secure_channel(f"127.0.0.1:{app.port}", credentials) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            call = channel.unary_unary("/jinqiao.insights.v1.InsightsService/GetMemberCounts",
                                       request_serializer=lambda b: b, response_deserializer=lambda b: b)
            await call(b"", metadata=bearer(token), timeout=5)
        # The platform's own callers (the gateway, the demo seed) verify the port against the configured CA.
        async with open_channel(f"127.0.0.1:{app.port}", ca_file=tmp_path / "grpc.crt") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await app.stop(0)


def test_a_certificate_without_its_key_is_refused_at_start(tmp_path):
    (tmp_path / "grpc.crt").write_bytes(b"-")
    with pytest.raises(ValueError):
        grpcserver.ServerTls.from_settings(KitSettings(grpc_tls_cert_file=tmp_path / "grpc.crt"))
    assert grpcserver.ServerTls.from_settings(KitSettings()) is None


# ------------------------------------------------------------------------------------------- the example client


async def _example(platform, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "examples" / "county_system_client.py"), "--gateway", platform.base_url,
               "--target", f"127.0.0.1:{platform.registry.port}", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINQIAO_")}
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, env=env)


async def test_the_example_client_lists_and_registers_members_with_its_own_credentials(platform, register):
    client = await register(["members.read", "members.write"])
    creds = ("--client-id", client.client_id, "--client-secret", client.secret)
    number = id_number(X)
    done = await _example(platform, *creds, "--create-name", "示例系统登记", "--create-id-number", number)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "token granted: members.read members.write" in done.stdout
    assert "ListMembers:" in done.stdout and "CreateMember: 已登记" in done.stdout
    assert number not in done.stdout  # only the masked number comes back
    refused = await _example(platform, *creds, "--create-name", "示例系统登记",
                             "--create-id-number", wrong_check_digit(id_number(X)))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "字段 field id_number: 身份证号校验位错误" in refused.stdout
    narrowed = await _example(platform, *creds, "--scope", "members.read", "--create-name", "示例系统登记",
                              "--create-id-number", id_number(X))
    assert narrowed.returncode == 3 and "无权调用" in narrowed.stdout


async def test_field_violations_reach_a_county_system_as_google_rpc_bad_request(platform, register):
    token = await _access(platform, await register(["members.write"]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.registry_stub.CreateMember(member_request(X, id_number=wrong_check_digit(id_number(X))),
                                                  metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught.value) == {"id_number": "身份证号校验位错误"}


def test_the_integrators_guide_names_every_method_a_county_system_may_call():
    guide = (ROOT / "docs" / "integrators.md").read_text(encoding="utf-8")
    for method, permission in METHODS.items():
        if permission in GRANTABLE:
            assert method.rsplit("/", 1)[1] in guide, method
    for permission in GRANTABLE:
        assert f"`{permission.value}`" in guide, permission
    assert seed.DEMO_CLIENT_ID in guide and seed.DEMO_CLIENT_SECRET in guide
