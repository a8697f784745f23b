"""Flows and the member record over HTTP: problem+json naming fields, cross-county 404, members' own views."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import timers
from tests.integration.conftest import eventually
from tests.support import member_json

PASSWORD = "flows over http"
ORIGIN, OTHER = "411502", "411521"


@pytest.fixture(scope="module")
async def headers(platform, settings_for):
    settings = settings_for("gateway")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    for code in (ORIGIN, OTHER):
        await upsert_account(db=db, account=Account(username=f"f-county-{code}", role=Role.COUNTY_ADMIN, scope=code,
                                                    acting_tenant=code), password=PASSWORD)
    await upsert_account(db=db, account=Account(username="f-city-4115", role=Role.CITY_ANALYST, scope="4115",
                                                acting_tenant=None), password=PASSWORD)
    await db.close()

    async def login(username: str) -> dict[str, str]:
        reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    return {"origin": await login(f"f-county-{ORIGIN}"), "other": await login(f"f-county-{OTHER}"),
            "city": await login("f-city-4115")}


async def new_member(platform, headers, **overrides) -> dict:
    reply = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members", json=member_json(ORIGIN, **overrides),
                                     headers=headers["origin"])
    assert reply.status_code == 201, reply.text
    return reply.json()


OUTFLOW = {"destination_code": "420100", "address": "武汉市江汉区", "industry": "物流", "start_date": "2026-11-01",
           "expected_months": 6}


async def test_an_outflow_over_http_issues_the_certificate_and_letter(platform, headers):
    member = await new_member(platform, headers)
    reply = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows", json=OUTFLOW,
                                     headers={**headers["origin"], "Idempotency-Key": f"flow-{member['id']}"})
    assert reply.status_code == 201, reply.text
    flow = reply.json()
    assert reply.headers["location"].endswith(flow["id"])
    assert flow["destination_name"] == "武汉市" and flow["out_of_province"] and flow["status"] == "registered"
    assert flow["certificate_serial"].startswith(f"{ORIGIN}-") and flow["certificate_serial"] in flow["letter"]
    assert member["id_number_masked"] in flow["letter"] and "*" in flow["contact_phone_masked"]
    again = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows", json=OUTFLOW,
                                     headers={**headers["origin"], "Idempotency-Key": f"flow-{member['id']}"})
    assert again.status_code == 201 and again.json()["id"] == flow["id"]
    listed = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/flows?destination_code=420100",
                                     headers=headers["origin"])
    assert flow["id"] in {f["id"] for f in listed.json()["flows"]}
    answered = await eventually(lambda: _status(platform, headers, flow["id"], {"offered", "refused"}))
    assert answered["status"] in {"offered", "refused"}


async def _status(platform, headers, flow_id: str, wanted: set[str]) -> dict | None:
    body = (await platform.http.get(f"/api/v1/tenants/{ORIGIN}/flows/{flow_id}", headers=headers["origin"])).json()
    return body if body["status"] in wanted else None


async def test_a_bad_outflow_is_422_naming_the_fields(platform, headers):
    member = await new_member(platform, headers)
    reply = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows",
                                     json={**OUTFLOW, "destination_code": "999999", "start_date": "2026-02-30"},
                                     headers=headers["origin"])
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in reply.json()["errors"]} == {"destination_code", "start_date"}
    missing = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows",
                                       json={"destination_code": "420100"}, headers=headers["origin"])
    assert missing.status_code == 422
    assert {"address", "industry", "start_date", "expected_months"} <= {e["field"] for e in missing.json()["errors"]}


async def test_another_countys_member_and_flow_are_404(platform, headers):
    member = await new_member(platform, headers)
    flow = (await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows", json=OUTFLOW,
                                     headers=headers["origin"])).json()
    other = headers["other"]
    for method, path, body in (
        ("GET", f"/api/v1/tenants/{OTHER}/flows/{flow['id']}", None),
        ("GET", f"/api/v1/tenants/{ORIGIN}/flows/{flow['id']}", None),
        ("POST", f"/api/v1/tenants/{OTHER}/flows/{flow['id']}/return", {}),
        ("POST", f"/api/v1/tenants/{OTHER}/members/{member['id']}/flows", OUTFLOW),
        ("PATCH", f"/api/v1/tenants/{OTHER}/members/{member['id']}", {"version": 1, "township": "x"}),
        ("GET", f"/api/v1/tenants/{OTHER}/members/{member['id']}/history", None),
        ("POST", f"/api/v1/tenants/{OTHER}/members/{member['id']}/reveal-id-number", {"reason": "核对身份信息"}),
        ("GET", f"/api/v1/tenants/{OTHER}/members/{member['id']}/activities", None),
        ("GET", f"/api/v1/tenants/{OTHER}/members/{member['id']}/evaluations", None),
        ("POST", f"/api/v1/tenants/{OTHER}/members/{member['id']}/evaluations", {"year": 2025, "grade": "competent"}),
        ("GET", f"/api/v1/tenants/{OTHER}/members/{member['id']}/flows", None),
        ("POST", f"/api/v1/tenants/{OTHER}/flows/{flow['id']}/redirect", {"employer": "新单位"}),
        ("POST", f"/api/v1/tenants/{OTHER}/flows/{flow['id']}/report-back", {}),
        ("POST", f"/api/v1/tenants/{OTHER}/flows/{flow['id']}/transfer", {}),
        ("GET", f"/api/v1/tenants/{ORIGIN}/returnees", None),
        ("GET", f"/api/v1/tenants/{ORIGIN}/flow-alerts", None),
    ):
        reply = await platform.http.request(method, path, json=body, headers=other)
        assert reply.status_code == 404, (method, path, reply.text)
    # Analysts see aggregates, never a flow.
    city = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/flows", headers=headers["city"])
    assert city.status_code == 404


async def test_an_update_keeps_its_history_and_refuses_a_stale_version(platform, headers):
    member = await new_member(platform, headers)
    path = f"/api/v1/tenants/{ORIGIN}/members/{member['id']}"
    changed = await platform.http.patch(path, json={"version": 1, "township": "游河乡", "phone": "13600001234",
                                                    "education": "大学本科"}, headers=headers["origin"])
    assert changed.status_code == 200, changed.text
    assert changed.json()["township"] == "游河乡" and changed.json()["phone_masked"] == "136****1234"
    assert changed.json()["version"] == 2
    stale = await platform.http.patch(path, json={"version": 1, "township": "城关镇"}, headers=headers["origin"])
    assert stale.status_code == 409
    bad = await platform.http.patch(path, json={"version": 2, "education": "博士后", "join_date": "2999-01-01"},
                                    headers=headers["origin"])
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"education", "join_date"}
    history = (await platform.http.get(f"{path}/history", headers=headers["origin"])).json()
    assert [c["version"] for c in history] == [2]
    fields = {f["field"]: f for f in history[0]["fields"]}
    assert fields["phone"]["new_value"] == "136****1234" and "13600001234" not in str(history)
    assert fields["township"]["old_value"] == member["township"]


async def test_revealing_an_id_number_needs_a_reason_and_is_audited(platform, headers, admin_conn_factory):
    member = await new_member(platform, headers)
    path = f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/reveal-id-number"
    short = await platform.http.post(path, json={"reason": "看"}, headers=headers["origin"])
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "reason"
    shown = await platform.http.post(path, json={"reason": "办理组织关系转接，核对身份"}, headers=headers["origin"])
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert shown.json()["id_number"][:6] == ORIGIN and "*" not in shown.json()["id_number"]
    conn = await admin_conn_factory("registry")
    audit = await conn.fetchrow("SELECT action, reason FROM audit_log WHERE tenant_id = $1 AND object_id = $2"
                                " ORDER BY seq DESC LIMIT 1", ORIGIN, member["id"])
    assert tuple(audit) == ("member.reveal_id_number", "办理组织关系转接，核对身份")


async def test_search_by_id_number_name_and_away(platform, headers):
    member = await new_member(platform, headers, name="欧阳明远")
    number = (await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/reveal-id-number",
                                       json={"reason": "测试按身份证号查询"}, headers=headers["origin"])).json()
    by_number = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/members",
                                        params={"id_number": number["id_number"]}, headers=headers["origin"])
    assert [m["id"] for m in by_number.json()["members"]] == [member["id"]]
    by_name = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/members", params={"name": "阳明"},
                                      headers=headers["origin"])
    assert member["id"] in {m["id"] for m in by_name.json()["members"]}
    await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows",
                             json={**OUTFLOW, "destination_code": "330100", "address": "杭州市"},
                             headers=headers["origin"])
    away = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/members",
                                   params={"away": "true", "destination_code": "330100"}, headers=headers["origin"])
    assert member["id"] in {m["id"] for m in away.json()["members"]}
    assert all(m["destination_name"] == "杭州市" for m in away.json()["members"])
    flows = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows",
                                    headers=headers["origin"])
    assert [f["destination_code"] for f in flows.json()["flows"]] == ["330100"]
    bad = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/members", params={"id_number": "411502"},
                                  headers=headers["origin"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "id_number"


async def test_the_policy_over_http(platform, headers):
    path = f"/api/v1/tenants/{OTHER}/flow-policy"
    current = (await platform.http.get(path, headers=headers["other"])).json()
    assert current["check_in_days"] == 30 and current["is_default"]
    bad = await platform.http.put(path, json={**current, "check_in_days": 0}, headers=headers["other"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "check_in_days"
    foreign = await platform.http.get(f"/api/v1/tenants/{OTHER}/flow-policy", headers=headers["origin"])
    assert foreign.status_code == 404


async def test_the_home_assessment_merges_with_the_destinations(platform, headers):
    member = await new_member(platform, headers)
    path = f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/evaluations"
    home = await platform.http.post(path, json={"year": 2025, "grade": "excellent", "comment": "按时汇报思想"},
                                    headers=headers["origin"])
    assert home.status_code == 200, home.text
    assert home.json()["home_grade"] == "excellent" and not home.json()["complete"]
    assert home.json()["final_grade"] == "excellent"
    bad = await platform.http.post(path, json={"year": 2025, "grade": "great"}, headers=headers["origin"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "grade"
    listed = (await platform.http.get(path, headers=headers["origin"])).json()
    assert [e["year"] for e in listed] == [2025]


# ------------------------------------------------------------------------------------------------ 预警 cases

A_COUNTY, B_COUNTY = "650335", "650336"  # this helper's counties: 650331–650339


@pytest.fixture(scope="module")
async def alert_headers(platform, settings_for):
    settings = settings_for("gateway")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    accounts = {"a": Account(username="al-county-a", role=Role.COUNTY_ADMIN, scope=A_COUNTY, acting_tenant=A_COUNTY),
                "b": Account(username="al-county-b", role=Role.COUNTY_ADMIN, scope=B_COUNTY, acting_tenant=B_COUNTY),
                "station": Account(username="al-station-a", role=Role.STATION_STAFF, scope=A_COUNTY,
                                   acting_tenant=A_COUNTY, acting_org=str(uuid.uuid4()))}
    for account in accounts.values():
        await upsert_account(db=db, account=account, password=PASSWORD)
    await db.close()
    out = {}
    for key, account in accounts.items():
        reply = await platform.http.post("/api/v1/auth/token",
                                         json={"username": account.username, "password": PASSWORD})
        out[key] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    return out


async def _overdue_case(platform, settings_for, headers: dict) -> dict:
    """A member of county A who left 90 days ago and never checked in: every level of 报到逾期 has fired."""
    member = (await platform.http.post(f"/api/v1/tenants/{A_COUNTY}/members", json=member_json(A_COUNTY),
                                       headers=headers["a"])).json()
    start = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    flow = (await platform.http.post(f"/api/v1/tenants/{A_COUNTY}/members/{member['id']}/flows",
                                     json={**OUTFLOW, "start_date": start, "expected_months": 12},
                                     headers=headers["a"])).json()
    settings = settings_for("registry")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        deps = RegistryDeps(db=db, cipher=FieldCipher.from_settings(settings),
                            blind_index=BlindIndex.from_settings(settings), clock=lambda: datetime.now(UTC))
        await timers.sweep_county(deps=deps, tenant=A_COUNTY, now=datetime.now(UTC))
    finally:
        await db.close()
    listed = (await platform.http.get(f"/api/v1/tenants/{A_COUNTY}/alerts?timer=check_in_overdue&page_size=200",
                                      headers=headers["a"])).json()
    return next(c for c in listed["items"] if c["flow_id"] == flow["id"])


async def test_alert_cases_over_http_are_acknowledged_closed_once_and_404_elsewhere(platform, settings_for,
                                                                                   alert_headers):
    case = await _overdue_case(platform, settings_for, alert_headers)
    assert case["level"] == 3 and [lv["level"] for lv in case["levels"]] == [1, 2, 3]
    assert case["state"] == "open" and case["timer"] == "check_in_overdue" and case["destination_code"] == "420100"
    base = f"/api/v1/tenants/{A_COUNTY}/alerts"
    counted = (await platform.http.get(f"{base}?page_size=0", headers=alert_headers["a"])).json()
    assert counted["items"] == [] and counted["total"] >= 1
    for path in (f"/api/v1/tenants/{B_COUNTY}/alerts/{case['id']}/close",
                 f"/api/v1/tenants/{A_COUNTY}/alerts/{case['id']}/close"):
        reply = await platform.http.post(path, json={"note": "越界办结"}, headers=alert_headers["b"])
        assert reply.status_code == 404, (path, reply.text)
    assert (await platform.http.get(base, headers=alert_headers["station"])).status_code == 403
    ack = await platform.http.post(f"{base}/{case['id']}/acknowledge", json={}, headers=alert_headers["a"])
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    assert ack.json()["acknowledged_by"] == "al-county-a"
    empty = await platform.http.post(f"{base}/{case['id']}/close", json={"note": "  "}, headers=alert_headers["a"])
    assert empty.status_code == 422 and [e["field"] for e in empty.json()["errors"]] == ["note"]
    closed = await platform.http.post(f"{base}/{case['id']}/close", json={"note": "已联系流入地党组织，督促报到"},
                                      headers=alert_headers["a"])
    assert closed.status_code == 200 and closed.json()["state"] == "closed" and closed.json()["closed_at"]
    again = await platform.http.post(f"{base}/{case['id']}/close", json={"note": "再次办结"},
                                     headers=alert_headers["a"])
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    active = (await platform.http.get(f"{base}?page_size=200", headers=alert_headers["a"])).json()
    assert case["id"] not in {c["id"] for c in active["items"]}
    done = (await platform.http.get(f"{base}?state=closed&page_size=200", headers=alert_headers["a"])).json()
    assert case["id"] in {c["id"] for c in done["items"]}
