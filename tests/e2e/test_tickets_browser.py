"""服务工单 and 转办管理 in the console, in a real headless Chromium against the real services (issue 13 §8).

A member of HOME (650470) works in AWAY (650471): 外出登记, placed at AWAY's 驻城党建工作站 and 报到 there. The
station's staff file a walk-in 讨薪 ticket for this guest (a wrong amount shows the field error in Chinese under
its input), then 受理 → 请补充材料 → 恢复办理 → (a photo attached and downloaded) → 办结 it; AWAY's county admin
finds it in the county's view. A ticket the station refers (转办) to HOME is accepted in HOME's browser, which then
links to HOME's own new ticket; HOME's browser gets 工单不存在 for AWAY's ticket.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import grpc
import pytest
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.registry.v1 import flows_pb2
from tests.e2e.conftest import CONSOLE_PASSWORD, login, shoot
from tests.integration.conftest import bearer, eventually
from tests.support import member_request

HOME, AWAY = "650470", "650471"  # this helper's counties: 650470–650474
TAG = uuid.uuid4().hex[:6]
K = pb.OrgKind


def _png() -> bytes:
    """A real 1×1 PNG (the desk checks a file's content, not only its name)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


async def _root(orgs: Any, md: Any, name: str) -> str:
    try:
        return (await orgs.CreateOrg(pb.CreateOrgRequest(name=name, kind=K.ORG_KIND_COUNTY_COMMITTEE),
                                     metadata=md)).org.id
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        return (await orgs.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)).orgs[0].id


async def _add(orgs: Any, md: Any, parent: str, name: str, kind: int) -> str:
    return (await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=f"{name}{TAG}", kind=kind),
                                 metadata=md)).org.id


@pytest.fixture(scope="module")
async def world(platform, county_token, console_account, admin_conn_factory) -> dict[str, str]:
    """AWAY's station with a 临时党支部; a HOME member who works in AWAY, checked in there; the desk knows them."""
    md = {c: bearer(county_token(c)) for c in (HOME, AWAY)}
    orgs, registry = platform.organizations_stub, platform.registry_stub
    home_root = await _root(orgs, md[HOME], "中共庚县委员会")
    town = await _add(orgs, md[HOME], home_root, "庚县城关镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE)
    branch = await _add(orgs, md[HOME], town, "庚县南关村党支部", K.ORG_KIND_VILLAGE_BRANCH)
    away_root = await _root(orgs, md[AWAY], "中共辛县委员会")
    station = await _add(orgs, md[AWAY], away_root, "辛县驻城党建工作站", K.ORG_KIND_TOWN_STATION)
    temp = await _add(orgs, md[AWAY], station, "工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)

    name = f"郑明{TAG[:2]}"

    async def created() -> Any:
        # The registry learns of a new branch through events: until then the home branch is unknown.
        try:
            return (await registry.CreateMember(member_request(HOME, name=name, home_branch_id=branch),
                                                metadata=md[HOME])).member
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.INVALID_ARGUMENT:
                return None
            raise

    member = await eventually(created, timeout=30)
    flow = (await registry.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=AWAY, address="辛县建设路 8 号工地", industry="建筑",
        start_date=date.today().isoformat(), expected_months=10), metadata=md[HOME])).flow

    async def offered() -> Any:
        page = await orgs.ListMemberships(pb.ListMembershipsRequest(statuses=[pb.MEMBERSHIP_STATUS_OFFERED],
                                                                    page_size=200), metadata=md[AWAY])
        return next((m for m in page.memberships if m.flow_id == flow.id), None)

    held = await eventually(offered, timeout=30)
    assert held.org_id == temp
    await orgs.CheckInMembership(pb.CheckInMembershipRequest(id=held.id), metadata=md[AWAY])

    desk = await admin_conn_factory("desk")

    async def known() -> bool:
        return bool(await desk.fetchval("SELECT count(*) FROM desk_guests WHERE tenant_id = $1 AND member_id = $2",
                                        AWAY, uuid.UUID(member.id)))

    await eventually(known, timeout=30)
    return {
        "member": member.id, "name": name, "station": station,
        "staff": await console_account(f"tk-station-{AWAY}-{TAG}", Role.STATION_STAFF, AWAY, org=station,
                                       display_name="王敏（工作站）"),
        "away": await console_account(f"tk-county-{AWAY}", Role.COUNTY_ADMIN, AWAY),
        "home": await console_account(f"tk-county-{HOME}", Role.COUNTY_ADMIN, HOME),
    }


