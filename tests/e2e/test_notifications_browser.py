"""消息中心 and the county's notification settings in a real headless Chromium (issue 15 §7).

A township officer of TOWN_COUNTY logs in: the bell shows two unread notices of an overdue 报到 that climbed to the
township (第2级); the inbox offers 确认已处理 — acknowledging marks the item 已确认 and the escalation acknowledged
over HTTP; opening an item marks it read and the bell counts one less; a notice raised while the page is open moves
the bell without a reload (the stream). ADMIN_COUNTY's department edits a template, previews it with the sample
facts and saves a new version, then saves the e-mail settings with a password (shown only as 已设置). A member
sees their notice in 我的消息 on the phone (390×844).

This file's counties: 650690 (the township's), 650691 (the templates and channels), 650692 (the member's).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from jinqiao.notifications.deliveries import service as deliveries
from jinqiao.notifications.deliveries.domain import Notice
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory.domain import Recipient
from jinqiao.notifications.escalations import service as escalations
from tests.e2e.conftest import CONSOLE_DIST, login
from tests.e2e.test_member_tickets_browser import snap

TOWN_COUNTY, ADMIN_COUNTY, MEMBER_COUNTY = "650690", "650691", "650692"
TAG = uuid.uuid4().hex[:6]
FACTS = {"member_name": "张三", "due_date": "2026-11-20", "destination": "福安市"}
# The stream asks for the bell every 2 s; a new notice must show within this (milliseconds).
LIVE = 10_000


def _built_with_notification_pages() -> bool:
    """Whether the built console (make console) has the notification pages yet."""
    return CONSOLE_DIST.exists() and any((CONSOLE_DIST.parent / "assets").glob("InboxPage-*.js"))


pytestmark = pytest.mark.skipif(not _built_with_notification_pages(),
                                reason="the built console has no 消息中心 pages yet: run `make console`")


@pytest.fixture
async def deps(settings_for) -> AsyncIterator[NotificationsDeps]:
    """The notifications service's deps on its own database (RLS applies), as the service builds them."""
    settings = settings_for("notifications")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    yield NotificationsDeps(db=db, cipher=FieldCipher.from_settings(settings))
    await db.close()


async def _org(conn, county: str, kind: str, name: str, parent: str | None) -> str:
    org_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO dir_orgs (tenant_id, id, parent_id, kind, name) VALUES ($1, $2, $3, $4, $5)",
                       county, org_id, parent, kind, name)
    return org_id


async def _appoint(conn, county: str, org_id: str, position: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO dir_appointments (tenant_id, id, officer_id, org_id, position, officer_name, phone_masked)"
        " VALUES ($1, $2, $3, $4, $5, $6, '138****0000')", county, str(uuid.uuid4()), str(uuid.uuid4()), org_id,
        position, name)


async def _overdue(deps: NotificationsDeps, county: str, village: str, *, name: str) -> str:
    """An overdue 报到 of a new flow: told to the village (第1级), then climbed to the township (第2级)."""
    flow = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=county) as uow:
        for level in (1, 2):
            await escalations.raise_escalation(
                uow, deps=deps, kind="check_in_overdue", subject_id=flow, member_id=str(uuid.uuid4()),
                start_org_id=village, level=level, facts={**FACTS, "member_name": name}, link="",
                event_id=str(uuid.uuid4()), now=datetime.now(UTC))
        await uow.commit()
    return flow


def bell(tab: Page):
    return tab.locator("[data-test=bell]")


def unread(n: int) -> str:
    return f"消息中心，{n} 条未读" if n else "消息中心，没有未读消息"


async def test_a_township_officer_acknowledges_an_overdue_check_in_and_the_bell_follows_live(
    platform, county_token, console_account, admin_conn_factory, deps, new_tab: Callable[..., Awaitable[Page]],
):
    conn = await admin_conn_factory("notifications")
    committee = await _org(conn, TOWN_COUNTY, "COUNTY_COMMITTEE", "县委", None)
    township = await _org(conn, TOWN_COUNTY, "TOWNSHIP_COMMITTEE", f"段集镇党委{TAG}", committee)
    village = await _org(conn, TOWN_COUNTY, "VILLAGE_BRANCH", f"柳树村党支部{TAG}", township)
    await _appoint(conn, TOWN_COUNTY, village, "LIAISON", "李联络")
    await _appoint(conn, TOWN_COUNTY, township, "SECRETARY", "王书记")
    first = await _overdue(deps, TOWN_COUNTY, village, name="张三")
    await _overdue(deps, TOWN_COUNTY, village, name="李四")
    user = await console_account(f"town-{TAG}", Role.TOWNSHIP_OFFICER, TOWN_COUNTY, org=township,
                                 display_name="王书记")

    tab = await new_tab()
    await login(tab, user)
    await expect(bell(tab)).to_have_attribute("aria-label", unread(2))
    await bell(tab).click()
    await expect(tab.locator("[data-test=bell-list]").locator("button")).to_have_count(2)
    await expect(tab.locator("[data-test=bell-list]")).to_contain_text("第2级")
    await snap(tab, "notifications-bell")

    await tab.locator("[data-test=bell-all]").click()
    await tab.wait_for_url("**/notifications")
    items = tab.locator("[data-test=inbox-item]")
    await expect(items).to_have_count(2)
    zhang = items.filter(has_text="张三")
    await expect(zhang).to_contain_text("逐级提醒 · 第2级")
    await snap(tab, "notifications-inbox")

    # 确认已处理: the item says 已确认 and the escalation stops climbing (acknowledged over HTTP).
    await zhang.locator("[data-test=acknowledge]").click()
    dialog = tab.get_by_role("dialog", name="确认已处理")
    await dialog.get_by_role("textbox").fill("已电话联系本人，约定三日内报到")
    await snap(tab, "notifications-acknowledge")
    await dialog.get_by_role("button", name="确认", exact=True).click()
    await expect(zhang).to_contain_text("第2级 · 已确认")
    await expect(zhang.locator("[data-test=acknowledge]")).to_have_count(0)
    admin = {"Authorization": f"Bearer {county_token(TOWN_COUNTY)}"}
    reply = await platform.http.get(f"/api/v1/tenants/{TOWN_COUNTY}/escalations", headers=admin)
    assert reply.status_code == 200, reply.text
    acked = next(e for e in reply.json()["escalations"] if e["subject_id"] == first)
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == user
    assert acked["note"] == "已电话联系本人，约定三日内报到" and acked["next_escalation_at"] is None
    await expect(bell(tab)).to_have_attribute("aria-label", unread(2))

    # Opening an item marks it read: the bell counts one less.
    await zhang.locator("button[aria-expanded]").click()
    await expect(zhang).to_contain_text("张三")
    await expect(bell(tab)).to_have_attribute("aria-label", unread(1))
    await snap(tab, "notifications-inbox-acknowledged")

    # A new notice while the page is open: the stream moves the bell, no reload.
    marker = await tab.evaluate("window.__notReloaded = true")
    assert marker
    await _overdue(deps, TOWN_COUNTY, village, name="王五")
    await expect(bell(tab)).to_have_attribute("aria-label", unread(2), timeout=LIVE)
    await expect(items.filter(has_text="王五")).to_have_count(1, timeout=LIVE)
    assert await tab.evaluate("window.__notReloaded === true")
    await snap(tab, "notifications-inbox-live")


