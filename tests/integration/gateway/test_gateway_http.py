"""The gateway over real HTTP: login, tokens, members, insights, problem+json, tenancy."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from tests.integration.conftest import eventually
from tests.support import member_json, wrong_check_digit

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
async def accounts(settings_for):
    settings = settings_for("gateway")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    for account in (
        Account(username="t-county-411525", role=Role.COUNTY_ADMIN, scope="411525", acting_tenant="411525"),
        Account(username="t-county-411503", role=Role.COUNTY_ADMIN, scope="411503", acting_tenant="411503"),
        Account(username="t-county-410104", role=Role.COUNTY_ADMIN, scope="410104", acting_tenant="410104"),
        Account(username="t-province", role=Role.PROVINCE_ANALYST, scope="41", acting_tenant=None),
        Account(username="t-city-4101", role=Role.CITY_ANALYST, scope="4101", acting_tenant=None),
    ):
        await upsert_account(db=db, account=account, password=PASSWORD)
    await db.close()


async def login(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_login_and_me(platform, accounts):
    headers = await login(platform, "t-county-411525")
    me = (await platform.http.get("/api/v1/me", headers=headers)).json()
    assert me == {"user": "t-county-411525", "role": "county_admin", "scope": "411525", "scope_name": "固始县",
                  "tenant": "411525", "org": None, "member": None}


async def test_wrong_password_is_401_problem(platform, accounts):
    reply = await platform.http.post("/api/v1/auth/token", json={"username": "t-province", "password": "nope"})
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/problem+json")


async def test_missing_login_field_is_422_naming_it(platform):
    reply = await platform.http.post("/api/v1/auth/token", json={"username": "x"})
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in reply.json()["errors"]] == ["password"]


async def test_member_created_over_http_is_masked_everywhere(platform, accounts):
    headers = await login(platform, "t-county-411525")
    body = member_json("411525")
    created = await platform.http.post("/api/v1/tenants/411525/members", json=body, headers=headers)
    assert created.status_code == 201, created.text
    member = created.json()
    assert member["id_number_masked"] == body["id_number"][:4] + "**********" + body["id_number"][-4:]
    assert member["phone_masked"] == "139****1234"
    assert created.headers["location"] == f"/api/v1/tenants/411525/members/{member['id']}"
    fetched = await platform.http.get(created.headers["location"], headers=headers)
    assert fetched.status_code == 200 and fetched.json() == member
    listed = await platform.http.get("/api/v1/tenants/411525/members?page_size=200", headers=headers)
    assert member["id"] in {m["id"] for m in listed.json()["members"]}
    for text in (created.text, fetched.text, listed.text):
        assert body["id_number"] not in text and "13900001234" not in text


async def test_foreign_county_member_is_404_over_http(platform, accounts):
    own = await login(platform, "t-county-411525")
    other = await login(platform, "t-county-411503")
    created = (await platform.http.post("/api/v1/tenants/411525/members", json=member_json("411525"),
                                        headers=own)).json()
    as_path = await platform.http.get(f"/api/v1/tenants/411525/members/{created['id']}", headers=other)
    as_own_path = await platform.http.get(f"/api/v1/tenants/411503/members/{created['id']}", headers=other)
    listing = await platform.http.get("/api/v1/tenants/411525/members", headers=other)
    assert (as_path.status_code, as_own_path.status_code, listing.status_code) == (404, 404, 404)


async def test_bad_check_digit_is_422_naming_id_number(platform, accounts):
    headers = await login(platform, "t-county-411525")
    body = member_json("411525")
    body["id_number"] = wrong_check_digit(body["id_number"])
    reply = await platform.http.post("/api/v1/tenants/411525/members", json=body, headers=headers)
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == ["id_number"]


async def test_unknown_membership_status_is_422_naming_the_field(platform, accounts):
    headers = await login(platform, "t-county-411525")
    reply = await platform.http.post("/api/v1/tenants/411525/members",
                                     json=member_json("411525", membership_status="honorary"), headers=headers)
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["membership_status"]


async def test_idempotency_key_makes_a_retry_safe(platform, accounts):
    headers = {**await login(platform, "t-county-411525"), "Idempotency-Key": f"http-retry-{time.time_ns()}"}
    body = member_json("411525")
    first = await platform.http.post("/api/v1/tenants/411525/members", json=body, headers=headers)
    second = await platform.http.post("/api/v1/tenants/411525/members", json=body, headers=headers)
    assert first.json()["id"] == second.json()["id"]


async def test_province_sees_counts_that_follow_registrations(platform, accounts):
    province = await login(platform, "t-province")
    county = await login(platform, "t-county-410104")

    async def total() -> int:
        reply = await platform.http.get("/api/v1/scopes/41/insights/members", headers=province)
        assert reply.status_code == 200
        body = reply.json()
        assert body["scope_name"] == "河南省"
        return next((c["members"] for c in body["counties"] if c["tenant_id"] == "410104"), 0)

    async def registered() -> int:
        count, token = 0, ""
        while True:
            page = (await platform.http.get("/api/v1/tenants/410104/members",
                                            params={"page_size": 200, "page_token": token}, headers=county)).json()
            count += len(page["members"])
            token = page["next_page_token"]
            if not token:
                return count

    # The province sees fewer than 3 members as "<3" (small-cell suppression): start above that.
    while await registered() < 3:
        extra = await platform.http.post("/api/v1/tenants/410104/members", json=member_json("410104"), headers=county)
        assert extra.status_code == 201, extra.text

    # Other tests register members here too: start once the counter has caught up with the registry.
    async def caught_up() -> bool:
        return await total() == await registered()

    await eventually(caught_up)
    before = await total()
    created = await platform.http.post("/api/v1/tenants/410104/members", json=member_json("410104"), headers=county)
    assert created.status_code == 201

    async def grew() -> bool:
        return await total() == before + 1

    await eventually(grew)


async def test_scope_outside_the_caller_is_404(platform, accounts):
    city = await login(platform, "t-city-4101")
    assert (await platform.http.get("/api/v1/scopes/4115/insights/members", headers=city)).status_code == 404
    assert (await platform.http.get("/api/v1/scopes/41/insights/members", headers=city)).status_code == 404
    assert (await platform.http.get("/api/v1/scopes/4101/insights/members", headers=city)).status_code == 200


async def test_province_analyst_gets_no_persons(platform, accounts):
    province = await login(platform, "t-province")
    assert (await platform.http.get("/api/v1/tenants/411525/members", headers=province)).status_code == 404


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "x", "role": "county_admin", "scope": "411525", "iss": "jinqiao", "aud": "jinqiao",
              "iat": now, "nbf": now, "exp": now + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "case", ["missing", "expired", "alg_none", "other_audience", "other_issuer", "no_exp", "forged_key"]
)
async def test_bad_tokens_are_refused(platform, secrets, case):
    from jinqiao.kit.auth import generate_signing_keypair

    private = secrets.jwt_private.read_bytes()
    tokens = {
        "missing": None,
        "expired": jwt.encode(_claims(exp=int(time.time()) - 60, iat=int(time.time()) - 120,
                                      nbf=int(time.time()) - 120), private, algorithm="EdDSA"),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
        "other_audience": jwt.encode(_claims(aud="someone-else"), private, algorithm="EdDSA"),
        "other_issuer": jwt.encode(_claims(iss="mallory"), private, algorithm="EdDSA"),
        "no_exp": jwt.encode(_claims(exp=None), private, algorithm="EdDSA"),
        "forged_key": jwt.encode(_claims(), generate_signing_keypair()[0], algorithm="EdDSA"),
    }
    token = tokens[case]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = await platform.http.get("/api/v1/tenants/411525/members", headers=headers)
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.headers["www-authenticate"] == "Bearer"