async def _headers(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": CONSOLE_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def _pick(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the el-select of the dialog's form item labelled ``label``."""
    await page.locator(".el-dialog .el-form-item", has_text=label).locator(".el-select").first.click()
    await page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()


async def _act(page: Page, button: str, field: str | None = None, text: str = "") -> None:
    """Press an action of the ticket page, fill its dialog's one field, confirm."""
    await page.locator("[data-test=actions]").get_by_role("button", name=button, exact=True).click()
    dialog = page.locator(".el-dialog:visible")
    if field:
        await dialog.get_by_label(field).fill(text)
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog).to_be_hidden()


async def test_the_station_files_a_walk_in_wages_ticket_and_works_it_to_resolved(
        page: Page, new_tab: Callable[..., Awaitable[Page]], world: dict[str, str]) -> None:
    await login(page, world["staff"])
    await page.goto("/tickets")
    await expect(page.get_by_role("heading", name="服务工单")).to_be_visible()
    await expect(page.locator("[data-test=queue-bar]")).to_be_visible()
    # 值班: the staff member joins the queue's round robin.
    bar = page.locator("[data-test=queue-bar]")
    await bar.locator(".el-switch").click()
    await expect(bar).to_contain_text("在岗值班 1 人")
    await shoot(page, "tickets-station-queue")

    await page.get_by_role("button", name="登记诉求").click()
    dialog = page.locator(".el-dialog:visible")
    await dialog.get_by_text("流入党员", exact=True).click()
    await _pick(page, "党员", world["name"])
    await _pick(page, "服务类别", "讨薪")
    await dialog.get_by_label("标题").fill("工地拖欠三个月工资")
    await dialog.get_by_label("工作单位").fill("辛县某建筑公司")
    # A wrong amount: the server's message, in Chinese, under the 拖欠金额 input.
    await dialog.get_by_label("拖欠金额").fill("0")
    await dialog.get_by_role("button", name="登记").click()
    amount_item = dialog.locator(".el-form-item[data-field=unpaid_amount_fen]")
    error = amount_item.locator(".el-form-item__error")
    await expect(error).to_be_visible()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in await error.inner_text()), "the field error is not in Chinese"
    await shoot(page, "tickets-file-dialog-error")

    await dialog.get_by_label("拖欠金额").fill("18600")
    await expect(error).to_be_hidden()
    await dialog.get_by_role("button", name="登记").click()
    await page.wait_for_url("**/tickets/*")
    status = page.locator("[data-test=status]")
    await expect(status).to_have_text("新建")
    await expect(page.locator("[data-form=unpaid_amount_fen]")).to_have_text("18,600.00 元")
    number = (await page.locator("h1 .mono").inner_text()).strip()

    await _act(page, "受理", "受理答复", "您的诉求已受理，承办人今天联系您")
    await expect(status).to_have_text("已受理")
    # 轮流分派 among the staff on duty: the only one on duty gets it.
    await page.locator("[data-test=actions]").get_by_role("button", name="分派", exact=True).click()
    assign = page.locator(".el-dialog:visible")
    await assign.get_by_text("轮流分派").click()
    await assign.get_by_role("button", name="确定").click()
    await expect(assign).to_be_hidden()
    await expect(page.locator("[data-test=assignee]")).not_to_have_text("未分派")
    await _act(page, "请补充材料", "需要补充的材料", "请提供劳动合同或工资条照片")
    await expect(status).to_have_text("待补充材料")
    await expect(page.locator("[data-clock=resolution] .el-tag")).to_have_text("已暂停")
    await _act(page, "恢复办理")
    await expect(status).not_to_have_text("待补充材料")
    # The member's 工资条, photographed at the window: uploaded, then downloadable under its own name.
    await page.locator("input[type=file]").set_input_files(
        files=[{"name": "工资条.png", "mimeType": "image/png", "buffer": _png()}])
    link = page.locator("[data-test=attachment] .el-link", has_text="工资条.png")
    await expect(link).to_be_visible()
    async with page.expect_download() as download:
        await link.click()
    assert (await download.value).suggested_filename == "工资条.png"
    await _act(page, "办结", "办理结果", "经协调，用人单位已结清拖欠工资")
    await expect(status).to_have_text("已办结")
    await expect(page.locator(".history")).to_contain_text("请提供劳动合同或工资条照片")
    await shoot(page, "ticket-detail-resolved")

    # The county department sees the station's ticket in the county's view.
    county = await new_tab()
    await login(county, world["away"])
    await county.goto("/tickets")
    await county.get_by_label("搜索工单").fill(number)
    await county.get_by_role("button", name="查询").click()
    row = county.locator(".tickets .el-table__row", has_text=number)
    await expect(row).to_contain_text("已办结")
    await expect(row).to_contain_text(world["name"])
    await shoot(county, "tickets-county-overview")
    # 服务台账: the county's tickets as a spreadsheet.
    async with county.expect_download() as ledger:
        await county.get_by_role("button", name="导出服务台账").click()
    assert (await ledger.value).suggested_filename.endswith(".xlsx")


