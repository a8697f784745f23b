"""Loan applications over HTTP (issue 14): a member applies (201, Location, the same Idempotency-Key files once),
the tiers review it and the bank grants; bad input is a 422 naming the field in Chinese; an ineligible member gets
a 422 listing the failed rules; another county's loan is 404; files go up and come back.

APPLY (650513) holds the rows; FOREIGN (650514) looks at them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from jinqiao.kit.auth import Role
from tests.integration.desk.loan_fixtures import BANK, add_member, add_org, add_programme

APPLY, FOREIGN = "650513", "650514"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\nIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\r\n-\xb4\x00\x00\x00\x00IEND\xaeB`\x82"
BASE = f"/api/v1/tenants/{APPLY}/loans"


def headers(token: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.fixture(scope="module")
async def desk_db(admin_conn_factory):
    return await admin_conn_factory("desk")


async def _setup(desk_db, issuer, **member: Any) -> dict[str, Any]:
    township = await add_org(desk_db, APPLY, name="城关镇党委", kind="TOWNSHIP_COMMITTEE")
    branch = await add_org(desk_db, APPLY, name="城关村党支部", kind="BRANCH", parent=township)
    member_id = await add_member(desk_db, APPLY, home_org_id=branch, **member)
    programme = await add_programme(desk_db, APPLY)
    return {
        "programme": programme, "member": member_id,
        "member_token": issuer.issue(user=f"m-{member_id[:8]}", role=Role.MEMBER, scope=APPLY, member=member_id)[0],
        "branch": issuer.issue(user="sec", role=Role.BRANCH_SECRETARY, scope=APPLY, org=branch)[0],
        "township": issuer.issue(user="tws", role=Role.TOWNSHIP_OFFICER, scope=APPLY, org=township)[0],
        "bank": issuer.issue(user="bank", role=Role.BANK_OFFICER, scope=APPLY, org=BANK)[0],
    }


def _body(programme: str, **changes: Any) -> dict[str, Any]:
    return {"programme_id": programme, "amount_fen": 10_000_000, "term_months": 12, "method": "equal_instalment",
            "purpose": "扩建蔬菜大棚", "business_plan": "新建大棚 5 座", **changes}


async def test_member_applies_over_http_and_the_tiers_and_bank_decide(platform, desk_db, issuer, county_token):
    http, s = platform.http, await _setup(desk_db, issuer)
    key = str(uuid.uuid4())
    created = await http.post(BASE, headers=headers(s["member_token"], key), json=_body(s["programme"]))
    assert created.status_code == 201, created.text
    loan = created.json()
    assert created.headers["Location"] == f"{BASE}/{loan['id']}"
    assert loan["status"] == "submitted" and loan["pending_tier"] == "branch" and loan["channel"] == "member_app"
    assert loan["method"] == "equal_instalment" and loan["amount_fen"] == 10_000_000
    again = await http.post(BASE, headers=headers(s["member_token"], key), json=_body(s["programme"]))
    assert again.status_code == 201 and again.json()["id"] == loan["id"]

    for token in (s["branch"], s["township"], county_token(APPLY)):
        reply = await http.post(f"{BASE}/{loan['id']}/review", headers=headers(token),
                                json={"decision": "approve", "version": loan["version"]})
        assert reply.status_code == 200, reply.text
        loan = reply.json()
    assert loan["status"] == "approved" and loan["pending_tier"] == "bank"
    granted = await http.post(f"{BASE}/{loan['id']}/credit-decision", headers=headers(s["bank"]),
                              json={"decision": "approve", "granted_amount_fen": 9_000_000})
    assert granted.status_code == 200 and granted.json()["status"] == "credit_granted"
    assert granted.json()["granted_amount_fen"] == 9_000_000
    history = await http.get(f"{BASE}/{loan['id']}/history", headers=headers(s["member_token"]))
    assert [h["action"] for h in history.json()] == ["applied", "recommended", "reviewed", "approved",
                                                     "credit_granted"]
    assert history.json()[1]["tier"] == "branch"
    mine = await http.get(BASE, headers=headers(s["member_token"]), params={"status": ["credit_granted"]})
    assert mine.status_code == 200 and [x["id"] for x in mine.json()["loans"]] == [loan["id"]]


async def test_bad_application_is_422_naming_the_fields(platform, desk_db, issuer):
    http, s = platform.http, await _setup(desk_db, issuer)
    bad = await http.post(BASE, headers=headers(s["member_token"]),
                          json=_body(s["programme"], amount_fen=10**15, term_months=0, method="monthly", purpose="x"))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in bad.json()["errors"]} == {"amount_fen", "term_months", "method", "purpose"}
    refuse = await http.post(BASE, headers=headers(s["member_token"]), json=_body(s["programme"]))
    no_reason = await http.post(f"{BASE}/{refuse.json()['id']}/review", headers=headers(s["branch"]),
                                json={"decision": "refuse"})
    assert no_reason.status_code == 422
    error = no_reason.json()["errors"][0]
    assert error["field"] == "reason" and "理由" in error["detail"]
    huge = await http.post(f"{BASE}/{refuse.json()['id']}/review", headers=headers(s["branch"]),
                           json={"decision": "approve", "version": 2**40})
    assert huge.status_code == 422 and huge.json()["errors"][0]["field"] == "version"


async def test_ineligible_member_gets_422_listing_the_failed_rules(platform, desk_db, issuer):
    http, s = platform.http, await _setup(desk_db, issuer, status="MEMBERSHIP_STATUS_PROBATIONARY",
                                          grade="BASICALLY_COMPETENT")
    reply = await http.post(BASE, headers=headers(s["member_token"]), json=_body(s["programme"]))
    assert reply.status_code == 422, reply.text
    errors = {e["field"]: e["detail"] for e in reply.json()["errors"]}
    assert set(errors) == {"eligibility.membership_status", "eligibility.min_grade"}
    assert "预备党员" in errors["eligibility.membership_status"]
    assert await desk_db.fetchval("SELECT count(*) FROM loans WHERE tenant_id = $1 AND member_id = $2", APPLY,
                                  s["member"]) == 0


async def test_another_countys_loan_is_404(platform, desk_db, issuer, county_token):
    http, s = platform.http, await _setup(desk_db, issuer)
    loan = (await http.post(BASE, headers=headers(s["member_token"]), json=_body(s["programme"]))).json()
    foreign = headers(county_token(FOREIGN))
    there = f"/api/v1/tenants/{FOREIGN}/loans/{loan['id']}"
    for reply in (await http.get(there, headers=foreign), await http.get(f"{there}/history", headers=foreign),
                  await http.get(f"{there}/attachments", headers=foreign),
                  await http.post(f"{there}/review", headers=foreign, json={"decision": "approve"}),
                  await http.post(f"{there}/withdraw", headers=foreign, json={})):
        assert reply.status_code == 404, reply.text
    stranger_bank = issuer.issue(user="x", role=Role.BANK_OFFICER, scope=APPLY, org="otherbank")[0]
    assert (await http.get(f"{BASE}/{loan['id']}", headers=headers(stranger_bank))).status_code == 404


async def test_files_go_up_and_come_back_and_the_member_withdraws(platform, desk_db, issuer):
    http, s = platform.http, await _setup(desk_db, issuer)
    loan = (await http.post(BASE, headers=headers(s["member_token"]), json=_body(s["programme"]))).json()
    up = await http.post(f"{BASE}/{loan['id']}/attachments", content=PNG,
                         headers={**headers(s["member_token"]), "Content-Type": "image/png",
                                  "X-File-Name": "UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.png"})
    assert up.status_code == 201, up.text
    assert up.json()["filename"] == "营业执照.png"
    listed = await http.get(f"{BASE}/{loan['id']}/attachments", headers=headers(s["branch"]))
    assert [a["id"] for a in listed.json()] == [up.json()["id"]]
    down = await http.get(up.headers["Location"], headers=headers(s["branch"]))
    assert down.status_code == 200 and down.content == PNG and down.headers["content-type"] == "image/png"
    wrong = await http.post(f"{BASE}/{loan['id']}/attachments", content=b"not a picture",
                            headers={**headers(s["member_token"]), "Content-Type": "image/png"})
    assert wrong.status_code == 422
    gone = await http.post(f"{BASE}/{loan['id']}/withdraw", headers=headers(s["member_token"]),
                           json={"reason": "资金已筹齐"})
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"
    again = await http.post(f"{BASE}/{loan['id']}/withdraw", headers=headers(s["member_token"]), json={})
    assert again.status_code == 409
