"""党员名册 and the member page in a real browser: a county admin registers a member with every field of the import
template, finds them by name and by filters, pages, sorts, exports (the sheet has the row, masked), opens the member
page, edits a field and reveals the ID number with a reason; a township officer sees only its township's members,
masked, with no reveal button."""

from __future__ import annotations

import io
import uuid

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from tests.e2e.conftest import login, shoot
from tests.integration.conftest import bearer, eventually
from tests.support import id_number, member_json

COUNTY = "650313"
TAG = uuid.uuid4().hex[:4]
SEEDED = 22  # more than one page of 20


@pytest.fixture(scope="module")
async def county(platform, county_token, admin_conn_factory, console_account) -> dict[str, str]:
    """Townships 东 and 西 with a branch each; 22 members of 西 seeded over the API; an admin and a 东 officer."""
    md = bearer(county_token(COUNTY))
    orgs = platform.organizations_stub
    roots = await orgs.ListChildOrgs(orgs_pb.ListChildOrgsRequest(), metadata=md)
    root = roots.orgs[0].id if roots.orgs else (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        name="中共名册县委", kind=orgs_pb.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id
    made: dict[str, str] = {}
    for side in ("东", "西"):
        town = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
            parent_id=root, name=f"{side}岭镇党委{TAG}", kind=orgs_pb.ORG_KIND_TOWNSHIP_COMMITTEE), metadata=md)).org.id
        branch = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
            parent_id=town, name=f"{side}岭村党支部{TAG}", kind=orgs_pb.ORG_KIND_VILLAGE_BRANCH), metadata=md)).org.id
        made[f"town_{side}"], made[f"branch_{side}"] = town, branch
    conn = await admin_conn_factory("registry")

    async def replicated() -> bool:
        return await conn.fetchval("SELECT count(*) FROM org_replica WHERE id = ANY($1::uuid[]) AND parent_id IS NOT"
                                   " NULL", [made["branch_东"], made["branch_西"]]) == 2

    await eventually(replicated)
    headers = {"Authorization": f"Bearer {county_token(COUNTY)}"}
    surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕"
    for i in range(SEEDED):
        body = member_json(COUNTY, name=f"{surnames[i]}西{TAG}{i:02d}", township=f"西岭镇{TAG}",
                           home_branch_id=made["branch_西"])
        reply = await platform.http.post(f"/api/v1/tenants/{COUNTY}/members", json=body, headers=headers)
        assert reply.status_code == 201, reply.text
    made["admin"] = await console_account(f"ui-roster-admin-{TAG}", Role.COUNTY_ADMIN, COUNTY)
    made["township"] = await console_account(f"ui-roster-town-{TAG}", Role.TOWNSHIP_OFFICER, COUNTY,
                                             org=made["town_东"])
    return made


async def _pick(page: Page, scope, label: str, option: str) -> None:
    """Choose ``option`` in the el-select of the form item labelled ``label``."""
    await scope.locator(".el-form-item", has_text=label).locator(".el-select").click()
    await page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()


async def _date(scope, label: str, value: str) -> None:
    field = scope.locator(".el-form-item", has_text=label).locator("input")
    await field.click()
    await field.fill(value)
    await field.press("Enter")