async def test_a_referral_is_accepted_in_the_receiving_countys_browser(
        platform, page: Page, world: dict[str, str]) -> None:
    staff = await _headers(platform, world["staff"])
    filed = await platform.http.post(f"/api/v1/tenants/{AWAY}/tickets", headers=staff, json={
        "category": "legal_wages", "title": "需户籍地协调的欠薪", "form": {"employer": "辛县某劳务公司",
                                                                     "unpaid_amount_fen": 960000},
        "member_home_tenant_id": HOME, "member_id": world["member"], "channel": "walk_in"})
    assert filed.status_code == 201, filed.text
    ticket = filed.json()
    referred = await platform.http.post(f"/api/v1/tenants/{AWAY}/tickets/{ticket['id']}/referrals", headers=staff,
                                        json={"to_tenant_id": HOME, "reason": "劳务公司注册在户籍地，请协调劳动监察"})
    assert referred.status_code == 201, referred.text
    referral_id = referred.json()["id"]
    home = await _headers(platform, world["home"])

    async def arrived() -> bool:
        reply = await platform.http.get(f"/api/v1/tenants/{HOME}/ticket-referrals/{referral_id}", headers=home)
        return reply.status_code == 200

    await eventually(arrived, timeout=30)

    await login(page, world["home"])
    await page.goto("/ticket-referrals")
    row = page.locator(".referrals .el-table__row", has_text="需户籍地协调的欠薪")
    await expect(row).to_contain_text("待接收")
    await shoot(page, "ticket-referrals-incoming")
    await row.get_by_role("button", name="接收").click()
    dialog = page.locator(".el-dialog:visible")
    await expect(dialog).to_contain_text("需户籍地协调的欠薪")
    await dialog.get_by_role("button", name="确认接收").click()
    await expect(dialog).to_be_hidden()
    await expect(row).to_contain_text("已接收")
    await row.locator("[data-test=local-ticket]").click()
    await page.wait_for_url("**/tickets/*")
    await expect(page.locator("[data-test=status]")).to_have_text("新建")
    await expect(page.locator(".ticket")).to_contain_text("需户籍地协调的欠薪")

    # The station's side learns of the acceptance (the saga's answer).
    async def answered() -> bool:
        reply = await platform.http.get(f"/api/v1/tenants/{AWAY}/tickets/{ticket['id']}", headers=staff)
        # The desk keeps the status as its enum name (ACCEPTED); the wire passes it as kept.
        return (reply.json().get("outgoing_referral_status") or "").lower() == "accepted"

    await eventually(answered, timeout=30)


async def test_another_countys_ticket_is_not_found_in_the_console(platform, page: Page, world: dict[str, str]) -> None:
    staff = await _headers(platform, world["staff"])
    page_of = await platform.http.get(f"/api/v1/tenants/{AWAY}/tickets", headers=staff, params={"page_size": 1})
    assert page_of.status_code == 200, page_of.text
    tickets = page_of.json()["tickets"]
    if not tickets:
        pytest.skip("no ticket of AWAY yet (run with the filing test)")
    await login(page, world["home"])
    await page.goto(f"/tickets/{tickets[0]['id']}")
    await expect(page.get_by_text("工单不存在，或不在您的办理范围内")).to_be_visible()


async def test_the_county_admin_edits_a_categorys_service_levels_in_working_days(
        page: Page, console_account) -> None:
    county = "650473"
    admin = await console_account(f"tk-county-{county}", Role.COUNTY_ADMIN, county)
    await login(page, admin)
    await page.goto("/ticket-categories")
    row = page.locator(".categories .el-table__row", has_text="岗位推荐")
    await expect(row).to_contain_text("个工作日")  # 420 working minutes read as 1 working day
    await row.get_by_role("button", name="编辑").click()
    drawer = page.locator(".el-drawer:visible")
    # A name the desk refuses: its message is shown, in Chinese, and nothing is saved.
    await drawer.get_by_label("名称").fill("")
    await drawer.get_by_role("button", name="保存").click()
    refused = drawer.locator(".el-form-item__error, .el-alert")
    await expect(refused.first).to_be_visible()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in await refused.first.inner_text())
    await shoot(page, "ticket-categories-error")
    await drawer.get_by_label("名称").fill("岗位推荐")
    await drawer.get_by_label("办结（工作日）").fill("12")
    await drawer.get_by_role("button", name="保存").click()
    await expect(drawer).to_be_hidden()
    await expect(row).to_contain_text("12 个工作日")
    await shoot(page, "ticket-categories")
