"""党员名册 over HTTP: total and page numbers, sorting, filters, the XLSX export (masked, titled, audited), the reach of
a township committee, a guidance office and a branch, and another county's members are 404."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from openpyxl import load_workbook

from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from tests.integration.conftest import bearer, eventually
from tests.support import id_number, member_json, wrong_check_digit

A, B = "650311", "650312"
TAG = uuid.uuid4().hex[:6]


@dataclass
class Roster:
    """County A's tree (townships 东, 西 with a branch each) and members; headers per role."""

    headers: dict[str, dict[str, str]]
    members: dict[str, dict[str, Any]]
    branch_east: str
    branch_west: str


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def roster(platform, issuer, county_token, admin_conn_factory) -> Roster:
    md = bearer(county_token(A))
    orgs = platform.organizations_stub
    roots = await orgs.ListChildOrgs(orgs_pb.ListChildOrgsRequest(), metadata=md)
    root = roots.orgs[0].id if roots.orgs else (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        name="中共名册测试县委", kind=orgs_pb.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id
    made: dict[str, str] = {}
    for side in ("东", "西"):
        town = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
            parent_id=root, name=f"名册{side}镇党委{TAG}", kind=orgs_pb.ORG_KIND_TOWNSHIP_COMMITTEE),
            metadata=md)).org.id
        branch = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
            parent_id=town, name=f"名册{side}村党支部{TAG}", kind=orgs_pb.ORG_KIND_VILLAGE_BRANCH), metadata=md)).org.id
        made[f"town_{side}"], made[f"branch_{side}"] = town, branch
    conn = await admin_conn_factory("registry")

    async def replicated() -> bool:
        return await conn.fetchval("SELECT count(*) FROM org_replica WHERE id = ANY($1::uuid[]) AND parent_id IS NOT"
                                   " NULL", [made["branch_东"], made["branch_西"]]) == 2

    await eventually(replicated)
    admin = _h(county_token(A))
    members: dict[str, dict[str, Any]] = {}
    # Names chosen so that pinyin order (阿 < 白 < 陈 < 邓 < 方) differs from registration order.
    # Join dates after 2002: tests.support.id_number gives births up to 1984, and one joins at 18 at the earliest.
    for key, name, branch, status, joined in (
        ("e1", f"陈{TAG}东", made["branch_东"], "full", "2008-07-01"),
        ("e2", f"阿{TAG}东", made["branch_东"], "probationary", "2020-07-01"),
        ("w1", f"方{TAG}西", made["branch_西"], "full", "2011-07-01"),
        ("w2", f"白{TAG}西", made["branch_西"], "full", "2003-07-01"),
        ("n1", f"邓{TAG}无", "", "full", "2015-07-01"),
    ):
        town = {"e": "东", "w": "西", "n": "北"}[key[0]]
        body = member_json(A, name=name, township=f"名册{town}镇{TAG}", home_branch_id=branch,
                           membership_status=status, join_date=joined)
        reply = await platform.http.post(f"/api/v1/tenants/{A}/members", json=body, headers=admin)
        assert reply.status_code == 201, reply.text
        members[key] = reply.json()

    def token(role: Role, org: str | None = None, scope: str = A) -> dict[str, str]:
        return _h(issuer.issue(user=f"roster-{role.value}-{TAG}", role=role, scope=scope, org=org)[0])

    headers = {
        "admin": admin, "other_admin": _h(county_token(B)),
        "township": token(Role.TOWNSHIP_OFFICER, made["town_东"]),
        "guidance": token(Role.GUIDANCE_OFFICER, made["town_西"]),
        "branch": token(Role.BRANCH_SECRETARY, made["branch_西"]),
        "analyst": token(Role.PROVINCE_ANALYST, scope="65"),
    }
    return Roster(headers=headers, members=members, branch_east=made["branch_东"], branch_west=made["branch_西"])


def _names(reply: Any) -> list[str]:
    return [m["name"] for m in reply.json()["members"]]