async def test_a_county_admin_registers_finds_pages_sorts_exports_edits_and_reveals(page, county):
    await login(page, county["admin"])
    await page.goto("/members")
    await page.get_by_role("heading", name="党员名册").wait_for()
    await page.locator(".roster__count").wait_for()
    await shoot(page, "roster")

    # 登记党员 with all 15 fields of the import template.
    await page.get_by_role("button", name="登记党员").click()
    dialog = page.get_by_role("dialog", name="登记党员")
    await dialog.wait_for()
    number = id_number(COUNTY)
    name = f"东{TAG}新登"
    await dialog.locator("input[name=name]").fill(name)
    await dialog.locator("input[name=id_number]").fill(number[:-1] + ("0" if number[-1] != "0" else "1"))
    await dialog.get_by_role("button", name="登记").click()
    # A wrong check digit comes back under its own field, in Chinese, naming no API field.
    error = dialog.locator(".el-form-item", has_text="公民身份号码").locator(".el-form-item__error")
    await error.wait_for()
    assert "id_number" not in await error.inner_text()
    await shoot(page, "roster-register-error")
    await dialog.locator("input[name=id_number]").fill(number)
    await error.wait_for(state="hidden", timeout=3_000)  # the stale error goes as soon as the field changes
    await _pick(page, dialog, "性别", "男" if int(number[16]) % 2 else "女")
    await _date(dialog, "出生日期", f"{number[6:10]}-{number[10:12]}-{number[12:14]}")
    await _pick(page, dialog, "民族", "汉族")
    await _pick(page, dialog, "学历", "大学专科")
    await dialog.get_by_text("正式党员").click()
    await _date(dialog, "入党日期", "2010-07-01")
    await _date(dialog, "转正日期", "2011-07-01")
    branch = dialog.locator(".el-form-item", has_text="所在党支部").locator("input")
    await branch.click()
    await branch.fill(f"东岭村党支部{TAG}")
    await page.locator(".el-select-dropdown__item:visible", has_text=f"东岭村党支部{TAG}").first.click()
    await dialog.locator("input[name=phone]").fill("13912345678")
    await dialog.locator("input[name=township]").fill(f"东岭镇{TAG}")
    await dialog.locator("input[name=village]").fill("东岭村")
    await dialog.locator("input[name=household_address]").fill("新疆测试县东岭镇东岭村 8 号")
    await dialog.locator("input[name=occupation]").fill("电焊工")
    await shoot(page, "roster-register")
    await dialog.get_by_role("button", name="登记").click()

    # Registered: the member page opens with every field.
    await page.wait_for_url("**/members/*")
    await page.get_by_role("heading", name=name).wait_for()
    facts = page.locator(".member__facts")
    for shown in ("汉族", "大学专科", "电焊工", f"东岭村党支部{TAG}", "新疆测试县东岭镇东岭村 8 号", "139****5678"):
        await facts.get_by_text(shown).first.wait_for()
    assert number not in await page.content()
    member_url = page.url

    # Found by name, and by filters.
    await page.goto("/members")
    await page.locator("input[name=q]").fill(name)
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator(".roster__count")).to_have_text("1")
    await page.locator(".roster__table").get_by_text(name).wait_for()
    await page.get_by_role("button", name="重置").click()
    await page.locator("input[name=township]").fill(f"西岭镇{TAG}")
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator(".roster__count")).to_have_text(str(SEEDED))

    # Pages: 22 members are two pages of 20.
    rows = page.locator(".roster__table .el-table__body tr")
    await expect(rows).to_have_count(20)
    await page.locator(".roster__pager .el-pager li", has_text="2").click()
    await expect(rows).to_have_count(2)

    # Sorted by name (pinyin): 陈 comes before 赵 ascending.
    await page.locator(".roster__table th", has_text="姓名").locator(".sort-caret.ascending").click()
    await page.wait_for_url("**sort=name**")
    await expect(rows).to_have_count(20)
    first = await rows.first.locator("td").first.inner_text()
    assert first.startswith("陈"), first
    await shoot(page, "roster-filtered")

    # Export the filtered roster: the sheet has the rows, the ID numbers masked.
    async with page.expect_download() as caught:
        await page.get_by_role("button", name="导出 XLSX").click()
    download = await caught.value
    sheet = load_workbook(io.BytesIO((await download.path()).read_bytes())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "党员名册"
    header = values[3]
    data = values[4:]
    assert len(data) == SEEDED
    ids = [r[header.index("身份证号")] for r in data]
    assert all("*" in str(v) for v in ids)
    assert {r[1] for r in data} >= {f"赵西{TAG}00", f"陈西{TAG}09"}

    # The member page: edit a field, see it in the history; reveal with a reason.
    await page.goto(member_url)
    await page.get_by_role("heading", name=name).wait_for()
    await page.get_by_role("button", name="编辑").click()
    edit = page.get_by_role("dialog", name="编辑党员信息")
    await edit.locator("input[name=occupation]").fill("钢筋工")
    await shoot(page, "member-edit")
    await edit.get_by_role("button", name="保存修改").click()
    await page.locator(".member__facts").get_by_text("钢筋工").wait_for()
    await page.locator(".member__history").get_by_text("电焊工 → 钢筋工").wait_for()
    await shoot(page, "member")
    await page.get_by_role("button", name="查看完整身份证号").click()
    prompt = page.locator(".reveal-prompt")
    await prompt.wait_for()
    await prompt.locator("input").fill("核")
    await prompt.get_by_role("button", name="查看").click()
    await prompt.get_by_text("4 至 200 个字").first.wait_for()
    await prompt.locator("input").fill("组织关系转接核对身份")
    await shoot(page, "member-reveal-reason")
    await prompt.get_by_role("button", name="查看").click()
    answer = page.locator(".reveal-answer")
    await answer.get_by_text(number).wait_for()
    await shoot(page, "member-reveal")
    await answer.get_by_role("button", name="关闭", exact=True).click()
    await answer.wait_for(state="hidden")
    assert number not in await page.content()


async def test_a_township_officer_sees_only_its_townships_members_masked_without_reveal(page, county, platform,
                                                                                     county_token):
    # A member of 东 (the officer's township) registered over the API.
    headers = {"Authorization": f"Bearer {county_token(COUNTY)}"}
    body = member_json(COUNTY, name=f"东{TAG}本镇", township=f"东岭镇{TAG}", home_branch_id=county["branch_东"])
    own = await platform.http.post(f"/api/v1/tenants/{COUNTY}/members", json=body, headers=headers)
    assert own.status_code == 201
    await login(page, county["township"])
    await page.goto("/members")
    await page.get_by_role("heading", name="党员名册").wait_for()
    await page.locator(".roster__table").get_by_text(f"东{TAG}本镇").wait_for()
    table = await page.locator(".roster__table").inner_text()
    assert f"西{TAG}" not in table
    assert body["id_number"] not in await page.content()
    assert await page.get_by_role("button", name="登记党员").count() == 0
    await shoot(page, "roster-township")
    await page.locator(".roster__table").get_by_text(f"东{TAG}本镇").click()
    await page.get_by_role("heading", name=f"东{TAG}本镇").wait_for()
    assert await page.get_by_role("button", name="查看完整身份证号").count() == 0
    assert await page.get_by_role("button", name="编辑").count() == 0
    await shoot(page, "member-township")
