"""流动党员, 接收管理 and 预警处置 in the new console, in a real headless Chromium against the real services.

County A (650331) registers an outflow (外出登记) for a member; county B (650332), the destination, sees the offer in
接收管理 and records the 报到; A then sees 已报到 and the 证明信 (and prints it). A township officer of A handles an
overdue 报到 alert of a member of its township: acknowledges it, then closes it with a note; it leaves the active
list, and county B's administrator gets 404 for it over the API. Screenshots of every page and dialog.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from playwright.async_api import Locator, Page, expect

from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import timers
from tests.e2e.conftest import CONSOLE_PASSWORD, login, shoot
from tests.integration.conftest import bearer, eventually
from tests.support import member_json

A, B = "650331", "650332"  # this helper's counties: 650331–650339
TAG = uuid.uuid4().hex[:6]


async def _tree(platform, county_token, county: str, kinds: list[tuple[str, int]]) -> list[str]:
    """A chain of organisations under the county's committee (found or created); their ids, top down."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    md = bearer(county_token(county))
    try:
        roots = await stub.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)
        parent = roots.orgs[0].id if roots.orgs else (await stub.CreateOrg(
            pb.CreateOrgRequest(name=f"中共{county}委员会", kind=pb.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id
        ids = []
        for name, kind in kinds:
            parent = (await stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind),
                                           metadata=md)).org.id
            ids.append(parent)
        return ids
    finally:
        await channel.close()


@pytest.fixture(scope="module")
async def world(platform, county_token, console_account) -> dict[str, str]:
    """B has a 驻城党建工作站 with a 临时党支部 (where it places members); A has a township with a village branch."""
    await _tree(platform, county_token, B, [(f"驻城党建工作站{TAG}", pb.ORG_KIND_TOWN_STATION),
                                           (f"驻城临时党支部{TAG}", pb.ORG_KIND_TEMPORARY_BRANCH)])
    township, village = await _tree(platform, county_token, A, [(f"城关镇党委{TAG}", pb.ORG_KIND_TOWNSHIP_COMMITTEE),
                                                                (f"东关村党支部{TAG}", pb.ORG_KIND_VILLAGE_BRANCH)])
    return {
        "a": await console_account(f"fl-county-{A}", Role.COUNTY_ADMIN, A),
        "b": await console_account(f"fl-county-{B}", Role.COUNTY_ADMIN, B),
        "township": await console_account(f"fl-township-{A}", Role.TOWNSHIP_OFFICER, A, org=township),
        "village": village,
    }


async def api_login(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": CONSOLE_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def new_member(platform, headers: dict, name: str, **extra: object) -> dict:
    async def created() -> dict | None:
        reply = await platform.http.post(f"/api/v1/tenants/{A}/members", headers=headers,
                                         json=member_json(A, name=name, phone="13700002468", **extra))
        # The registry learns of a new branch through events: until then the home branch is unknown.
        return reply.json() if reply.status_code == 201 else None

    member = await eventually(created)
    assert member, "the member could not be registered"
    return member


async def until(page: Page, refresh: Callable[[], Awaitable[None]], check: Locator, *, seconds: float = 40) -> None:
    """Refresh until the locator shows: the other county's answer comes through events."""
    deadline = time.monotonic() + seconds
    while not await check.count():
        assert time.monotonic() < deadline, "the console did not show the change in time"
        await refresh()
        await page.wait_for_timeout(800)


async def test_an_outflow_is_registered_received_checked_in_and_its_letter_printed(platform, world, new_tab):
    headers = await api_login(platform, world["a"])
    name = f"外出{TAG}"
    await new_member(platform, headers, name)

    a = await new_tab()
    await login(a, world["a"])
    await a.goto("/flows")
    await a.get_by_role("heading", name="流动党员").wait_for()
    await shoot(a, "flows")

    await a.get_by_role("button", name="外出登记").click()
    dialog = a.get_by_role("dialog", name="外出登记")
    await dialog.wait_for()
    # Submitting without the required fields names each of them under its input.
    await dialog.get_by_role("button", name="办理外出登记").click()
    await expect(dialog.get_by_text("请选择外出的党员")).to_be_visible()
    await dialog.get_by_label("外出党员").fill(name)
    await a.locator(".el-select-dropdown__item", has_text=name).first.click()
    await dialog.get_by_label("流入地", exact=True).fill(B)
    await dialog.get_by_label("流入地", exact=True).press("Enter")
    await dialog.get_by_label("流入地居住地址").fill("大学路 66 号")
    await dialog.get_by_label("从事行业").fill("装修")
    await shoot(a, "flows-register-dialog")
    await dialog.get_by_role("button", name="办理外出登记").click()
    await a.wait_for_url("**/flows/*")
    flow_id = a.url.rstrip("/").split("/")[-1]
    await a.get_by_role("heading", name=name).wait_for()
    await expect(a.locator(".letter")).to_contain_text(name)
    await shoot(a, "flow-registered")

    b = await new_tab()
    await login(b, world["b"])
    await b.goto("/receive")
    row = b.locator(".memberships .el-table__row", has_text=name)
    await until(b, lambda: b.get_by_role("button", name="刷新").click(), row)
    await shoot(b, "receive-offered")
    await row.get_by_role("button", name="拒收").click()
    refuse = b.get_by_role("dialog", name="拒收")
    await refuse.get_by_role("button", name="确认拒收").click()
    await expect(refuse.get_by_text("请填写拒收原因")).to_be_visible()
    await shoot(b, "receive-refuse-dialog")
    await refuse.get_by_role("button", name="取消").click()
    await row.get_by_role("button", name="报到登记").click()
    await b.get_by_role("button", name="确认报到").click()
    await b.get_by_role("tab", name="已报到").click()
    checked = b.locator(".memberships .el-table__row", has_text=name)
    await checked.wait_for()
    await checked.get_by_role("button", name="记录活动").click()
    activity = b.get_by_role("dialog", name="记录活动（活动记事本）")
    await activity.get_by_label("活动名称").fill("七月主题党日")
    await shoot(b, "receive-activity-dialog")
    await activity.get_by_role("button", name="保存").click()
    await expect(activity).to_be_hidden()
    await checked.get_by_role("button", name="评议").click()
    await shoot(b, "receive-assess-dialog")
    await b.get_by_role("dialog", name="流入地评议").get_by_role("button", name="保存评议").click()
    await shoot(b, "receive-checked-in")

    tag = a.locator("h1 .el-tag", has_text="已报到")
    await until(a, lambda: a.reload(), tag)
    await expect(a.locator(".letter")).to_contain_text("流动党员活动证编号")
    await shoot(a, "flow-checked-in")
    for button, title in (("变更流入地", "变更流入地或工作单位"), ("年度汇报", "年度汇报"), ("回归", "回归"),
                          ("转出", "组织关系转出")):
        await a.get_by_role("button", name=button, exact=True).click()
        await a.get_by_role("dialog", name=title).wait_for()
        await shoot(a, f"flow-dialog-{button}")
        await a.get_by_role("dialog", name=title).get_by_role("button", name="取消").click()

    await a.goto(f"/flows/{flow_id}/letter")
    await a.get_by_role("heading", name="流动党员证明信").wait_for()
    await expect(a.locator(".letter")).to_contain_text(name)
    await shoot(a, "flow-letter-print")

    await a.goto("/flows")
    listed = a.locator(".flows .el-table__row", has_text=name)
    await listed.wait_for()
    await expect(listed.get_by_text("已报到")).to_be_visible()
    await a.get_by_label("按姓名查找").fill(name)
    await a.get_by_role("button", name="查询").click()
    await expect(a.locator(".flows .el-table__row")).to_have_count(1)
    await expect(a.get_by_text("共 1 人次")).to_be_visible()
    await shoot(a, "flows-list")


async def test_a_township_officer_acknowledges_and_closes_an_overdue_alert(platform, world, new_tab, settings_for):
    headers = await api_login(platform, world["a"])
    name = f"逾期{TAG}"
    member = await new_member(platform, headers, name, home_branch_id=world["village"])
    start = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    reply = await platform.http.post(f"/api/v1/tenants/{A}/members/{member['id']}/flows", headers=headers, json={
        "destination_code": "420100", "address": "武汉市江汉区", "industry": "物流", "start_date": start,
        "expected_months": 12})
    assert reply.status_code == 201, reply.text
    # The policy timers run on a schedule in production; here one sweep of county A fires them now.
    settings = settings_for("registry")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        deps = RegistryDeps(db=db, cipher=FieldCipher.from_settings(settings),
                            blind_index=BlindIndex.from_settings(settings), clock=lambda: datetime.now(UTC))
        await timers.sweep_county(deps=deps, tenant=A, now=datetime.now(UTC))
    finally:
        await db.close()

    page = await new_tab()
    await login(page, world["township"])
    await page.goto("/alerts")
    row = page.locator(".alerts .el-table__row", has_text=name)
    await row.wait_for()
    await expect(row.get_by_text("上报县委组织部")).to_be_visible()
    await expect(row.get_by_text("报到逾期")).to_be_visible()
    await shoot(page, "alerts")

    await row.get_by_role("button", name="确认").click()
    confirm = page.get_by_role("dialog", name="确认预警")
    await confirm.get_by_label("处理说明").fill("已安排村党支部联系本人")
    await shoot(page, "alerts-acknowledge-dialog")
    await confirm.get_by_role("button", name="确认", exact=True).click()
    await expect(row.get_by_text("处理中")).to_be_visible()

    await row.get_by_role("button", name="办结").click()
    close = page.get_by_role("dialog", name="办结预警")
    await close.get_by_role("button", name="办结", exact=True).click()
    await expect(close.get_by_text("请填写处理结果")).to_be_visible()
    await close.get_by_label("处理说明").fill("已联系本人，已到流入地党组织报到")
    await shoot(page, "alerts-close-dialog")
    await close.get_by_role("button", name="办结", exact=True).click()
    await expect(row).to_have_count(0)
    await shoot(page, "alerts-handled")

    await page.locator(".el-radio-button", has_text="已办结").click()
    done = page.locator(".alerts .el-table__row", has_text=name)
    await done.wait_for()
    await done.locator(".el-table__expand-icon").click()
    await expect(page.get_by_text("办结：已联系本人，已到流入地党组织报到")).to_be_visible()
    await shoot(page, "alerts-closed-history")

    listed = (await platform.http.get(f"/api/v1/tenants/{A}/alerts?state=closed&page_size=200",
                                      headers=headers)).json()
    case = next(c for c in listed["items"] if c["member_id"] == member["id"])
    assert case["closed_by"] == world["township"] and case["state"] == "closed"
    other = await api_login(platform, world["b"])
    for tenant in (A, B):
        reply = await platform.http.post(f"/api/v1/tenants/{tenant}/alerts/{case['id']}/close",
                                         json={"note": "越界办结"}, headers=other)
        assert reply.status_code == 404, (tenant, reply.text)
