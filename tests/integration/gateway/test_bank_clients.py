"""A partner bank's access (issue 14): a county department registers the bank's own system as an API client with its
own credentials, whose tokens act as a bank officer of that bank in that county; and a bank officer logs in to the
console with an account bound to the bank's code."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import jwt
import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.kit.errors import InvalidArgument
from tests.integration.desk.loan_fixtures import BANK, BANK_NAME, add_loan, add_member, add_programme

COUNTY, OTHER, LOANS_COUNTY = "650550", "650551", "650552"
PASSWORD = "bank officer logs in"
OTHER_BANK = "hnnx"


def _admin(county_token: Any, county: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {county_token(county)}"}


async def _register(platform: Any, county_token: Any, county: str, **body: Any) -> Any:
    return await platform.http.post(f"/api/v1/tenants/{county}/integrations/clients",
                                    headers=_admin(county_token, county),
                                    json={"name": f"合作银行信贷系统{uuid.uuid4().hex[:6]}", **body})


async def _exchange(platform: Any, client_id: str, secret: str) -> Any:
    return await platform.http.post("/api/v1/auth/client-token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})


def _claims(token: str) -> dict[str, Any]:
    # Only what the gateway signed is read here; the signature is the verifier's business (it is checked by /me).
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_a_bank_client_is_shown_its_secret_once_and_gets_bank_officer_tokens_of_its_bank(
        platform, county_token, admin_conn_factory):
    made = await _register(platform, county_token, COUNTY, kind="bank", bank_code=BANK)
    assert made.status_code == 201, made.text
    client, secret = made.json()["client"], made.json()["client_secret"]
    assert client["kind"] == "bank" and client["bank_code"] == BANK and client["permissions"] == []
    listed = await platform.http.get(f"/api/v1/tenants/{COUNTY}/integrations/clients",
                                     headers=_admin(county_token, COUNTY))
    shown = next(c for c in listed.json()["clients"] if c["client_id"] == client["client_id"])
    assert shown["kind"] == "bank" and shown["bank_code"] == BANK
    assert secret not in listed.text

    reply = await _exchange(platform, client["client_id"], secret)
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    claims = _claims(token)
    assert claims["role"] == "bank_officer" and claims["org"] == BANK and claims["tenant"] == COUNTY
    assert "perms" not in claims
    assert "loans.bank" in reply.json()["scope"].split()
    me = await platform.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "bank_officer" and me.json()["bank_code"] == BANK

    conn = await admin_conn_factory("gateway")
    acts = await conn.fetch("SELECT action, reason FROM audit_log WHERE object_id = $1", client["client_id"])
    assert [(a["action"], a["reason"]) for a in acts] == [("service_account.create", f"合作银行：{BANK}")]


async def test_a_bank_client_calls_the_http_loan_routes_where_a_county_system_is_refused(
        platform, county_token, admin_conn_factory):
    desk = await admin_conn_factory("desk")
    ours = await add_programme(desk, LOANS_COUNTY, committed_fen=10_000_000)
    theirs = await add_programme(desk, LOANS_COUNTY, bank_code=OTHER_BANK, bank_name="河南农信",
                                 committed_fen=10_000_000)
    member = await add_member(desk, LOANS_COUNTY)
    our_loan = await add_loan(desk, LOANS_COUNTY, programme_id=ours, member_id=member, status=4, pending_tier=4,
                              committed_fen=10_000_000)
    their_loan = await add_loan(desk, LOANS_COUNTY, programme_id=theirs, member_id=member, status=4, pending_tier=4,
                                committed_fen=10_000_000)

    bank = (await _register(platform, county_token, LOANS_COUNTY, kind="bank", bank_code=BANK)).json()
    token = (await _exchange(platform, bank["client"]["client_id"], bank["client_secret"])).json()["access_token"]
    loans = await platform.http.get(f"/api/v1/tenants/{LOANS_COUNTY}/loans",
                                    headers={"Authorization": f"Bearer {token}"})
    assert loans.status_code not in (401, 403), loans.text
    me = await platform.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["bank_code"] == BANK and me.json()["bank_name"] in (BANK_NAME, None)
    document = (await platform.http.get("/api/openapi.json")).json()
    if "/api/v1/tenants/{tenant}/loan-programmes" in document["paths"]:
        assert me.json()["bank_name"] == BANK_NAME  # as the county's programme with the bank names it
    if "/api/v1/tenants/{tenant}/loans" in document["paths"]:
        assert loans.status_code == 200, loans.text  # the bank's loans, and only those
        assert our_loan in loans.text and their_loan not in loans.text
    if "/api/v1/tenants/{tenant}/loans/{loan_id}/credit-decision" in document["paths"]:
        bearer_ = {"Authorization": f"Bearer {token}"}
        decision = {"decision": "approve", "granted_amount_fen": 10_000_000}
        theirs = await platform.http.post(f"/api/v1/tenants/{LOANS_COUNTY}/loans/{their_loan}/credit-decision",
                                          json=decision, headers=bearer_)
        assert theirs.status_code == 404, theirs.text  # another bank's loan does not exist for this bank
        ours = await platform.http.post(f"/api/v1/tenants/{LOANS_COUNTY}/loans/{our_loan}/credit-decision",
                                        json=decision, headers=bearer_)
        assert ours.status_code == 200, ours.text
        assert ours.json()["status"] == "credit_granted"

    system = (await _register(platform, county_token, LOANS_COUNTY, permissions=["members.read"])).json()
    assert system["client"]["kind"] == "county_system" and system["client"]["bank_code"] is None
    system_token = (await _exchange(platform, system["client"]["client_id"],
                                    system["client_secret"])).json()["access_token"]
    # A county system calls gRPC only: every HTTP route refuses it, whatever its token names.
    for path in ("members", "loans"):
        refused = await platform.http.get(f"/api/v1/tenants/{LOANS_COUNTY}/{path}",
                                          headers={"Authorization": f"Bearer {system_token}"})
        expected = 403 if f"/api/v1/tenants/{{tenant}}/{path}" in document["paths"] else 404
        assert refused.status_code == expected, (path, refused.text)


async def test_a_disabled_bank_client_gets_no_token_and_a_rotated_one_a_new_secret(platform, county_token):
    bank = (await _register(platform, county_token, COUNTY, kind="bank", bank_code="gsrcb-2")).json()
    client_id = bank["client"]["client_id"]
    rotated = await platform.http.post(f"/api/v1/tenants/{COUNTY}/integrations/clients/{client_id}/rotate-secret",
                                       headers=_admin(county_token, COUNTY))
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["client"]["kind"] == "bank"
    fresh = await _exchange(platform, client_id, rotated.json()["client_secret"])
    assert fresh.status_code == 200 and _claims(fresh.json()["access_token"])["org"] == "gsrcb-2"
    disabled = await platform.http.post(f"/api/v1/tenants/{COUNTY}/integrations/clients/{client_id}/disable",
                                        headers=_admin(county_token, COUNTY))
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = await _exchange(platform, client_id, rotated.json()["client_secret"])
    assert refused.status_code == 401


async def test_another_county_neither_sees_nor_rotates_nor_disables_a_bank_client(platform, county_token):
    bank = (await _register(platform, county_token, COUNTY, kind="bank", bank_code=BANK)).json()
    client_id = bank["client"]["client_id"]
    theirs = await platform.http.get(f"/api/v1/tenants/{OTHER}/integrations/clients",
                                     headers=_admin(county_token, OTHER))
    assert theirs.status_code == 200 and client_id not in theirs.text
    for action in ("rotate-secret", "disable"):
        # Their own path with our client's id: no such client in their county.
        reply = await platform.http.post(f"/api/v1/tenants/{OTHER}/integrations/clients/{client_id}/{action}",
                                         headers=_admin(county_token, OTHER))
        assert reply.status_code == 404, (action, reply.text)
        # Our path with their token: our county does not exist for them.
        reply = await platform.http.post(f"/api/v1/tenants/{COUNTY}/integrations/clients/{client_id}/{action}",
                                         headers=_admin(county_token, OTHER))
        assert reply.status_code == 404, (action, reply.text)
    still = await _exchange(platform, client_id, bank["client_secret"])
    assert still.status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"kind": "bank", "bank_code": "GSRCB"}, "bank_code"),
    ({"kind": "bank", "bank_code": "g"}, "bank_code"),
    ({"kind": "bank", "bank_code": "农商行"}, "bank_code"),
    ({"kind": "bank"}, "bank_code"),
    ({"kind": "bank", "bank_code": BANK, "permissions": ["members.read"]}, "permissions"),
    ({"permissions": ["members.read"], "bank_code": BANK}, "bank_code"),
    ({"kind": "bank_system", "bank_code": BANK}, "kind"),
])
async def test_a_bank_client_with_a_bad_bank_code_is_refused_naming_the_field(platform, county_token, body, field):
    reply = await _register(platform, county_token, COUNTY, **body)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["detail"] for e in reply.json()["errors"]}
    assert field in errors, errors
    assert any("\u4e00" <= ch <= "\u9fff" for ch in errors[field]), errors


async def test_a_bank_officer_logs_in_to_the_console_with_a_token_naming_its_bank(platform, settings_for):
    settings = settings_for("gateway")
    db = await Database.connect(settings.database_url, min_size=1, max_size=1)
    username = f"bank-{uuid.uuid4().hex[:8]}"
    try:
        await upsert_account(db=db, account=Account(username=username, role=Role.BANK_OFFICER, scope=COUNTY,
                                                    acting_tenant=COUNTY, acting_org=BANK), password=PASSWORD)
        with pytest.raises(InvalidArgument) as caught:
            await upsert_account(db=db, account=Account(username=f"{username}-x", role=Role.BANK_OFFICER,
                                                        scope=COUNTY, acting_tenant=COUNTY, acting_org="Not A Code"),
                                 password=PASSWORD)
        assert [v.field for v in caught.value.violations] == ["acting_org"]
    finally:
        await db.close()
    login = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    claims = _claims(login.json()["access_token"])
    assert (claims["role"], claims["org"], claims["tenant"]) == ("bank_officer", BANK, COUNTY)
    refreshed = await platform.http.post("/api/v1/auth/refresh",
                                         json={"refresh_token": login.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert _claims(refreshed.json()["access_token"])["org"] == BANK
    me = await platform.http.get("/api/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["bank_code"] == me.json()["org"] == BANK and me.json()["tenant"] == COUNTY
    # A bank officer holds no Party roster: the members route refuses it.
    members = await platform.http.get(f"/api/v1/tenants/{COUNTY}/members",
                                      headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert members.status_code == 403


async def test_the_database_refuses_a_bank_client_without_a_bank_code_or_with_permissions(admin_conn_factory):
    conn = await admin_conn_factory("gateway")
    rows = [("bank", None, []), ("bank", "gsrcb", ["members.read"]), ("bank", "GSRCB", []),
            ("county_system", "gsrcb", ["members.read"]), ("partner", None, [])]
    for kind, code, permissions in rows:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO service_accounts (tenant_id, client_id, name, permissions, secret_hash, created_by,"
                " kind, bank_code) VALUES ($1, $2, 'x', $3, 'h', 't', $4, $5)",
                COUNTY, f"jq-{COUNTY}-{uuid.uuid4().hex[:16]}", permissions, kind, code)
