"""Sessions (issue 10, finding 3): short access tokens renewed by rotating refresh tokens, logout, and revocation
that the gateway and every gRPC service honour within seconds, against the running platform.

Revocations reach the services through the gateway's outbox and stream, so the services' refusals are polled with
a generous timeout; the gateway that made a revocation refuses at once.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import grpc
import httpx
import jwt
import pytest

from jinqiao.gateway import sessions
from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit import catalog
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.organizations.v1 import organizations_pb2
from jinqiao.registry.v1 import registry_pb2
from tests.integration.conftest import bearer, eventually, start_catalogued

COUNTY = "411525"
PASSWORD = "sessions correct password"
ENDED = "登录已失效，请重新登录"
DEFAULTS = GatewaySettings.model_fields


@pytest.fixture
async def gateway_db(settings_for) -> AsyncIterator[Database]:
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=2)
    yield db
    await db.close()


@pytest.fixture
def new_account(gateway_db) -> Callable[..., object]:
    """Make a fresh account (a county admin unless told otherwise) and return it."""

    async def make(role: Role = Role.COUNTY_ADMIN, scope: str = COUNTY) -> Account:
        account = Account(username=f"sessions-{uuid.uuid4().hex[:10]}", role=role, scope=scope,
                          acting_tenant=scope if len(scope) == 6 else None)
        await upsert_account(db=gateway_db, account=account, password=PASSWORD)
        return account

    return make


async def _login(platform, account: Account) -> dict:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": account.username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _refresh(platform, refresh_token: str):
    return await platform.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def _me(platform, access_token: str) -> int:
    return (await platform.http.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})).status_code


def _sid(tokens: dict) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]


def _assert_refused(reply) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["detail"] == ENDED


async def _codes(platform, token: str, scope: str = COUNTY) -> dict[str, grpc.StatusCode]:
    """What each of registry, organizations and insights answers a call made directly with ``token``."""
    calls = {
        "registry": lambda: platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(page_size=1),
                                                               metadata=bearer(token)),
        "organizations": lambda: platform.organizations_stub.SearchOrgs(
            organizations_pb2.SearchOrgsRequest(name_contains="党", page_size=1), metadata=bearer(token)),
        "insights": lambda: platform.insights_stub.GetMemberCounts(
            insights_pb2.GetMemberCountsRequest(scope=scope), metadata=bearer(token)),
    }
    codes = {}
    for name, call in calls.items():
        try:
            await call()
            codes[name] = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as err:
            codes[name] = err.code()
    return codes


async def _all_services_refuse(platform, token: str, scope: str = COUNTY) -> bool:
    return all(code == grpc.StatusCode.UNAUTHENTICATED for code in (await _codes(platform, token, scope)).values())


async def _no_service_refuses(platform, token: str, scope: str = COUNTY) -> None:
    codes = await _codes(platform, token, scope)
    assert grpc.StatusCode.UNAUTHENTICATED not in codes.values(), codes


async def test_login_returns_a_short_access_token_of_a_session_and_a_refresh_token(platform, new_account):
    tokens = await _login(platform, await new_account())
    assert tokens["expires_in"] == DEFAULTS["access_token_ttl_seconds"].default == 300
    assert 0 < tokens["refresh_expires_in"] <= DEFAULTS["session_idle_seconds"].default
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert uuid.UUID(claims["sid"]) and claims["exp"] - claims["iat"] == 300
    assert len(tokens["refresh_token"]) >= 40 and tokens["refresh_token"] not in tokens["access_token"]


async def test_refresh_rotates_and_reusing_a_spent_refresh_token_revokes_the_whole_session(platform, new_account):
    first = await _login(platform, await new_account())
    renewed = await _refresh(platform, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert _sid(second) == _sid(first)
    assert await _me(platform, second["access_token"]) == 200
    await _no_service_refuses(platform, second["access_token"])

    # The spent token comes back (copied by someone): the session ends for whoever holds it.
    _assert_refused(await _refresh(platform, first["refresh_token"]))
    assert await _me(platform, second["access_token"]) == 401
    assert await _me(platform, first["access_token"]) == 401
    _assert_refused(await _refresh(platform, second["refresh_token"]))
    await eventually(lambda: _all_services_refuse(platform, second["access_token"]), timeout=30)


async def test_after_logout_the_token_is_refused_by_the_gateway_and_every_service_and_other_sessions_go_on(
        platform, new_account):
    account = await new_account()
    mine, other = await _login(platform, account), await _login(platform, account)
    await _no_service_refuses(platform, mine["access_token"])  # and now it sits in the services' token caches

    reply = await platform.http.post("/api/v1/auth/logout",
                                     headers={"Authorization": f"Bearer {mine['access_token']}"})
    assert reply.status_code == 204, reply.text

    refused = await platform.http.get("/api/v1/me", headers={"Authorization": f"Bearer {mine['access_token']}"})
    assert refused.status_code == 401 and refused.json()["detail"] == ENDED
    await eventually(lambda: _all_services_refuse(platform, mine["access_token"]), timeout=30)
    _assert_refused(await _refresh(platform, mine["refresh_token"]))
    # The same account's other session is another session.
    assert await _me(platform, other["access_token"]) == 200
    await _no_service_refuses(platform, other["access_token"])
    assert (await _refresh(platform, other["refresh_token"])).status_code == 200


async def test_a_service_started_after_a_logout_refuses_the_token_from_its_first_call(
        platform, new_account, settings_for):
    tokens = await _login(platform, await new_account())
    assert (await platform.http.post("/api/v1/auth/logout",
                                     headers={"Authorization": f"Bearer {tokens['access_token']}"})).status_code == 204
    await eventually(lambda: _all_services_refuse(platform, tokens["access_token"]), timeout=30)
    fresh = await start_catalogued(catalog.get("registry"), settings_for("registry"))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{fresh.port}") as channel:
            stub = catalog.get("registry").stub_class()(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListMembers(registry_pb2.ListMembersRequest(page_size=1),
                                       metadata=bearer(tokens["access_token"]))
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert ENDED in (caught.value.details() or "")
    finally:
        await fresh.stop()


async def test_a_province_account_logs_out_like_a_county_one(platform, new_account):
    tokens = await _login(platform, await new_account(Role.PROVINCE_ANALYST, "41"))
    renewed = (await _refresh(platform, tokens["refresh_token"])).json()
    assert await _me(platform, renewed["access_token"]) == 200
    assert (await platform.http.post("/api/v1/auth/logout",
                                     headers={"Authorization": f"Bearer {renewed['access_token']}"})).status_code == 204
    assert await _me(platform, renewed["access_token"]) == 401
    await eventually(lambda: _all_services_refuse(platform, renewed["access_token"], "41"), timeout=30)


async def test_unknown_expired_and_idle_refresh_tokens_are_refused_with_a_problem(
        platform, new_account, admin_conn_factory):
    garbage = await _refresh(platform, "not-a-refresh-token")
    _assert_refused(garbage)
    assert garbage.headers["www-authenticate"] == "Bearer"
    empty = await _refresh(platform, "")
    assert empty.status_code == 422 and empty.headers["content-type"].startswith("application/problem+json")

    gateway_db = await admin_conn_factory("gateway")
    idle, ended = await _login(platform, await new_account()), await _login(platform, await new_account())
    idle_for = timedelta(seconds=DEFAULTS["session_idle_seconds"].default + 1)
    await gateway_db.execute("UPDATE sessions SET last_used_at = last_used_at - $2::interval"
                             " WHERE session_id = $1::uuid", _sid(idle), idle_for)
    await gateway_db.execute("UPDATE sessions SET expires_at = now() - interval '1 second'"
                             " WHERE session_id = $1::uuid", _sid(ended))
    _assert_refused(await _refresh(platform, idle["refresh_token"]))
    _assert_refused(await _refresh(platform, ended["refresh_token"]))


async def test_a_disabled_account_cannot_refresh_and_its_session_ends(platform, new_account, admin_conn_factory):
    account = await new_account()
    tokens = await _login(platform, account)
    gateway_db = await admin_conn_factory("gateway")
    await gateway_db.execute("UPDATE accounts SET disabled = true WHERE username = $1", account.username)
    _assert_refused(await _refresh(platform, tokens["refresh_token"]))
    assert await _me(platform, tokens["access_token"]) == 401


async def test_revoking_the_sessions_of_an_account_ends_every_one_of_them_everywhere(
        platform, new_account, gateway_db):
    account, bystander = await new_account(), await new_account()
    logins = [await _login(platform, account) for _ in range(2)]
    theirs = await _login(platform, bystander)
    policy = sessions.SessionPolicy(access_ttl_seconds=300, lifetime_seconds=3600, idle_seconds=1800)

    # Called as the account's password change or disabling will call it: from another process than the gateway.
    assert await sessions.revoke_sessions_of(db=gateway_db, account=account, policy=policy) == 2
    assert await sessions.revoke_sessions_of(db=gateway_db, account=account, policy=policy) == 0

    for tokens in logins:
        # The gateway that serves these requests learns it from the stream, like every service.
        await eventually(lambda tokens=tokens: _refused_at_gateway(platform, tokens["access_token"]), timeout=30)
        await eventually(lambda tokens=tokens: _all_services_refuse(platform, tokens["access_token"]), timeout=30)
        _assert_refused(await _refresh(platform, tokens["refresh_token"]))
    assert await _me(platform, theirs["access_token"]) == 200
    await _no_service_refuses(platform, theirs["access_token"])


async def _refused_at_gateway(platform, token: str) -> bool:
    return await _me(platform, token) == 401


async def test_credentials_no_account_can_have_are_refused_naming_the_field_not_as_server_errors(platform):
    # From a loopback address of its own, so these failures count against no other test's address.
    address = f"127.{random.randint(230, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=platform.base_url, transport=transport, timeout=15) as client:
        # A NUL (which PostgreSQL text refuses) or a lone surrogate is no credential: refused before any look-up,
        # naming the field, never a server error.
        for path, body, field in (
                ("/api/v1/auth/token", b'{"username": "m\\u0000", "password": "x"}', "username"),
                ("/api/v1/auth/refresh", b'{"refresh_token": "r\\u0000"}', "refresh_token"),
                ("/api/v1/auth/token", b'{"username": "m", "password": "\\ud800"}', "password"),
                ("/api/v1/auth/refresh", b'{"refresh_token": "\\ud800"}', "refresh_token")):
            reply = await client.post(path, content=body, headers={"content-type": "application/json"})
            assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in reply.json()["errors"]] == [field], reply.text


async def test_the_gateway_reports_that_its_revocation_feed_is_up(platform):
    metrics = (await platform.http.get("/metrics")).text
    assert 'jinqiao_revocation_feed_up{service="gateway"} 1.0' in metrics
    assert 'jinqiao_revocation_feed_up{service="registry"} 1.0' in metrics  # the services of this test process
