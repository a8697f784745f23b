"""Login is throttled (issue 10, finding 3): an account locks after repeated wrong passwords, one client address
may fail only so often across usernames, and neither answer tells whether an account exists.

Each test speaks from its own loopback address (127.x.y.z, bound as the connection's source), so the gateway
sees a distinct client exactly as it would another machine, and the rest of the suite (127.0.0.1) is unaffected.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.gateway.ratelimit import LoginLimiter, LoginPolicy
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database

PASSWORD = "login-limits correct password"
DEFAULTS = GatewaySettings.model_fields
ACCOUNT_FAILURES = DEFAULTS["login_account_failures"].default
LOCKOUT_SECONDS = DEFAULTS["login_lockout_seconds"].default
ADDRESS_FAILURES = DEFAULTS["login_address_failures"].default

_addresses = itertools.count(2)
_run = uuid.uuid4().int % 200 + 20


def _next_address() -> str:
    n = next(_addresses)
    return f"127.{_run}.{n // 250}.{n % 250 + 2}"


@pytest.fixture
async def client_from(platform) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """Clients of the real gateway, each connecting from a loopback address of its own."""
    opened: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=_next_address())
        client = httpx.AsyncClient(base_url=platform.base_url, transport=transport, timeout=15)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
async def new_account(settings_for) -> AsyncIterator[Callable[[], object]]:
    """Make fresh county accounts with unique usernames."""
    settings = settings_for("gateway")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)

    async def make() -> str:
        username = f"limits-{uuid.uuid4().hex[:10]}"
        await upsert_account(db=db, account=Account(username=username, role=Role.COUNTY_ADMIN, scope="411525",
                                                    acting_tenant="411525"), password=PASSWORD)
        return username

    yield make
    await db.close()


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"username": username, "password": password})


async def _fail(client: httpx.AsyncClient, username: str, times: int) -> list[int]:
    return [(await _login(client, username, "wrong password")).status_code for _ in range(times)]


def _assert_too_many(reply: httpx.Response, *, at_most: int) -> int:
    assert reply.status_code == 429, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    retry_after = int(reply.headers["Retry-After"])
    assert 0 < retry_after <= at_most
    body = reply.json()
    assert body["status"] == 429 and "分钟后再试" in body["detail"]
    assert "access_token" not in body
    return retry_after


async def test_the_sixth_wrong_password_answers_429_with_retry_after(platform, client_from, new_account):
    client, username = client_from(), await new_account()
    assert await _fail(client, username, ACCOUNT_FAILURES) == [401] * ACCOUNT_FAILURES
    reply = await _login(client, username, "wrong password")
    _assert_too_many(reply, at_most=LOCKOUT_SECONDS)
    assert "锁定" in reply.json()["detail"]


async def test_the_right_password_is_refused_during_the_lockout(platform, client_from, new_account):
    client, username = client_from(), await new_account()
    await _fail(client, username, ACCOUNT_FAILURES)
    _assert_too_many(await _login(client, username, PASSWORD), at_most=LOCKOUT_SECONDS)
    # Nor does another address get round the lockout of the account.
    _assert_too_many(await _login(client_from(), username, PASSWORD), at_most=LOCKOUT_SECONDS)


async def test_an_unknown_username_is_answered_exactly_like_a_real_one(platform, client_from, new_account):
    real, unknown = await new_account(), f"limits-nobody-{uuid.uuid4().hex[:10]}"
    answers = []
    for username in (real, unknown):
        client = client_from()
        statuses = await _fail(client, username, ACCOUNT_FAILURES + 1)
        last = await _login(client, username, "wrong password")
        answers.append((statuses, last.status_code, last.json()["title"], last.json()["detail"],
                        sorted(k for k in last.headers if k in ("retry-after", "content-type"))))
    assert answers[0] == answers[1]
    assert answers[0][0] == [401] * ACCOUNT_FAILURES + [429]


async def test_another_account_from_another_address_is_unaffected(platform, client_from, new_account):
    attacker, victim = client_from(), await new_account()
    await _fail(attacker, victim, ACCOUNT_FAILURES + 1)
    bystander = await new_account()
    reply = await _login(client_from(), bystander, PASSWORD)
    assert reply.status_code == 200, reply.text
    assert reply.json()["access_token"]


async def test_a_successful_login_resets_the_failure_count(platform, client_from, new_account):
    client, username = client_from(), await new_account()
    assert await _fail(client, username, ACCOUNT_FAILURES - 1) == [401] * (ACCOUNT_FAILURES - 1)
    assert (await _login(client, username, PASSWORD)).status_code == 200
    assert await _fail(client, username, ACCOUNT_FAILURES - 1) == [401] * (ACCOUNT_FAILURES - 1)
    assert (await _login(client, username, PASSWORD)).status_code == 200


async def test_one_address_is_limited_across_many_usernames(platform, client_from, new_account):
    client = client_from()
    statuses = [(await _login(client, f"limits-spray-{uuid.uuid4().hex[:10]}", "wrong password")).status_code
                for _ in range(ADDRESS_FAILURES)]
    assert statuses == [401] * ADDRESS_FAILURES
    reply = await _login(client, f"limits-spray-{uuid.uuid4().hex[:10]}", "wrong password")
    _assert_too_many(reply, at_most=DEFAULTS["login_address_window_seconds"].default)
    # Even a real account's right password is refused from that address, but not from another one.
    username = await new_account()
    assert (await _login(client, username, PASSWORD)).status_code == 429
    assert (await _login(client_from(), username, PASSWORD)).status_code == 200


# The limiter alone, over its in-memory storage.

def _limiter(**policy: int) -> LoginLimiter:
    return LoginLimiter.from_uri(LoginPolicy(**policy), "async+memory://")


async def test_the_limiter_locks_an_account_at_the_nth_failure_and_logs_it_without_the_password(capsys):
    limiter = _limiter(account_failures=3, lockout_seconds=600)
    for _ in range(3):
        assert await limiter.refusal(username="Zhang", address="127.0.10.1") is None
        assert await limiter.attempt(username="Zhang", address="127.0.10.1") is None
        await limiter.failed(username="Zhang", address="127.0.10.1")
    refusal = await limiter.refusal(username=" zhang ", address="127.0.10.2")
    assert refusal is not None and refusal.reason == "account_locked" and 0 < refusal.retry_after <= 600
    logged = capsys.readouterr().out
    assert "login.account_locked" in logged and "zhang" in logged and "password" not in logged


async def test_the_limiter_counts_parallel_attempts_before_their_passwords_are_checked():
    limiter = _limiter(account_failures=3)
    answers = [await limiter.attempt(username="li", address="127.0.10.1") for _ in range(4)]
    assert answers[:3] == [None] * 3
    assert answers[3] is not None and answers[3].reason == "account_locked"


async def test_the_limiter_refuses_a_storage_that_is_not_asynchronous():
    with pytest.raises(ValueError, match="async"):
        LoginLimiter.from_uri(LoginPolicy(), "memory://")
