"""组织生活 by reach: a branch secretary keeps its own branch's 三会一课, a guidance officer its subtree's 七有;
neither shapes the tree, nothing outside the reach (or in another county) exists for them; ledgers name the office."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from jinqiao.kit.auth import Role
from jinqiao.kit.clock import china_date

COUNTY = "650321"  # this helper's counties: 650321–650329
OTHER = "650322"
BASE = f"/api/v1/tenants/{COUNTY}"
MEETING = {"type": "general_meeting", "title": "支部党员大会", "start_time": "2026-12-20T09:00:00+08:00",
           "place": "村部会议室"}


def auth(token: str) -> dict[str, str]:
    """An HTTP bearer header."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def tree(platform, county_token):
    """中共…委员会 → 甲镇党委 → 一村党支部, 二村党支部; and a 驻沪党支部 under the committee."""
    h = auth(county_token(COUNTY))

    async def found(**body: str) -> str:
        reply = await platform.http.post(f"{BASE}/orgs", headers=h, json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    roots = (await platform.http.get(f"{BASE}/orgs", headers=h)).json()["orgs"]
    root = roots[0]["id"] if roots else await found(name="中共测试县委员会", kind="county_committee")
    town = await found(name="甲镇党委", kind="township_committee", parent_id=root)
    one = await found(name="一村党支部", kind="village_branch", parent_id=town)
    two = await found(name="二村党支部", kind="village_branch", parent_id=town)
    shanghai = await found(name="测试县驻上海流动党员党支部", kind="external_branch", parent_id=root,
                           city_code="310000", founding_mode="standalone")
    return {"root": root, "town": town, "one": one, "two": two, "shanghai": shanghai}


@pytest.fixture(scope="module")
def tokens(issuer, tree):
    def make(role: Role, org: str | None = None, county: str = COUNTY) -> dict[str, str]:
        return auth(issuer.issue(user=f"life-{role.value}-{org}", role=role, scope=county, org=org)[0])

    return {
        "secretary_one": make(Role.BRANCH_SECRETARY, tree["one"]),
        "secretary_two": make(Role.BRANCH_SECRETARY, tree["two"]),
        "guide_shanghai": make(Role.GUIDANCE_OFFICER, tree["shanghai"]),
        "township": make(Role.TOWNSHIP_OFFICER, tree["town"]),
    }


async def test_a_branch_secretary_schedules_its_own_branchs_meeting(platform, tree, tokens):
    reply = await platform.http.post(f"{BASE}/orgs/{tree['one']}/meetings", headers=tokens["secretary_one"],
                                     json=MEETING)
    assert reply.status_code == 201, reply.text
    listed = await platform.http.get(f"{BASE}/orgs/{tree['one']}/meetings", headers=tokens["secretary_one"])
    assert reply.json()["id"] in {m["id"] for m in listed.json()}


async def test_a_branch_secretary_finds_no_other_branch_and_no_parent(platform, tree, tokens):
    h = tokens["secretary_one"]
    for org in (tree["two"], tree["town"], tree["shanghai"]):
        assert (await platform.http.post(f"{BASE}/orgs/{org}/meetings", headers=h, json=MEETING)).status_code == 404
        assert (await platform.http.get(f"{BASE}/orgs/{org}", headers=h)).status_code == 404


async def test_a_branch_secretary_records_no_attendance_at_another_branchs_meeting(platform, tree, tokens):
    made = await platform.http.post(f"{BASE}/orgs/{tree['one']}/meetings", headers=tokens["secretary_one"],
                                    json=MEETING)
    assert made.status_code == 201, made.text
    reply = await platform.http.post(
        f"{BASE}/orgs/{tree['one']}/meetings/{made.json()['id']}/attendance", headers=tokens["secretary_two"],
        json={"entries": [{"member_id": "00000000-0000-4000-8000-000000000009", "home_tenant_id": COUNTY,
                           "status": "present"}]})
    assert reply.status_code == 404


async def test_a_branch_secretary_does_not_rename_or_dissolve_its_branch(platform, tree, tokens):
    h = tokens["secretary_one"]
    renamed = await platform.http.patch(f"{BASE}/orgs/{tree['one']}", headers=h, json={"name": "改名"})
    assert renamed.status_code == 403
    assert renamed.headers["content-type"].startswith("application/problem+json")
    dissolved = await platform.http.post(f"{BASE}/orgs/{tree['one']}/dissolve", headers=h, json={"reason": "x"})
    assert dissolved.status_code == 403


async def test_a_guidance_officer_keeps_its_branchs_seven_haves_but_no_others(platform, tree, tokens):
    h = tokens["guide_shanghai"]
    reply = await platform.http.put(f"{BASE}/orgs/{tree['shanghai']}/checklist/activity_room", headers=h,
                                    json={"done": True, "evidence": "浦东新区租用活动室一间"})
    assert reply.status_code == 200, reply.text
    room = next(e for e in reply.json()["entries"] if e["item"] == "activity_room")
    assert room["done"] and room["evidence"] == "浦东新区租用活动室一间"
    assert reply.json()["completeness_percent"] > 0
    other = await platform.http.put(f"{BASE}/orgs/{tree['shanghai']}/checklist/rules",
                                    headers=tokens["secretary_one"], json={"done": True})
    assert other.status_code == 404


async def test_another_countys_staff_find_no_meetings_or_checklist_here(platform, tree, county_token):
    h = auth(county_token(OTHER))
    assert (await platform.http.post(f"{BASE}/orgs/{tree['one']}/meetings", headers=h,
                                     json=MEETING)).status_code == 404
    assert (await platform.http.put(f"{BASE}/orgs/{tree['shanghai']}/checklist/rules", headers=h,
                                    json={"done": True})).status_code == 404
    assert (await platform.http.post(f"/api/v1/tenants/{OTHER}/orgs/{tree['one']}/meetings", headers=h,
                                     json=MEETING)).status_code == 404


async def test_a_township_ledger_is_filed_under_the_township_committee_on_beijings_date(platform, tree, tokens):
    reply = await platform.http.get(f"{BASE}/ledgers/development.xlsx", headers=tokens["township"])
    assert reply.status_code == 200, reply.text
    sheet = load_workbook(io.BytesIO(reply.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    today = china_date(datetime.now(UTC))
    assert rows[0][0] == "发展党员台账"
    assert rows[1][0] == "填报单位：甲镇党委"
    assert rows[2][0] == f"填报日期：{today.year}年{today.month}月{today.day}日"
    assert rows[3][:2] == ("序号", "姓名")


async def test_a_county_of_no_known_name_files_under_its_committee(platform, tree, county_token):
    reply = await platform.http.get(f"{BASE}/ledgers/external-orgs.xlsx", headers=auth(county_token(COUNTY)))
    assert reply.status_code == 200, reply.text
    rows = list(load_workbook(io.BytesIO(reply.content)).active.iter_rows(values_only=True))
    root = (await platform.http.get(f"{BASE}/orgs/{tree['root']}", headers=auth(county_token(COUNTY)))).json()
    assert rows[1][0] == f"填报单位：{root['name']}组织部"
    assert "测试县驻上海流动党员党支部" in {r[1] for r in rows[4:]}
