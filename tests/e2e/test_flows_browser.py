"""The cross-county flow in the console (DESIGN §3), in a real headless Chromium against the real services.

固始县 (411525) registers an outflow from its roster; 二七区 (410103), the destination, sees the offer in 接收管理
and records the 报到; 固始县 then sees 已报到; the province sees counts in 流向; a member checks in by the code
under the station's QR code. 二七区 is used (not 金水区) because another test of the session founds 金水区's tree
and expects to be the first to do so; here the destination's tree is found-or-created and only added to.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import grpc
import pytest
from playwright.async_api import Locator, Page, expect

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.e2e.conftest import CONSOLE_PASSWORD, PROVINCE_USER
from tests.e2e.test_console_browser import log_in, roster_loaded, screenshot
from tests.integration.conftest import bearer, eventually
from tests.support import member_json

ORIGIN = "411525"  # 固始县
DEST = "410103"  # 二七区
ORIGIN_USER = f"flows-county-{ORIGIN}"
DEST_USER = f"flows-county-{DEST}"
STATION_USER = f"flows-station-{DEST}"
MEMBER_USER = "flows-member"
TAG = uuid.uuid4().hex[:6]


def masked(number: str) -> str:
    return number[:4] + "*" * 10 + number[-4:]


@pytest.fixture(scope="module")
async def destination_tree(platform, county_token) -> dict[str, str]:
    """二七区's county committee (found or created), a 驻城党建工作站 and its 临时党支部."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    md = bearer(county_token(DEST))
    try:
        roots = await stub.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)
        root = roots.orgs[0].id if roots.orgs else (await stub.CreateOrg(
            pb.CreateOrgRequest(name="中共二七区委员会", kind=pb.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id
        station = (await stub.CreateOrg(pb.CreateOrgRequest(
            parent_id=root, name=f"二七区驻城党建工作站{TAG}", kind=pb.ORG_KIND_TOWN_STATION), metadata=md)).org.id
        branch = (await stub.CreateOrg(pb.CreateOrgRequest(
            parent_id=station, name=f"二七区驻城临时党支部{TAG}", kind=pb.ORG_KIND_TEMPORARY_BRANCH),
            metadata=md)).org.id
    finally:
        await channel.close()
    return {"root": root, "station": station, "branch": branch}


@pytest.fixture(scope="module")
async def accounts(settings_for, destination_tree) -> None:
    """County admins at both ends and a staff member of 二七区's station."""
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=2)
    try:
        for account in (
            Account(username=ORIGIN_USER, role=Role.COUNTY_ADMIN, scope=ORIGIN, acting_tenant=ORIGIN),
            Account(username=DEST_USER, role=Role.COUNTY_ADMIN, scope=DEST, acting_tenant=DEST),
            Account(username=STATION_USER, role=Role.STATION_STAFF, scope=DEST, acting_tenant=DEST,
                    acting_org=destination_tree["station"]),
        ):
            await upsert_account(db=db, account=account, password=CONSOLE_PASSWORD)
    finally:
        await db.close()


async def api_login(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": CONSOLE_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def new_member(platform, name: str) -> dict:
    """A member of 固始县, registered over the API; the test finds them in the roster."""
    headers = await api_login(platform, ORIGIN_USER)
    body = member_json(ORIGIN, name=name, phone="13700002468")
    reply = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    # The full number stays with the test, to check that no page ever shows it.
    return {**reply.json(), "id_number": body["id_number"]}


async def api_outflow(platform, member: dict) -> dict:
    headers = await api_login(platform, ORIGIN_USER)
    reply = await platform.http.post(
        f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows", headers=headers,
        json={"destination_code": DEST, "address": "二七区大学路 66 号", "employer": "", "industry": "装修",
              "start_date": time.strftime("%Y-%m-%d"), "expected_months": 6})
    assert reply.status_code == 201, reply.text
    return reply.json()


def unique_name(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 1_000_000}"


async def until(page: Page, button: Locator, check: Callable[[], Awaitable[bool]], *, seconds: float = 30) -> None:
    """Press a reload button until the check holds: the other county's answer comes through events."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "the console did not show the change in time"
        await button.click()
        await page.wait_for_timeout(700)


async def tab(page: Page, name: str) -> None:
    await page.get_by_role("tab", name=name).click()
    await expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


async def open_outflow(page: Page, name: str) -> Locator:
    await roster_loaded(page)
    row = page.locator("#roster tbody tr").filter(has_text=name)
    await row.get_by_role("button", name="外出登记").click()
    dialog = page.get_by_role("dialog", name="外出登记")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(name)
    return dialog


async def test_a_bad_destination_is_shown_beside_the_field_and_registers_nothing(page: Page, platform, accounts):
    name = unique_name("错码")
    await new_member(platform, name)
    await log_in(page, ORIGIN_USER)
    dialog = await open_outflow(page, name)
    destination = dialog.locator('[data-field="destination_code"]')

    await dialog.get_by_role("combobox", name="流入地", exact=True).select_option("other")
    await dialog.get_by_label("流入地行政区划代码").fill("999999")
    await dialog.get_by_label("流入地居住地址").fill("不详")
    await dialog.get_by_label("从事行业").fill("建筑")
    await dialog.get_by_role("button", name="提交外出登记").click()
    await expect(destination.locator(".field__error")).to_contain_text("流入地须为 6 位行政区划代码")
    await expect(dialog.get_by_label("流入地行政区划代码")).to_have_attribute("aria-invalid", "true")
    await expect(dialog.get_by_role("alert")).to_contain_text("请求参数无效")

    # One's own county is no destination either; the other errors are gone with the next answer.
    await dialog.get_by_label("流入地行政区划代码").fill(ORIGIN)
    await dialog.get_by_role("button", name="提交外出登记").click()
    await expect(destination.locator(".field__error")).to_have_text("流入地不能是本县")
    await page.screenshot(path=screenshot("outflow-error"))
    await dialog.get_by_role("button", name="取消").click()
    await expect(dialog).to_be_hidden()

    # Nothing was registered: the member is still at home.
    row = page.locator("#roster tbody tr").filter(has_text=name)
    await expect(row.get_by_role("button", name="外出登记")).to_be_visible()
    await tab(page, "流动党员")
    await expect(page.locator("#flows-count")).to_contain_text("已显示")
    await expect(page.locator("#flows tbody tr").filter(has_text=name)).to_have_count(0)


async def test_an_outflow_from_the_roster_is_received_checked_in_and_seen_back_home(
        page: Page, platform, accounts, destination_tree):
    name = unique_name("外出")
    member = await new_member(platform, name)

    # 固始县 registers the outflow from its roster.
    await log_in(page, ORIGIN_USER)
    dialog = await open_outflow(page, name)
    await dialog.get_by_role("combobox", name="流入地", exact=True).select_option(DEST)
    await dialog.get_by_label("流入地居住地址").fill("二七区大学路 66 号")
    await dialog.get_by_label("从事行业").fill("装修")
    await dialog.get_by_label("预计外出时长（月）").fill("12")
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/flows")) as sent:
        await dialog.get_by_role("button", name="提交外出登记").click()
    assert (await sent.value).headers["idempotency-key"]
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#notice")).to_contain_text("外出登记成功")
    await expect(page.locator("#notice")).to_contain_text("二七区")
    roster_row = page.locator("#roster tbody tr").filter(has_text=name)
    await expect(roster_row).to_contain_text("二七区")
    await expect(roster_row.get_by_role("button", name="外出登记")).to_have_count(0)
    await page.screenshot(path=screenshot("roster-outflow"), full_page=True)

    # 流动党员: the new flow with its status, and its detail with the 证明信.
    await tab(page, "流动党员")
    row = page.locator("#flows tbody tr").filter(has_text=name)
    await expect(row).to_contain_text("二七区")
    await expect(row.locator(".flag")).to_have_text(re.compile(r"^(待接收|已接收待报到)$"))
    await row.get_by_role("button", name="详情").click()
    detail = page.locator("#flow-detail")
    await expect(detail).to_be_visible()
    await expect(detail.locator("#flow-letter")).to_contain_text(masked(member["id_number"]))
    await expect(detail.get_by_role("button", name="转出")).to_be_visible()  # in the province
    await page.screenshot(path=screenshot("flows"), full_page=True)

    # Only 待接收 / 已接收待报到 flows when filtered so; 已报到 shows none of this member yet.
    await page.get_by_label("状态").select_option("managed")
    await expect(page.locator("#flows tbody tr").filter(has_text=name)).to_have_count(0)
    await page.get_by_label("状态").select_option("")
    await expect(row).to_have_count(1)

    # 二七区 receives the member: the offer comes through events, so press 刷新 until it is there.
    await page.get_by_role("button", name="退出").click()
    await log_in(page, DEST_USER)
    await tab(page, "接收管理")
    offered = page.locator("#offered tbody tr").filter(has_text=name)
    await until(page, page.get_by_role("button", name="刷新"), lambda: offered.count())
    for text in (masked(member["id_number"]), "137****2468", "固始县", f"二七区驻城临时党支部{TAG}",
                 "驻城党建工作站临时党支部"):
        await expect(offered).to_contain_text(text)
    assert member["id_number"] not in await page.content()
    await page.screenshot(path=screenshot("receive"), full_page=True)
    await offered.get_by_role("button", name="报到").click()
    await expect(page.locator("#notice")).to_contain_text("报到成功")
    await expect(offered).to_have_count(0)
    checked = page.locator("#checked tbody tr").filter(has_text=name)
    await expect(checked).to_contain_text("工作人员登记")

    # What the member attends goes to the home 活动记事本; the destination assesses the year.
    await checked.get_by_role("button", name="记录活动").click()
    activity = page.get_by_role("dialog", name="记录活动")
    await activity.get_by_label("活动名称").fill("主题党日")
    await activity.get_by_role("button", name="保存活动").click()
    await expect(activity).to_be_hidden()
    await expect(page.locator("#notice")).to_contain_text("已记录活动")
    await checked.get_by_role("button", name="评议").click()
    assess = page.get_by_role("dialog", name="评议")
    await assess.get_by_label("评议等次").select_option(label="优秀")
    await assess.get_by_role("button", name="保存评议").click()
    await expect(assess).to_be_hidden()
    await expect(page.locator("#notice")).to_contain_text("优秀")

    # Back home, 固始县 sees the member as 已报到 (流而不失).
    await page.get_by_role("button", name="退出").click()
    await log_in(page, ORIGIN_USER)
    await tab(page, "流动党员")
    row = page.locator("#flows tbody tr").filter(has_text=name)
    await until(page, page.get_by_role("button", name="重新载入"),
                lambda: row.locator(".flag").filter(has_text="已报到").count())
    await expect(row).to_contain_text(f"二七区驻城临时党支部{TAG}")
    await expect(row.locator("td").nth(5)).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
    await page.reload()
    await expect(page.get_by_role("tab", name="流动党员")).to_have_attribute("aria-selected", "true")
    await page.get_by_label("状态").select_option("managed")
    await expect(page.locator("#flows tbody tr").filter(has_text=name)).to_have_count(1)


async def test_returning_home_records_the_returnee_facts_with_their_field_errors(page: Page, platform, accounts):
    name = unique_name("回归")
    await api_outflow(platform, await new_member(platform, name))
    await log_in(page, ORIGIN_USER)
    await tab(page, "流动党员")
    row = page.locator("#flows tbody tr").filter(has_text=name)
    await row.get_by_role("button", name="详情").click()

    await page.locator("#flow-detail").get_by_role("button", name="回归").click()
    dialog = page.get_by_role("dialog", name="回归")
    await dialog.get_by_label("返乡创业").check()
    await dialog.get_by_label("纳入村后备力量").check()
    await dialog.get_by_role("button", name="办理回归").click()
    await expect(dialog.locator('[data-field="business_name"]')).to_contain_text("返乡创业的须填写企业或项目名称")
    await dialog.get_by_label("企业或项目名称").fill("固始县鹅块加工合作社")
    await dialog.get_by_role("button", name="办理回归").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#notice")).to_contain_text("已办理回归")
    await expect(page.locator("#flow-detail-status")).to_have_text("已回归")
    await expect(page.locator("#flow-actions")).to_be_hidden()
    await expect(row.locator(".flag")).to_have_text("已回归")

    # The ledgers download with the token, as files.
    async with page.expect_download() as download:
        await page.get_by_role("link", name="回归工程台账").click()
    assert (await download.value).suggested_filename == "回归工程台账.xlsx"


async def test_the_province_sees_where_members_went_and_how_many_checked_in(page: Page, platform, accounts):
    name = unique_name("省看")
    await api_outflow(platform, await new_member(platform, name))
    await log_in(page, PROVINCE_USER)
    await expect(page.get_by_role("heading", name="党员分布")).to_be_visible()
    await tab(page, "流向")
    await expect(page.get_by_role("heading", name="流出地 → 流入地")).to_be_visible()
    pair = page.locator("#flow-matrix tbody tr").filter(has_text="固始县").filter(has_text="二七区")
    gushi = page.locator("#coverage tbody tr").filter(has_text="固始县")
    await until(page, page.get_by_role("button", name="查询"),
                lambda: _all_counted(pair, gushi))
    # The province sees no count below 3 (small-cell suppression): a pair reads "<3" or its published sum.
    assert re.match(r"^(<3|[0-9,]+)", await pair.locator(".num").inner_text())
    away = await gushi.locator(".num").nth(0).inner_text()
    assert away in ("<3", "*") or int(away.replace(",", "")) >= 3
    rate = gushi.locator(".num").nth(4)
    if await rate.get_attribute("data-suppressed"):
        await expect(rate).to_have_text(re.compile(r"^(<3|\*)$"))
    else:
        await expect(rate).to_contain_text("%")
    await expect(page.locator("#insights-away")).not_to_have_text("—")
    await expect(page.locator("#insights-suppression")).to_contain_text("不足 3 人的数字显示为“<3”")
    await page.screenshot(path=screenshot("flow-insights"), full_page=True)
    # Counts only: no person's name reaches an analyst.
    assert name not in await page.locator("#view").inner_text()

    # A bad month range is named beside its field.
    await page.get_by_label("起始月份").fill("2026-05")
    await page.get_by_label("截止月份").fill("2026-01")
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator('[data-field="to_month"]')).to_contain_text("结束月份不能早于起始月份")


async def _all_counted(pair: Locator, gushi: Locator) -> bool:
    return bool(await pair.count() and await gushi.count())


async def test_a_member_checks_in_with_the_stations_code(page: Page, platform, settings_for, accounts,
                                                         destination_tree):
    name = unique_name("扫码")
    member = await new_member(platform, name)
    flow = await api_outflow(platform, member)
    origin = await api_login(platform, ORIGIN_USER)

    async def offered() -> dict | None:
        body = (await platform.http.get(f"/api/v1/tenants/{ORIGIN}/flows/{flow['id']}", headers=origin)).json()
        return body if body["status"] == "offered" else None

    placed = await eventually(offered, timeout=30)
    code = (await platform.http.get(f"/api/v1/tenants/{DEST}/orgs/{placed['org_id']}/check-in-code",
                                    headers=await api_login(platform, DEST_USER))).json()["code"]
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    try:
        await upsert_account(db=db, password=CONSOLE_PASSWORD, account=Account(
            username=MEMBER_USER, role=Role.MEMBER, scope=ORIGIN, acting_tenant=ORIGIN, acting_member=member["id"]))
    finally:
        await db.close()

    await log_in(page, MEMBER_USER)
    await expect(page.get_by_role("banner")).to_contain_text("党员")
    await expect(page.locator("#me-facts")).to_contain_text(masked(member["id_number"]))
    await expect(page.locator("#me-facts")).to_contain_text("137****2468")
    my_flow = page.locator("#my-flows tbody tr").filter(has_text="二七区")
    await expect(my_flow).to_contain_text("已接收待报到")
    await expect(page.locator("#my-letter")).to_be_attached()

    box = page.get_by_label("报到码")
    await box.fill(code[:-3] + "xyz")
    await page.get_by_role("button", name="报到", exact=True).click()
    await expect(page.locator('#scan-form [data-field="code"]')).to_contain_text("报到码无效")
    await expect(box).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#scan-ok")).to_be_hidden()

    await box.fill(code)
    await page.get_by_role("button", name="报到", exact=True).click()
    await expect(page.locator("#scan-ok")).to_contain_text(f"报到成功！您已在“{placed['org_name']}”报到")
    await expect(page.locator("#notice")).to_contain_text("报到成功")
    # The home county learns of it through events; the page looks again by itself.
    deadline = time.monotonic() + 30
    while not await my_flow.filter(has_text="已报到").count():
        assert time.monotonic() < deadline, "the flow never turned 已报到"
        await asyncio.sleep(1)
        if not await my_flow.filter(has_text="已报到").count():
            await page.reload()
    await expect(page.locator("#my-activities-empty")).to_be_visible()
    await page.screenshot(path=screenshot("member"), full_page=True)
    assert member["id_number"] not in await page.content()


async def test_station_staff_see_only_their_stations_reception(page: Page, platform, accounts):
    name = unique_name("工作站")
    await api_outflow(platform, await new_member(platform, name))
    await log_in(page, STATION_USER)
    await expect(page.get_by_role("tab", name="接收管理")).to_be_visible()
    await expect(page.get_by_role("tab", name="党员名册")).to_have_count(0)
    # The station's own check-in code, for printing under its QR code.
    await expect(page.locator("#checkin-code-panel")).to_contain_text(f"二七区驻城党建工作站{TAG}")
    await expect(page.locator("#checkin-code")).to_contain_text(f"JQ1.{DEST}.")
    row = page.locator("#offered tbody tr").filter(has_text=name)
    await until(page, page.get_by_role("button", name="刷新"), lambda: row.count())
    await row.get_by_role("button", name="拒收").click()
    dialog = page.get_by_role("dialog", name="拒收")
    await dialog.get_by_role("button", name="确认拒收").click()
    await expect(dialog.locator('[data-field="reason"]')).to_contain_text("请说明拒收原因")
    await dialog.get_by_label("拒收原因").fill("本站已满员，请安置到社区党支部")
    await dialog.get_by_role("button", name="确认拒收").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#notice")).to_contain_text("已拒收")
    await expect(row).to_have_count(0)