async def test_the_roster_gives_a_total_and_pages_by_number(platform, roster):
    url = f"/api/v1/tenants/{A}/members"
    first = await platform.http.get(url, params={"name": TAG, "page": 1, "page_size": 2, "sort": "name"},
                                    headers=roster.headers["admin"])
    assert first.status_code == 200, first.text
    assert first.json()["total"] == 5 and first.json()["page"] == 1
    third = await platform.http.get(url, params={"name": TAG, "page": 3, "page_size": 2, "sort": "name"},
                                    headers=roster.headers["admin"])
    assert len(third.json()["members"]) == 1 and third.json()["total"] == 5
    every = _names(first) + _names(await platform.http.get(
        url, params={"name": TAG, "page": 2, "page_size": 2, "sort": "name"}, headers=roster.headers["admin"])) + \
        _names(third)
    assert len(set(every)) == 5


async def test_the_roster_sorts_by_name_in_pinyin_order_and_by_join_date(platform, roster):
    url = f"/api/v1/tenants/{A}/members"
    by_name = await platform.http.get(url, params={"name": TAG, "sort": "name"}, headers=roster.headers["admin"])
    assert [n[0] for n in _names(by_name)] == ["阿", "白", "陈", "邓", "方"]
    by_join = await platform.http.get(url, params={"name": TAG, "sort": "-join_date"}, headers=roster.headers["admin"])
    assert [m["join_date"] for m in by_join.json()["members"]] == sorted(
        (m["join_date"] for m in by_join.json()["members"]), reverse=True)
    assert _names(by_join)[0].startswith("阿")


async def test_a_sorted_roster_pages_by_token_too(platform, roster):
    url = f"/api/v1/tenants/{A}/members"
    seen: list[str] = []
    token = ""
    while True:
        reply = await platform.http.get(url, params={"name": TAG, "sort": "-name", "page_size": 2, "page_token": token},
                                        headers=roster.headers["admin"])
        seen += _names(reply)
        token = reply.json()["next_page_token"]
        if not token:
            break
    assert [n[0] for n in seen] == ["方", "邓", "陈", "白", "阿"]


async def test_an_unknown_sort_is_refused_naming_the_field(platform, roster):
    reply = await platform.http.get(f"/api/v1/tenants/{A}/members", params={"sort": "id_number_enc"},
                                    headers=roster.headers["admin"])
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"].endswith("sort")


async def test_the_roster_filters_by_category_and_township(platform, roster):
    url = f"/api/v1/tenants/{A}/members"
    probationary = await platform.http.get(url, params={"name": TAG, "membership_status": "probationary"},
                                           headers=roster.headers["admin"])
    assert _names(probationary) == [roster.members["e2"]["name"]] and probationary.json()["total"] == 1
    west = await platform.http.get(url, params={"name": TAG, "township": f"名册西镇{TAG}"},
                                   headers=roster.headers["admin"])
    assert sorted(_names(west)) == sorted([roster.members["w1"]["name"], roster.members["w2"]["name"]])


async def test_the_export_is_a_titled_xlsx_with_masked_numbers_and_is_audited(platform, roster, admin_conn_factory):
    reply = await platform.http.get(f"/api/v1/tenants/{A}/members.xlsx", params={"name": TAG, "sort": "name"},
                                    headers=roster.headers["admin"])
    assert reply.status_code == 200, reply.text
    sheet = load_workbook(io.BytesIO(reply.content)).active
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "党员名册"
    assert str(rows[1][0]).startswith("填报单位：") and str(rows[2][0]).startswith("填报日期：")
    header = rows[3]
    assert header[1] == "姓名" and "身份证号" in header
    data = rows[4:]
    assert [r[1] for r in data][:1] == [roster.members["e2"]["name"]] and len(data) == 5
    id_col = header.index("身份证号")
    assert {r[id_col] for r in data} == {m["id_number_masked"] for m in roster.members.values()}
    assert all("*" in str(r[id_col]) for r in data)
    conn = await admin_conn_factory("registry")
    audited = await conn.fetchval(
        "SELECT reason FROM audit_log WHERE tenant_id = $1 AND action = 'member.export' AND reason LIKE $2"
        " ORDER BY seq DESC LIMIT 1", A, f"%{TAG}%")
    assert audited is not None and "5 人" in audited


