"""组织架构, 安置规则 and 发展党员 in a real browser: the county admin browses the tree a level at a time, appoints an
officer, ticks a 七有 item, schedules a meeting and records attendance, reorders the placement rules and tries them,
and advances an applicant; a branch secretary sees its own branch only and keeps its 三会一课."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.conftest import login, shoot
from tests.support import id_number, member_json

COUNTY = "650323"  # this helper's counties: 650321–650329
BASE = f"/api/v1/tenants/{COUNTY}"
TAG = uuid.uuid4().hex[:4]
ADMIN_USER = f"ui-orgs-admin-{COUNTY}"
SECRETARY_USER = f"ui-orgs-secretary-{COUNTY}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def county(platform, county_token):
    """中共测试三县委员会 → 甲镇党委{TAG} → 一村党支部{TAG}; 驻上海党支部{TAG}; a member; an applicant."""
    h = auth(county_token(COUNTY))

    async def found(**body: str) -> str:
        reply = await platform.http.post(f"{BASE}/orgs", headers=h, json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    roots = (await platform.http.get(f"{BASE}/orgs", headers=h)).json()["orgs"]
    root = roots[0]["id"] if roots else await found(name="中共测试三县委员会", kind="county_committee")
    root_name = (await platform.http.get(f"{BASE}/orgs/{root}", headers=h)).json()["name"]
    town = await found(name=f"甲镇党委{TAG}", kind="township_committee", parent_id=root)
    village = await found(name=f"一村党支部{TAG}", kind="village_branch", parent_id=town)
    shanghai = await found(name=f"驻上海党支部{TAG}", kind="external_branch", parent_id=root, city_code="310000",
                           founding_mode="standalone")
    body = member_json(COUNTY, name=f"王{TAG}", township="甲镇", village="一村", home_branch_id=village)
    for _ in range(40):  # the registry learns of the new branch through an event
        member = await platform.http.post(f"{BASE}/members", headers=h, json=body)
        if member.status_code != 422:
            break
        await asyncio.sleep(0.25)
    assert member.status_code == 201, member.text
    applicant = await platform.http.post(f"{BASE}/applicants", headers=h, json={
        "name": f"赵申请{TAG}", "id_number": id_number(COUNTY), "phone": "13811112222", "township": "甲镇",
        "village": "一村", "application_date": "2024-03-01",
        "mentors": [{"name": "钱联系", "phone": "13733334444", "side": "home"}]})
    assert applicant.status_code == 201, applicant.text
    return {"root": root, "root_name": root_name, "town": town, "village": village, "shanghai": shanghai,
            "member": member.json()["id"], "applicant": applicant.json()["id"], "headers": h}


def node(page: Page, name: str):
    return page.locator(".el-tree-node__content", has_text=name).first


async def expand(page: Page, name: str) -> None:
    await node(page, name).locator(".el-tree-node__expand-icon").click()


async def test_the_county_admin_keeps_its_tree(page, console_account, county, platform):
    await console_account(ADMIN_USER, Role.COUNTY_ADMIN, COUNTY)
    await login(page, ADMIN_USER)
    await page.goto("/orgs")
    tree = page.get_by_role("tree", name="组织树")
    await expect(tree.get_by_text(county["root_name"])).to_be_visible()
    # Lazily: the township appears only once its parent is opened, the village once the township is.
    await expect(tree.get_by_text(f"一村党支部{TAG}")).to_have_count(0)
    await expand(page, county["root_name"])
    await expect(tree.get_by_text(f"甲镇党委{TAG}")).to_be_visible()
    await expand(page, f"甲镇党委{TAG}")
    await expect(tree.get_by_text(f"一村党支部{TAG}")).to_be_visible()
    await shoot(page, "orgs-tree")

    # 班子成员: appoint a secretary; the phone comes back masked.
    await node(page, f"一村党支部{TAG}").click()
    await expect(page.locator(".orgs__title h2")).to_have_text(f"一村党支部{TAG}")
    await shoot(page, "orgs-info")
    await page.get_by_role("tab", name="班子成员").click()
    await page.get_by_role("button", name="任命班子成员").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("姓名").fill("张书记")
    await dialog.get_by_label("手机号码").fill("13700001111")
    await dialog.get_by_role("button", name="任命").click()
    officers = page.locator(".el-table", has_text="张书记")
    await expect(officers.get_by_text("137****1111")).to_be_visible()
    await shoot(page, "orgs-officers")

    # 三会一课: schedule a meeting, then record the member's attendance.
    await page.get_by_role("tab", name="三会一课").click()
    await page.get_by_role("button", name="安排会议").click()
    dialog = page.get_by_role("dialog", name="安排三会一课")
    await dialog.get_by_label("会议主题").fill(f"学习全会精神{TAG}")
    picker = dialog.get_by_placeholder("选择日期和时间")
    await picker.fill("2026/12/20 09:00")
    await picker.press("Enter")
    await dialog.get_by_label("会议地点").click()
    await dialog.get_by_label("会议地点").fill("村部会议室")
    await dialog.get_by_role("button", name="安排").click()
    row = page.locator(".el-table__row", has_text=f"学习全会精神{TAG}")
    await expect(row).to_contain_text("2026/12/20 09:00")
    await expect(row).to_contain_text("0 人")
    await row.get_by_role("button", name="登记出席").click()
    dialog = page.get_by_role("dialog", name=f"登记出席：学习全会精神{TAG}")
    await dialog.get_by_label("查找党员").fill(f"王{TAG}")
    await dialog.get_by_role("button", name="查找").click()
    await dialog.get_by_role("button", name=f"+ 王{TAG}").click()
    await expect(dialog.get_by_role("radiogroup", name=f"王{TAG}的出席情况")).to_be_visible()
    # The organisations service learns of a new member through an event: retry until it holds them.
    for _ in range(20):
        await dialog.get_by_role("button", name="保存出席情况").click()
        try:
            await expect(dialog).to_be_hidden(timeout=1500)
            break
        except AssertionError:
            await asyncio.sleep(0.5)
    await expect(row).to_contain_text("1 人")
    await expect(page.get_by_label("本年度组织生活")).to_be_visible()
    await shoot(page, "orgs-meetings")

    # 七有 of the 驻外党支部: tick 活动场所 with its evidence.
    await node(page, f"驻上海党支部{TAG}").click()
    await page.get_by_role("tab", name="七有").click()
    seven = page.locator(".el-table", has_text="有活动室")
    await expect(seven).to_be_visible()
    first = seven.locator(".el-table__row").first
    label = (await first.locator("td").first.inner_text()).strip()
    await first.locator(".el-switch").click()
    await first.get_by_role("textbox").fill("浦东新区租用活动室一间")
    await first.get_by_role("button", name="保存").click()
    await expect(page.get_by_text(f"已保存“{label}”")).to_be_visible()
    checklist = (await platform.http.get(f"{BASE}/orgs/{county['shanghai']}/checklist",
                                         headers=county["headers"])).json()
    entry = next(e for e in checklist["entries"] if e["label"] == label)
    assert entry["done"] and entry["evidence"] == "浦东新区租用活动室一间"
    await shoot(page, "orgs-checklist")

    # 网格 of the township: draw one.
    await node(page, f"甲镇党委{TAG}").click()
    await page.get_by_role("tab", name="网格").click()
    await page.get_by_role("button", name="划分网格").click()
    dialog = page.get_by_role("dialog", name="划分网格")
    await dialog.get_by_label("网格名称").fill(f"甲镇第一网格{TAG}")
    await dialog.get_by_label("覆盖地址（每行一个）").fill("经三路 12 号院\n经三路 14 号院")
    await dialog.get_by_role("button", name="保存").click()
    grid = page.locator(".el-table__row", has_text=f"甲镇第一网格{TAG}")
    await expect(grid).to_contain_text("经三路 12 号院；经三路 14 号院")
    await expect(dialog).to_be_hidden()
    await shoot(page, "orgs-grids")

    # Search finds an organisation by part of its name.
    await page.get_by_label("查找党组织").fill(f"一村党支部{TAG}")
    await page.get_by_label("查找党组织").press("Enter")
    await expect(page.get_by_label("查找结果").get_by_text(f"一村党支部{TAG}")).to_be_visible()


async def test_the_county_admin_reorders_the_placement_rules_and_tries_them(page, console_account, county, platform):
    await console_account(ADMIN_USER, Role.COUNTY_ADMIN, COUNTY)
    await login(page, ADMIN_USER)
    await page.goto("/orgs/placement-rules")
    rules = page.get_by_label("安置规则顺序")
    await expect(rules.locator("li")).to_have_count(7)
    before = (await platform.http.get(f"{BASE}/orgs/placement-rules/out_of_province",
                                      headers=county["headers"])).json()["rules"]
    first = before[0]
    names = {"external_branch_in_city": "本县驻当地党组织", "station_temporary_branch": "驻城党建工作站临时党支部",
             "employer_branch": "所在单位党组织"}
    await page.get_by_role("button", name=f"下移{names.get(first, '')}" if first in names else "下移").first.click()
    await page.get_by_role("button", name="保存顺序").click()
    await expect(page.get_by_text("已保存安置规则")).to_be_visible()
    after = (await platform.http.get(f"{BASE}/orgs/placement-rules/out_of_province",
                                     headers=county["headers"])).json()
    assert not after["is_default"] and after["rules"][:2] == [before[1], before[0]]
    # Put the county's own 驻外党组织 first again and try a member going to 上海.
    await page.get_by_role("button", name="上移本县驻当地党组织").click()
    await page.get_by_role("button", name="保存顺序").click()
    await expect(page.get_by_role("button", name="保存顺序")).to_be_disabled()
    await page.get_by_role("combobox", name="务工地").click()
    await page.get_by_role("option", name="上海市").click()
    await page.get_by_role("button", name="查看安置结果").click()
    await expect(page.get_by_label("安置结果")).to_contain_text(f"驻上海党支部{TAG}")
    await shoot(page, "placement-rules")


async def test_the_county_admin_advances_an_applicant_with_the_checks_in_chinese(page, console_account, county):
    await console_account(ADMIN_USER, Role.COUNTY_ADMIN, COUNTY)
    await login(page, ADMIN_USER)
    await page.goto("/development")
    await expect(page.get_by_label("各阶段人数")).to_contain_text("入党申请人")
    await page.get_by_role("table").get_by_text(f"赵申请{TAG}").click()
    await page.wait_for_url(f"**/development/{county['applicant']}")
    await expect(page.locator(".el-breadcrumb")).to_contain_text(f"赵申请{TAG}")
    await page.get_by_role("button", name="推进到下一阶段：入党积极分子").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="确认推进").click()
    await expect(page.get_by_role("button", name="推进到下一阶段：发展对象")).to_be_visible()
    await expect(page.get_by_text(f"赵申请{TAG}已推进为入党积极分子")).to_be_visible()
    await expect(page.locator(".page-head h1")).to_contain_text("入党积极分子")
    # 发展对象 the same day: the one-year rule answers in Chinese, under the date.
    await page.get_by_role("button", name="推进到下一阶段：发展对象").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="确认推进").click()
    await expect(dialog.get_by_text("入党积极分子须经一年以上培养考察")).to_be_visible()
    await shoot(page, "applicant-advance-refused")
    await dialog.get_by_role("button", name="取消").click()
    await page.get_by_role("button", name="添加考察记录").click()
    dialog = page.get_by_role("dialog", name="添加考察记录")
    await dialog.get_by_label("考察人").fill("孙考察")
    await dialog.get_by_label("考察意见").fill("工作积极，群众评价好")
    await dialog.get_by_role("button", name="保存").click()
    await expect(page.get_by_role("list", name="考察记录")).to_contain_text("工作积极，群众评价好")
    await expect(dialog).to_be_hidden()
    await shoot(page, "applicant")
    await page.goto("/development")
    await page.locator(".stage", has_text="入党积极分子").click()
    await expect(page.get_by_role("table").get_by_text(f"赵申请{TAG}")).to_be_visible()
    await shoot(page, "development")


async def test_a_branch_secretary_sees_only_its_branch_and_keeps_its_meetings(page, console_account, county):
    await console_account(SECRETARY_USER, Role.BRANCH_SECRETARY, COUNTY, org=county["village"])
    await login(page, SECRETARY_USER)
    nav = page.get_by_role("navigation", name="主导航")
    await expect(nav.get_by_text("组织架构")).to_be_visible()
    await expect(nav.get_by_text("台账中心")).to_have_count(0)
    await page.goto("/orgs")
    tree = page.get_by_role("tree", name="组织树")
    await expect(tree.get_by_text(f"一村党支部{TAG}")).to_be_visible()
    await expect(tree.get_by_text(f"甲镇党委{TAG}")).to_have_count(0)
    await expect(tree.get_by_text(county["root_name"])).to_have_count(0)
    await expect(page.locator(".orgs__title h2")).to_have_text(f"一村党支部{TAG}")
    await expect(page.get_by_role("button", name="更名")).to_have_count(0)
    await page.get_by_role("tab", name="三会一课").click()
    await page.get_by_role("button", name="安排会议").click()
    dialog = page.get_by_role("dialog", name="安排三会一课")
    await dialog.get_by_text("党课", exact=True).click()
    await dialog.get_by_label("会议主题").fill(f"书记讲党课{TAG}")
    picker = dialog.get_by_placeholder("选择日期和时间")
    await picker.fill("2026/12/26 15:00")
    await picker.press("Enter")
    # Neither a place nor a link: the service's rule shows under the place, in Chinese.
    await dialog.get_by_role("button", name="安排").click()
    await expect(dialog.get_by_text("须填写会议地点或线上会议链接")).to_be_visible()
    await dialog.get_by_label("会议地点").fill("村部会议室")
    await expect(dialog.get_by_text("须填写会议地点或线上会议链接")).to_have_count(0)
    await dialog.get_by_role("button", name="安排").click()
    await expect(page.locator(".el-table__row", has_text=f"书记讲党课{TAG}")).to_contain_text("党课")
    await shoot(page, "orgs-branch-secretary")
    # Another branch's address is not found for it.
    await page.goto(f"/orgs?org={county['shanghai']}")
    await expect(page.get_by_text("未找到该组织")).to_be_visible()
