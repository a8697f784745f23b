"""The org tree over HTTP: founding, tree views, moves, problem+json, and another county's tree is 404."""

from __future__ import annotations

import uuid

import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database

PASSWORD = "org-pw"


def _today() -> str:
    """Today in Beijing as a ledger's 填报日期 reads it."""
    from datetime import UTC, datetime

    from jinqiao.kit.clock import china_date

    day = china_date(datetime.now(UTC))
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.fixture(scope="module")
async def headers(platform, settings_for):
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    for county in ("411521", "411522"):
        await upsert_account(db=db, account=Account(username=f"o-county-{county}", role=Role.COUNTY_ADMIN,
                                                    scope=county, acting_tenant=county), password=PASSWORD)
    await db.close()
    result = {}
    for county in ("411521", "411522"):
        reply = await platform.http.post("/api/v1/auth/token",
                                         json={"username": f"o-county-{county}", "password": PASSWORD})
        result[county] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    return result


async def test_a_county_builds_and_reads_its_tree_over_http(platform, headers):
    base = "/api/v1/tenants/411521/orgs"
    h = headers["411521"]
    root = await platform.http.post(base, json={"name": "中共罗山县委员会", "kind": "county_committee"}, headers=h)
    assert root.status_code == 201, root.text
    root_id = root.json()["id"]
    town = (await platform.http.post(base, json={"name": "周党镇党委", "kind": "township_committee",
                                                 "parent_id": root_id}, headers=h)).json()
    external = await platform.http.post(base, headers=h, json={
        "name": "罗山县驻上海流动党员党总支", "kind": "external_general_branch", "parent_id": root_id,
        "city_code": "310000", "founding_mode": "standalone",
    })
    assert external.status_code == 201 and external.json()["city_name"] == "上海市"
    subtree = (await platform.http.get(f"{base}/{root_id}/subtree", headers=h)).json()["orgs"]
    assert subtree[0]["id"] == root_id
    assert {town["id"], external.json()["id"]} <= {o["id"] for o in subtree}
    ancestors = (await platform.http.get(f"{base}/{town['id']}/ancestors", headers=h)).json()
    assert [a["id"] for a in ancestors] == [root_id]


async def test_external_branch_without_city_is_422_naming_it(platform, headers):
    h = headers["411521"]
    reply = await platform.http.post("/api/v1/tenants/411521/orgs",
                                     json={"name": "x", "kind": "external_branch", "parent_id": ""}, headers=h)
    assert reply.status_code == 422
    assert {"city_code", "founding_mode", "parent_id"} <= {e["field"] for e in reply.json()["errors"]}


async def test_another_countys_tree_is_404(platform, headers):
    own = headers["411522"]
    root = (await platform.http.post("/api/v1/tenants/411522/orgs",
                                     json={"name": "中共光山县委员会", "kind": "county_committee"}, headers=own)).json()
    other = headers["411521"]
    for path in (f"/api/v1/tenants/411522/orgs/{root['id']}", f"/api/v1/tenants/411521/orgs/{root['id']}",
                 f"/api/v1/tenants/411521/orgs/{root['id']}/subtree"):
        assert (await platform.http.get(path, headers=other)).status_code == 404, path


