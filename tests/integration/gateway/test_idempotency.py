"""Idempotency-Key over real HTTP: a repeat gets the first answer and acts once; the key is the caller's own.

Founding a township committee is used because the organizations service has no request id of its own: a second
organisation would be founded if the gateway did not keep the first answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from jinqiao.gateway import idempotency
from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database

PASSWORD = "idempotency-pw"
COUNTIES = ("650202", "650203")  # counties no other test writes in


def _user(county: str) -> str:
    return f"idem-county-{county}"


@pytest.fixture(scope="module")
async def headers(platform, settings_for):
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    for county in COUNTIES:
        await upsert_account(db=db, account=Account(username=_user(county), role=Role.COUNTY_ADMIN, scope=county,
                                                    acting_tenant=county), password=PASSWORD)
    await db.close()
    result = {}
    for county in COUNTIES:
        reply = await platform.http.post("/api/v1/auth/token", json={"username": _user(county), "password": PASSWORD})
        assert reply.status_code == 200, reply.text
        result[county] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    return result


@pytest.fixture(scope="module")
async def roots(platform, headers):
    """Each county's county committee (founded here unless an earlier test did)."""
    found = {}
    for county in COUNTIES:
        base = f"/api/v1/tenants/{county}/orgs"
        listed = (await platform.http.get(base, headers=headers[county])).json()["orgs"]
        if listed:
            found[county] = listed[0]["id"]
            continue
        root = await platform.http.post(base, json={"name": f"中共{county}县委", "kind": "county_committee"},
                                        headers=headers[county])
        assert root.status_code == 201, root.text
        found[county] = root.json()["id"]
    return found


def _town(parent: str, name: str) -> bytes:
    return json.dumps({"name": name, "kind": "township_committee", "parent_id": parent}, ensure_ascii=False).encode()


async def _post(platform, county: str, body: bytes, headers: dict[str, str], key: str):
    return await platform.http.post(f"/api/v1/tenants/{county}/orgs", content=body,
                                    headers={**headers, "Content-Type": "application/json", "Idempotency-Key": key})


async def _children_named(platform, county, headers, root, name) -> int:
    reply = await platform.http.get(f"/api/v1/tenants/{county}/orgs/{root}/children", headers=headers)
    assert reply.status_code == 200, reply.text
    return sum(1 for org in reply.json()["orgs"] if org["name"] == name)


async def test_a_repeat_with_the_same_key_gets_the_first_answer_and_founds_one_org(platform, headers, roots):
    county, h = COUNTIES[0], headers[COUNTIES[0]]
    name, key = f"幂等镇党委{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    body = _town(roots[county], name)
    first = await _post(platform, county, body, h, key)
    assert first.status_code == 201, first.text
    assert "idempotency-replayed" not in first.headers
    again = await _post(platform, county, body, h, key)
    assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["cache-control"] == "no-store"  # still passes the edge
    assert await _children_named(platform, county, h, roots[county], name) == 1


async def test_the_same_key_for_another_request_is_422_and_acts_not(platform, headers, roots):
    county, h = COUNTIES[0], headers[COUNTIES[0]]
    key = str(uuid.uuid4())
    first_name, other_name = f"甲镇党委{uuid.uuid4().hex[:6]}", f"乙镇党委{uuid.uuid4().hex[:6]}"
    assert (await _post(platform, county, _town(roots[county], first_name), h, key)).status_code == 201
    reply = await _post(platform, county, _town(roots[county], other_name), h, key)
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["title"] == "幂等键已用于另一请求"
    assert reply.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _children_named(platform, county, h, roots[county], other_name) == 0


async def test_the_same_key_while_the_first_is_answered_is_409_with_retry_after(platform, headers, roots,
                                                                                admin_conn_factory):
    county, h = COUNTIES[0], headers[COUNTIES[0]]
    key, name = str(uuid.uuid4()), f"丙镇党委{uuid.uuid4().hex[:6]}"
    body = _town(roots[county], name)
    # The first request of this key is being answered by (another replica of) the gateway right now.
    conn = await admin_conn_factory("gateway")
    await conn.execute(
        "INSERT INTO idempotency_keys (tenant_id, subject, idempotency_key, method, path, request_hash, claim,"
        " locked_until) VALUES ($1, $2, $3, 'POST', $4, $5, $6, now() + interval '1 minute')",
        county, _user(county), key, f"/api/v1/tenants/{county}/orgs", hashlib.sha256(body).digest(), uuid.uuid4())
    reply = await _post(platform, county, body, h, key)
    assert reply.status_code == 409 and reply.headers["retry-after"] == "1"
    assert reply.json()["title"] == "请求正在处理中"
    assert await _children_named(platform, county, h, roots[county], name) == 0
    # A first request whose gateway went away (its lease over) is run again by the repeat.
    await conn.execute("UPDATE idempotency_keys SET locked_until = now() - interval '1 second'"
                       " WHERE tenant_id = $1 AND idempotency_key = $2", county, key)
    reply = await _post(platform, county, body, h, key)
    assert reply.status_code == 201 and "idempotency-replayed" not in reply.headers
    assert await _children_named(platform, county, h, roots[county], name) == 1


