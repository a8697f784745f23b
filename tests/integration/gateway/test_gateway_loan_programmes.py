"""Loan programmes over HTTP (issue 14): the county creates one (201 with Location, the same Idempotency-Key
returns it), reads, lists and replaces it (409 on a stale version); bad input is a 422 problem naming the field in
Chinese; another county's programme is 404; a member checks their eligibility rule by rule.

PLAIN (650507) creates and edits; BAD (650508) sends bad input; FOREIGN (650509) looks at PLAIN's programme.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.desk.loan_fixtures import BANK, add_member, member_md

PLAIN, BAD, FOREIGN = "650507", "650508", "650509"
BODY: dict[str, Any] = {
    "name": "党员先锋贷", "product": "pioneer", "bank_code": BANK, "bank_name": "固始农商银行", "rate_bp": 435,
    "total_quota_fen": 500_000_000, "window_start": "2026-01-01", "methods": ["equal_instalment", "interest_only"],
    "rules": {"min_party_years": 3, "min_grade": "COMPETENT", "min_age": 18, "max_age": 60},
}


def headers(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.fixture(scope="module")
async def desk_db(admin_conn_factory):
    return await admin_conn_factory("desk")


async def test_county_creates_reads_lists_and_replaces_a_programme(platform, county_token):
    http, token = platform.http, county_token(PLAIN)
    base = f"/api/v1/tenants/{PLAIN}/loan-programmes"
    key = str(uuid.uuid4())
    created = await http.post(base, headers=headers(token, key), json=BODY)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"] == f"{base}/{body['id']}"
    assert body["product"] == "pioneer" and body["sponsor"] == "county" and body["active"]
    assert body["cap_per_person_fen"] == 30_000_000 and body["max_term_months"] == 36
    assert body["methods"] == ["equal_instalment", "interest_only"]
    assert body["rules"]["min_grade"] == "COMPETENT" and body["rules"]["require_no_overdue"]
    again = await http.post(base, headers=headers(token, key), json=BODY)
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    got = await http.get(f"{base}/{body['id']}", headers=headers(token))
    assert got.status_code == 200 and got.json() == body
    listed = await http.get(base, headers=headers(token), params={"open_only": "true"})
    assert listed.status_code == 200 and body["id"] in [p["id"] for p in listed.json()]
    put = await http.put(f"{base}/{body['id']}", headers=headers(token),
                         json={**BODY, "name": "党员先锋贷（二期）", "active": False, "version": 1})
    assert put.status_code == 200, put.text
    assert (put.json()["name"], put.json()["active"], put.json()["version"]) == ("党员先锋贷（二期）", False, 2)
    stale = await http.put(f"{base}/{body['id']}", headers=headers(token), json={**BODY, "version": 1})
    assert stale.status_code == 409 and stale.headers["content-type"].startswith("application/problem+json")
    closed = await http.get(base, headers=headers(token), params={"open_only": "true"})
    assert body["id"] not in [p["id"] for p in closed.json()]


async def test_bad_input_is_a_problem_naming_the_field_in_chinese(platform, county_token):
    http, token = platform.http, county_token(BAD)
    base = f"/api/v1/tenants/{BAD}/loan-programmes"
    # The service's rules: the least amount above the cap, a subsidy above the rate.
    reply = await http.post(base, headers=headers(token),
                            json={**BODY, "min_amount_fen": 40_000_000, "subsidy_bp": 500})
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert {f["field"] for f in problem["errors"]} == {"programme.min_amount_fen", "programme.subsidy_bp"}
    assert "最低申请金额" in problem["detail"] and "贴息（基点）" in problem["detail"]
    # The wire's bounds: an amount beyond any int64, an unknown product, a date that is none.
    for bad, field in (({"total_quota_fen": 2**70}, "total_quota_fen"), ({"product": "mortgage"}, "product"),
                       ({"window_start": "2026-02-30"}, "window_start"), ({"rate_bp": 10_001}, "rate_bp")):
        wrong = await http.post(base, headers=headers(token), json={**BODY, **bad})
        assert wrong.status_code == 422, wrong.text
        assert field in {f["field"] for f in wrong.json()["errors"]}
    listed = await http.get(base, headers=headers(token))
    assert listed.json() == []


async def test_another_countys_programme_is_404(platform, county_token):
    http = platform.http
    created = await http.post(f"/api/v1/tenants/{PLAIN}/loan-programmes", headers=headers(county_token(PLAIN)),
                              json={**BODY, "name": "本县的先锋贷"})
    assert created.status_code == 201
    programme_id = created.json()["id"]
    other = headers(county_token(FOREIGN))
    seen = await http.get(f"/api/v1/tenants/{FOREIGN}/loan-programmes/{programme_id}", headers=other)
    assert seen.status_code == 404 and seen.headers["content-type"].startswith("application/problem+json")
    put = await http.put(f"/api/v1/tenants/{FOREIGN}/loan-programmes/{programme_id}", headers=other,
                         json={**BODY, "version": 1})
    assert put.status_code == 404
    # Naming the other county in the path does not help.
    across = await http.get(f"/api/v1/tenants/{PLAIN}/loan-programmes/{programme_id}", headers=other)
    assert across.status_code in (403, 404)
    check = await http.post(f"/api/v1/tenants/{FOREIGN}/loan-programmes/{programme_id}/eligibility", headers=other,
                            json={"member_id": str(uuid.uuid4()), "amount_fen": 10_000_000, "term_months": 12})
    assert check.status_code == 404


async def test_a_member_checks_eligibility_rule_by_rule(platform, county_token, issuer, desk_db):
    http = platform.http
    created = await http.post(f"/api/v1/tenants/{PLAIN}/loan-programmes", headers=headers(county_token(PLAIN)),
                              json={**BODY, "name": "资格检查用先锋贷"})
    programme_id = created.json()["id"]
    member_id = await add_member(desk_db, PLAIN, grade="BASICALLY_COMPETENT")
    token = member_md(issuer, PLAIN, member_id)[0][1].removeprefix("Bearer ")
    reply = await http.post(f"/api/v1/tenants/{PLAIN}/loan-programmes/{programme_id}/eligibility",
                            headers=headers(token), json={"amount_fen": 30_000_000, "term_months": 36})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["eligible"] is False
    by_rule = {r["rule"]: r for r in body["results"]}
    assert by_rule["min_grade"]["passed"] is False and "基本合格" in by_rule["min_grade"]["detail"]
    assert by_rule["amount"]["passed"] and by_rule["amount"]["detail"] == "申请 30 万元，已占用 0 元，上限 30 万元"
    too_much = await http.post(f"/api/v1/tenants/{PLAIN}/loan-programmes/{programme_id}/eligibility",
                               headers=headers(token), json={"amount_fen": 0, "term_months": 36})
    assert too_much.status_code == 422 and "amount_fen" in {f["field"] for f in too_much.json()["errors"]}
