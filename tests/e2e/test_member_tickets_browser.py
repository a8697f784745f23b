"""我的诉求 on the member's phone (issue 13 §8) in a real Chromium at 390×844: the member files a 讨薪 request (a bad
amount is refused under its field), sees it listed, supplies the materials the desk asked for with a photo (the
ticket is back 处理中), and rates the resolved request 5 stars. Staff act over HTTP in between.

This file's counties: 650475 (the member's home county, whose desk serves the request).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.conftest import login, shoot
from tests.integration.conftest import eventually
from tests.support import member_json

HOME = "650475"
TAG = uuid.uuid4().hex[:6]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def png(width: int = 24, height: int = 16) -> bytes:
    """A small, real PNG (a red-to-gold gradient): what a phone's camera would hand over, only smaller."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"".join(bytes((200, 22 + 8 * x, 29)) for x in range(width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def snap(tab: Page, name: str) -> None:
    """A screenshot from the top of the page (the phone's title bar is fixed: scrolled, it would cover a field)."""
    await expect(tab.locator(".el-loading-mask")).to_have_count(0)
    await tab.evaluate("window.scrollTo(0, 0)")
    await shoot(tab, name)


async def staff_move(platform, admin: dict[str, str], ticket_id: str, action: str, **body: object) -> dict:
    """A county officer's act on the ticket over HTTP, with the version it was read at."""
    base = f"/api/v1/tenants/{HOME}/tickets/{ticket_id}"
    version = (await platform.http.get(base, headers=admin)).json()["version"]
    reply = await platform.http.post(f"{base}/{action}", headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
                                     json={**body, "version": version})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_the_member_files_a_wage_claim_supplies_a_photo_and_rates_the_resolution(
    platform, county_token, console_account, admin_conn_factory, new_tab: Callable[..., Awaitable[Page]],
):
    admin = auth(county_token(HOME))
    reply = await platform.http.post(f"/api/v1/tenants/{HOME}/members", headers=admin,
                                     json=member_json(HOME, name=f"求助{TAG}", phone="13700001357"))
    assert reply.status_code == 201, reply.text
    member = reply.json()["id"]
    desk = await admin_conn_factory("desk")

    async def replicated() -> bool:
        return bool(await desk.fetchval("SELECT count(*) FROM desk_members WHERE tenant_id = $1 AND id = $2::uuid",
                                        HOME, member))

    await eventually(replicated, timeout=30)
    user = await console_account(f"tickets-{TAG}", Role.MEMBER, HOME, member=member)

    tab = await new_tab(phone=True)
    await login(tab, user)
    await tab.goto("/m/tickets")
    await expect(tab.get_by_text("您还没有提出过诉求")).to_be_visible()
    await snap(tab, "member-tickets-empty")

    # 我要求助 → 法律援助 · 讨薪, with an amount the desk refuses (nothing owed).
    await tab.get_by_role("link", name="我要求助").first.click()
    await tab.wait_for_url("**/m/tickets/new")
    await expect(tab.get_by_role("heading", name="法律援助")).to_be_visible()
    await snap(tab, "member-ticket-categories")
    await tab.locator("button[data-category='legal_wages']").click()
    await tab.get_by_label("诉求标题").fill(f"工地拖欠三个月工资{TAG}")
    await tab.locator("[data-field='employer'] input").fill("县城某建筑劳务有限公司")
    amount = tab.locator("[data-field='unpaid_amount_fen']")
    await amount.locator("input").fill("0")
    await tab.get_by_label("详细情况").fill("包工头拖欠 9 月至 11 月工资，多次讨要未果。")
    await tab.get_by_role("button", name="提交诉求").click()
    error = amount.locator(".el-form-item__error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("拖欠金额")
    await expect(amount.locator("input")).to_be_in_viewport()
    await snap(tab, "member-ticket-bad-amount")

    await amount.locator("input").fill("12000.50")
    await expect(error).to_have_count(0)
    await tab.get_by_role("button", name="提交诉求").click()
    await tab.wait_for_url(lambda url: "/m/tickets/" in url and not url.endswith("/new"))
    ticket_id = tab.url.rstrip("/").rsplit("/", 1)[-1]
    await expect(tab.get_by_text("新建", exact=True)).to_be_visible()
    await expect(tab.get_by_text("12,000.50 元")).to_be_visible()
    await snap(tab, "member-ticket-filed")

    filed = (await platform.http.get(f"/api/v1/tenants/{HOME}/tickets/{ticket_id}", headers=admin)).json()
    assert filed["form"]["unpaid_amount_fen"] == 1_200_050
    assert filed["channel"] == "member_app"

    await tab.goto("/m/tickets")
    card = tab.get_by_role("link", name=f"诉求 工地拖欠三个月工资{TAG}")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text(filed["number"])
    await snap(tab, "member-tickets-list")

    # The desk accepts, starts and asks for materials; the member supplies a photo and a note.
    await staff_move(platform, admin, ticket_id, "accept", message="已受理，请保持电话畅通。")
    await staff_move(platform, admin, ticket_id, "start")
    await staff_move(platform, admin, ticket_id, "request-info", message="请上传工资条或考勤记录的照片。")
    await card.click()
    box = tab.get_by_role("region", name="补充材料")
    await expect(box).to_be_visible()
    await expect(box).to_contain_text("请上传工资条或考勤记录的照片")
    await tab.get_by_label("上传材料").set_input_files(
        files=[{"name": "工资条.png", "mimeType": "image/png", "buffer": png()}])
    await expect(box).to_contain_text("工资条.png")
    await tab.get_by_label("补充说明").fill("工资条照片已上传，考勤表在包工头手里。")
    await snap(tab, "member-ticket-supply")
    await tab.get_by_role("button", name="提交补充材料").click()
    await expect(tab.get_by_text("处理中", exact=True).first).to_be_visible()
    await expect(box).to_have_count(0)
    await snap(tab, "member-ticket-resumed")

    resumed = (await platform.http.get(f"/api/v1/tenants/{HOME}/tickets/{ticket_id}", headers=admin)).json()
    assert resumed["status"] == "in_progress"
    assert resumed["attachment_count"] == 1

    # The desk resolves; the member gives 5 stars.
    await staff_move(platform, admin, ticket_id, "resolve", resolution="已协调劳动监察大队，用人单位已支付拖欠工资。")
    await tab.reload()
    await expect(tab.get_by_role("region", name="办理结果")).to_contain_text("已协调劳动监察大队")
    await tab.get_by_role("region", name="满意度回访").locator(".el-rate__item").nth(4).click()
    await tab.get_by_label("评价意见").fill("工资拿到了，感谢工作站！")
    await snap(tab, "member-ticket-rate")
    await tab.get_by_role("button", name="提交评价").click()
    await expect(tab.get_by_text("已回访", exact=True).first).to_be_visible()
    await snap(tab, "member-ticket-reviewed")

    async def rated() -> dict | None:
        got = (await platform.http.get(f"/api/v1/tenants/{HOME}/tickets/{ticket_id}", headers=admin)).json()
        return got if got["status"] == "reviewed" else None

    final = await eventually(rated, timeout=10)
    assert final["rating"] == 5
    assert final["rating_comment"] == "工资拿到了，感谢工作站！"