async def test_a_township_committee_reads_only_its_townships_members_masked(platform, roster):
    reply = await platform.http.get(f"/api/v1/tenants/{A}/members", params={"name": TAG},
                                    headers=roster.headers["township"])
    assert reply.status_code == 200, reply.text
    assert sorted(_names(reply)) == sorted([roster.members["e1"]["name"], roster.members["e2"]["name"]])
    assert reply.json()["total"] == 2
    assert all("*" in m["id_number_masked"] for m in reply.json()["members"])
    own = roster.members["e1"]["id"]
    assert (await platform.http.get(f"/api/v1/tenants/{A}/members/{own}",
                                    headers=roster.headers["township"])).status_code == 200
    assert (await platform.http.get(f"/api/v1/tenants/{A}/members/{own}/history",
                                    headers=roster.headers["township"])).status_code == 200
    for other in ("w1", "n1"):
        member = roster.members[other]["id"]
        got = await platform.http.get(f"/api/v1/tenants/{A}/members/{member}", headers=roster.headers["township"])
        assert got.status_code == 404
    reveal = await platform.http.post(f"/api/v1/tenants/{A}/members/{own}/reveal-id-number",
                                      json={"reason": "核对身份信息"}, headers=roster.headers["township"])
    assert reveal.status_code == 403
    exported = await platform.http.get(f"/api/v1/tenants/{A}/members.xlsx", params={"name": TAG},
                                       headers=roster.headers["township"])
    names = [r[1] for r in list(load_workbook(io.BytesIO(exported.content)).active.iter_rows(values_only=True))[4:]]
    assert sorted(names) == sorted([roster.members["e1"]["name"], roster.members["e2"]["name"]])


async def test_a_guidance_office_and_a_branch_read_their_own_subtree(platform, roster):
    west = sorted([roster.members["w1"]["name"], roster.members["w2"]["name"]])
    for who in ("guidance", "branch"):
        reply = await platform.http.get(f"/api/v1/tenants/{A}/members", params={"name": TAG},
                                        headers=roster.headers[who])
        assert reply.status_code == 200, reply.text
        assert sorted(_names(reply)) == west
    # Neither keeps the county's ledgers: no export.
    assert (await platform.http.get(f"/api/v1/tenants/{A}/members.xlsx",
                                    headers=roster.headers["branch"])).status_code == 403
    # Nor do they read the county's flows through the roster grant.
    assert (await platform.http.get(f"/api/v1/tenants/{A}/flows",
                                    headers=roster.headers["guidance"])).status_code == 403


async def test_an_analyst_reads_no_roster(platform, roster):
    reply = await platform.http.get(f"/api/v1/tenants/{A}/members", headers=roster.headers["analyst"])
    assert reply.status_code in (403, 404)


async def test_another_countys_member_is_not_found(platform, roster):
    member = roster.members["e1"]["id"]
    on_own_path = await platform.http.get(f"/api/v1/tenants/{B}/members/{member}",
                                          headers=roster.headers["other_admin"])
    assert on_own_path.status_code == 404
    on_their_path = await platform.http.get(f"/api/v1/tenants/{A}/members/{member}",
                                            headers=roster.headers["other_admin"])
    assert on_their_path.status_code in (403, 404)
    export = await platform.http.get(f"/api/v1/tenants/{A}/members.xlsx", headers=roster.headers["other_admin"])
    assert export.status_code in (403, 404)
    listed = await platform.http.get(f"/api/v1/tenants/{B}/members", params={"name": TAG},
                                     headers=roster.headers["other_admin"])
    assert listed.json()["total"] == 0


async def test_a_bad_id_number_is_reported_in_chinese_without_the_api_field_name(platform, roster):
    body = member_json(A, id_number=wrong_check_digit(id_number(A)))
    reply = await platform.http.post(f"/api/v1/tenants/{A}/members", json=body, headers=roster.headers["admin"])
    assert reply.status_code == 422 or reply.status_code == 400
    problem = reply.json()
    assert "id_number" not in problem.get("detail", "")
    assert "身份证号" in problem.get("detail", "")
    assert problem["errors"][0]["field"] == "id_number"