async def test_a_county_admin_versions_a_template_and_keeps_the_mail_password_secret(
    console_account, new_tab: Callable[..., Awaitable[Page]],
):
    user = await console_account(f"notify-admin-{TAG}", Role.COUNTY_ADMIN, ADMIN_COUNTY)
    tab = await new_tab()
    await login(tab, user)
    await tab.goto("/notifications/templates")
    await expect(tab.get_by_role("heading", name="通知模板")).to_be_visible()
    rows = tab.locator("[data-test=templates]").locator("tbody tr")
    row = rows.filter(has_text="check_in_overdue").filter(has_text="站内信")
    await expect(row).to_have_count(1)
    # One kind's four channels: a short page (the full list makes a 4,000-pixel screenshot).
    await tab.get_by_label("搜索通知类型").fill("check_in_overdue")
    await expect(rows).to_have_count(4)
    await snap(tab, "notifications-templates")

    await row.get_by_role("button", name="编辑").click()
    drawer = tab.get_by_role("dialog")
    body = drawer.get_by_role("textbox", name="正文")
    await expect(body).not_to_have_value("")
    await body.fill(f"【{TAG}】{{{{ member_name }}}}同志应于{{{{ due_date }}}}前到{{{{ destination }}}}报到，"
                    "请尽快联系。")
    await drawer.get_by_role("button", name="预览").click()
    preview = drawer.locator("[data-test=template-preview]")
    await expect(preview).to_contain_text(f"【{TAG}】张三同志应于2026-11-20前到福安市报到")
    await snap(tab, "notifications-template-preview")
    await drawer.get_by_role("button", name="保存为新版本").click()
    await expect(tab.get_by_text(re.compile(r"已保存为第 \d+ 版"))).to_be_visible()
    await expect(row).to_contain_text(re.compile(r"本县第 \d+ 版"))
    await snap(tab, "notifications-template-saved")

    await tab.goto("/notifications/channels")
    await expect(tab.get_by_role("heading", name="通知渠道")).to_be_visible()
    email = tab.locator("[data-test=channel-email]")
    password = "Mail-Secret-" + TAG
    await email.get_by_label("邮件服务器地址").fill("127.0.0.1")
    await email.get_by_label("端口").fill("2525")
    await email.get_by_label("登录账号").fill("notice")
    await email.get_by_label("登录密码").fill(password)
    await email.get_by_label("发件地址").fill("notice@example.gov.cn")
    await email.get_by_label("发件人名称").fill("县委组织部")
    await email.get_by_role("button", name="保存").click()
    await expect(tab.get_by_text("电子邮件设置已保存")).to_be_visible()
    secret = email.get_by_label("登录密码")
    await expect(secret).to_have_value("")
    await expect(secret).to_have_attribute("placeholder", "已设置（留空则不变）")
    await tab.reload()
    await expect(tab.locator("[data-test=channel-email]").get_by_label("登录密码")).to_have_attribute(
        "placeholder", "已设置（留空则不变）")
    assert password not in await tab.content()
    await snap(tab, "notifications-channels")


async def test_a_member_reads_their_notice_on_the_phone(console_account, deps,
                                                        new_tab: Callable[..., Awaitable[Page]]):
    member = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=MEMBER_COUNTY) as uow:
        await deliveries.notify(uow, deps=deps, notice=Notice(
            source_key=str(uuid.uuid4()), kind="certificate_expiring",
            facts={"member_name": "赵六", "due_date": "2026-12-31"}),
            recipients=[Recipient(address=f"member:{member}", tenant=MEMBER_COUNTY, label="赵六")],
            now=datetime.now(UTC))
        await uow.commit()
    user = await console_account(f"inbox-member-{TAG}", Role.MEMBER, MEMBER_COUNTY, member=member)

    tab = await new_tab(phone=True)
    await login(tab, user)
    await tab.goto("/m/inbox")
    items = tab.locator("[data-test=inbox-item]")
    await expect(items).to_have_count(1)
    await expect(items).to_contain_text("2026-12-31")
    await expect(bell(tab)).to_have_attribute("aria-label", unread(1))
    await snap(tab, "member-inbox")