async def test_a_key_is_never_replayed_to_another_county(platform, headers, roots):
    key = str(uuid.uuid4())
    answers = {}
    for county in COUNTIES:
        name = f"同键镇党委{uuid.uuid4().hex[:6]}"
        reply = await _post(platform, county, _town(roots[county], name), headers[county], key)
        assert reply.status_code == 201, reply.text
        assert "idempotency-replayed" not in reply.headers
        answers[county] = reply.json()
        assert await _children_named(platform, county, headers[county], roots[county], name) == 1
    assert answers[COUNTIES[0]]["id"] != answers[COUNTIES[1]]["id"]
    assert {a["tenant_id"] for a in answers.values()} == set(COUNTIES)


async def test_logins_issue_new_tokens_with_a_repeated_key_and_keep_nothing(platform, headers, admin_conn_factory):
    key = str(uuid.uuid4())
    login = {"username": _user(COUNTIES[0]), "password": PASSWORD}
    replies = [await platform.http.post("/api/v1/auth/token", json=login, headers={"Idempotency-Key": key})
               for _ in range(2)]
    assert all(r.status_code == 200 and "idempotency-replayed" not in r.headers for r in replies)
    assert replies[0].json()["access_token"] != replies[1].json()["access_token"]
    assert replies[0].json()["refresh_token"] != replies[1].json()["refresh_token"]
    refresh = {"refresh_token": replies[0].json()["refresh_token"]}
    refreshed = await platform.http.post("/api/v1/auth/refresh", json=refresh, headers={"Idempotency-Key": key})
    assert refreshed.status_code == 200, refreshed.text
    conn = await admin_conn_factory("gateway")
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE path LIKE '/api/v1/auth/%'") == 0
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", key) == 0


async def test_a_refusal_is_not_kept_so_the_corrected_request_runs_with_the_same_key(platform, headers, roots,
                                                                                   admin_conn_factory):
    county, h = COUNTIES[0], headers[COUNTIES[0]]
    key, name = str(uuid.uuid4()), f"更正镇党委{uuid.uuid4().hex[:6]}"
    bad = json.dumps({"name": name, "kind": "township_committee", "parent_id": ""}, ensure_ascii=False).encode()
    first = await _post(platform, county, bad, h, key)
    assert first.status_code == 422 and "parent_id" in {e["field"] for e in first.json()["errors"]}
    # The console resends its form's key once the user has corrected the field named.
    fixed = await _post(platform, county, _town(roots[county], name), h, key)
    assert fixed.status_code == 201 and "idempotency-replayed" not in fixed.headers
    again = await _post(platform, county, _town(roots[county], name), h, key)
    assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"
    assert await _children_named(platform, county, h, roots[county], name) == 1
    # A caller refused for its credential keeps nothing either.
    refused_key = str(uuid.uuid4())
    refused = await _post(platform, county, bad, {"Authorization": "Bearer nope"}, refused_key)
    assert refused.status_code == 401
    conn = await admin_conn_factory("gateway")
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", refused_key) == 0
    # Rows are keyed by the caller's own county, whichever county's path it names.
    assert await conn.fetchval("SELECT array_agg(DISTINCT tenant_id) FROM idempotency_keys WHERE subject = $1",
                               _user(county)) == [county]


async def test_expired_keys_are_new_keys_and_are_pruned(platform, headers, roots, settings_for, admin_conn_factory):
    county, h = COUNTIES[0], headers[COUNTIES[0]]
    key, name = str(uuid.uuid4()), f"过期镇党委{uuid.uuid4().hex[:6]}"
    conn = await admin_conn_factory("gateway")
    await conn.execute(
        "INSERT INTO idempotency_keys (tenant_id, subject, idempotency_key, method, path, request_hash, claim,"
        " status, response_body, created_at) VALUES ($1, $2, $3, 'POST', '/elsewhere', $4, $5, 201, 'old',"
        " now() - interval '25 hours')",
        county, _user(county), key, b"\0" * 32, uuid.uuid4())
    reply = await _post(platform, county, _town(roots[county], name), h, key)
    assert reply.status_code == 201 and "idempotency-replayed" not in reply.headers
    stale = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO idempotency_keys (tenant_id, subject, idempotency_key, method, path, request_hash, claim,"
        " status, created_at) VALUES ($1, 'someone', $2, 'POST', '/x', $3, $4, 201, now() - interval '25 hours')",
        COUNTIES[1], stale, b"\0" * 32, uuid.uuid4())
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    try:
        assert await idempotency.prune(db) >= 1
    finally:
        await db.close()
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", stale) == 0
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", key) == 1
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE created_at < now() - interval '24 hours'") \
        == 0


async def test_the_table_is_tenant_scoped_for_the_gateway_role(platform, headers, roots, settings_for):
    county, h = COUNTIES[0], headers[COUNTIES[0]]
    await _post(platform, county, _town(roots[county], f"隔离镇党委{uuid.uuid4().hex[:6]}"), h, str(uuid.uuid4()))
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    try:
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0  # no county set: no row
        async with db.unit_of_work(tenant=COUNTIES[1]) as uow:
            assert await uow.conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE tenant_id = $1", county) == 0
    finally:
        await db.close()