async def test_placement_suggestion_and_rule_order_over_http(platform, headers):
    h = headers["411521"]
    base = "/api/v1/tenants/411521/orgs"
    roots = (await platform.http.get(base, headers=h)).json()["orgs"]
    online = await platform.http.post(base, headers=h, json={"name": "罗山县网上党支部", "kind": "online_branch",
                                                             "parent_id": roots[0]["id"]})
    assert online.status_code == 201
    reply = await platform.http.get(f"{base}/placement-suggestion",
                                    params={"destination_code": "440300", "industry": "家政"}, headers=h)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["org"]["name"], reply.json()["rule"]) == ("罗山县网上党支部", "online_branch")
    rules = (await platform.http.get(f"{base}/placement-rules/out_of_province", headers=h)).json()
    assert rules["is_default"] and rules["rules"][0] == "external_branch_in_city"
    bad = await platform.http.put(f"{base}/placement-rules/out_of_province", headers=h,
                                  json={"rules": ["online_branch", "online_branch"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rules"


async def test_placement_for_another_in_province_county_is_422(platform, headers):
    reply = await platform.http.get("/api/v1/tenants/411521/orgs/placement-suggestion",
                                    params={"destination_code": "411525"}, headers=headers["411521"])
    assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "destination_code"


async def test_checklist_over_http(platform, headers):
    h = headers["411521"]
    base = "/api/v1/tenants/411521/orgs"
    roots = (await platform.http.get(base, headers=h)).json()["orgs"]
    branch = (await platform.http.post(base, headers=h, json={
        "name": "罗山县驻武汉流动党员党支部", "kind": "external_branch", "parent_id": roots[0]["id"],
        "city_code": "420100", "founding_mode": "affiliated"})).json()
    reply = await platform.http.put(f"{base}/{branch['id']}/checklist/work_plan", headers=h,
                                    json={"done": True, "evidence": "年度工作计划已上墙"})
    assert reply.status_code == 200 and reply.json()["completeness_percent"] == 14
    other = headers["411522"]
    assert (await platform.http.get(f"{base}/{branch['id']}/checklist", headers=other)).status_code == 404


async def test_the_external_orgs_ledger_opens_in_a_spreadsheet_reader_with_the_right_rows(platform, headers):
    import csv
    import io

    from openpyxl import load_workbook

    h = headers["411521"]
    base = "/api/v1/tenants/411521"
    expected = {o["name"] for o in (await platform.http.get(
        f"{base}/orgs/search", params={"kind": ["external_branch", "external_general_branch"]},
        headers=h)).json()["orgs"]}
    assert expected  # the tests above founded 驻上海 and 驻武汉 organisations
    xlsx = await platform.http.get(f"{base}/ledgers/external-orgs.xlsx", headers=h)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in rows[:3]] == ["外建党组织分布台账", "填报单位：中共罗山县委组织部",
                                        f"填报日期：{_today()}"]
    rows = rows[3:]  # the table below the banner
    assert sheet.title == "外建党组织分布台账" and rows[0][:4] == ("序号", "党组织名称", "组织类别", "所在城市")
    assert {r[1] for r in rows[1:]} == expected
    assert any(r[3] == "上海市" and r[5] == "单独建" for r in rows[1:])
    text = (await platform.http.get(f"{base}/ledgers/external-orgs.csv", headers=h)).content.decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0][1] == "党组织名称" and {r[1] for r in parsed[1:]} == expected
    other = await platform.http.get(f"{base}/ledgers/external-orgs.csv", headers=headers["411522"])
    assert other.status_code == 404


async def test_search_by_name_and_city(platform, headers):
    h = headers["411521"]
    found = (await platform.http.get("/api/v1/tenants/411521/orgs/search", params={"name": "驻上海"},
                                     headers=h)).json()["orgs"]
    assert found and all("驻上海" in o["name"] for o in found)
    by_city = (await platform.http.get("/api/v1/tenants/411521/orgs/search", params={"city_code": "420100"},
                                       headers=h)).json()["orgs"]
    assert by_city and all(o["city_code"] == "420100" for o in by_city)
    bad = await platform.http.get("/api/v1/tenants/411521/orgs/search", params={"kind": "castle"}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("kind")


async def test_officers_over_http_and_the_dispatched_officers_ledger(platform, headers):
    import io

    from openpyxl import load_workbook

    h = headers["411521"]
    base = "/api/v1/tenants/411521"
    shanghai = (await platform.http.get(f"{base}/orgs/search", params={"city_code": "310000"},
                                        headers=h)).json()["orgs"][0]
    sent = await platform.http.post(f"{base}/orgs/{shanghai['id']}/officers", headers=h, json={
        "position": "guidance_officer", "name": "周指导", "phone": "186 1234 5678", "start_date": "2025-03-01"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["phone_masked"] == "186****5678" and "18612345678" not in sent.text
    bad = await platform.http.post(f"{base}/orgs/{shanghai['id']}/officers", headers=h, json={
        "position": "liaison", "name": "x", "phone": "12", "start_date": "2025-03-01"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["phone"]
    sheet = load_workbook(io.BytesIO((await platform.http.get(f"{base}/ledgers/dispatched-officers.xlsx",
                                                               headers=h)).content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "外派指导员(联络员)台账" and rows[1][0] == "填报单位：中共罗山县委组织部"
    rows = rows[3:]  # the table below the banner
    assert sheet.title == "外派指导员(联络员)台账" and rows[0][1] == "姓名"
    assert ("周指导", "党建指导员", shanghai["name"], "上海市", "186****5678") in [r[1:6] for r in rows[1:]]
    other = await platform.http.get(f"{base}/orgs/{shanghai['id']}/officers", headers=headers["411522"])
    assert other.status_code == 404


async def test_meetings_over_http(platform, headers, admin_conn_factory):
    h = headers["411521"]
    base = "/api/v1/tenants/411521/orgs"
    wuhan = (await platform.http.get(f"{base}/search", params={"city_code": "420100"}, headers=h)).json()["orgs"][0]
    # The guest from 固始县 is placed at the Wuhan organisation (a guest needs a temporary membership there).
    conn = await admin_conn_factory("organizations")
    await conn.execute(
        "INSERT INTO memberships (tenant_id, id, origin_tenant_id, flow_id, member_id, attempt, member_name,"
        " destination_code, org_id, status) VALUES ('411521', $1, '411525', $2, $3, 1, '流动党员', '420100', $4, 2)"
        " ON CONFLICT DO NOTHING", uuid.uuid4(), uuid.uuid4(), uuid.UUID("7a0f6d3c-2b1e-4c5d-9e8f-1a2b3c4d5e6f"),
        uuid.UUID(wuhan["id"]))
    meeting = await platform.http.post(f"{base}/{wuhan['id']}/meetings", headers=h, json={
        "type": "committee_meeting", "title": "支委会", "start_time": "2026-11-20T19:30:00+08:00",
        "online_link": "https://meeting.example.cn/123"})
    assert meeting.status_code == 201, meeting.text
    recorded = await platform.http.post(f"{base}/{wuhan['id']}/meetings/{meeting.json()['id']}/attendance",
                                        headers=h, json={"entries": [{
                                            "member_id": "7a0f6d3c-2b1e-4c5d-9e8f-1a2b3c4d5e6f",
                                            "home_tenant_id": "411525", "status": "present"}]})
    assert recorded.status_code == 200 and recorded.json()["guests"] == 1
    seen = await platform.http.get("/api/v1/tenants/411521/members/7a0f6d3c-2b1e-4c5d-9e8f-1a2b3c4d5e6f/attendance",
                                   headers=h)
    assert [(a["meeting"]["title"], a["status"], a["guest"]) for a in seen.json()] == [("支委会", "present", True)]
    bad = await platform.http.post(f"{base}/{wuhan['id']}/meetings", headers=h, json={
        "type": "party_lecture", "title": "党课", "start_time": "2026-11-20T19:30:00+08:00"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "place"
