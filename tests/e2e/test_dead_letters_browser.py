"""事件异常 in a real headless Chromium: the county admin sees an event a service gave up on, with its reason and never
its content, opens its details, and applies it again after confirming; an event applied meanwhile is not applied
twice."""

from __future__ import annotations

import json

from playwright.async_api import Page, expect

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from tests.e2e.conftest import login, shoot
from tests.integration.kit.test_event_delivery import built_event

COUNTY = "650364"  # this file's county (650361–650369 belong to the workbench helper's tests)
CONSUMER = "insights-member-counts"


async def file_applied_dead_letter(conn, reason: str) -> registry_events_pb2.MemberRegistered:
    """A dead letter of insights' member counter whose event the consumer has applied meanwhile (its inbox row)."""
    event = built_event(COUNTY)
    subject = ev.subject(tenant=COUNTY, service="registry", message_cls=registry_events_pb2.MemberRegistered)
    headers = ev.headers_for(event_id=event.meta.event_id, event_type=ev.event_type(type(event)), event_version=1,
                             tenant=COUNTY, traceparent=None)
    await conn.execute("INSERT INTO inbox (tenant_id, consumer, event_id) VALUES ($1, $2, $3)", COUNTY, CONSUMER,
                       event.meta.event_id)
    await conn.execute(
        "INSERT INTO dead_letters (tenant_id, consumer, subject, event_id, event_type, headers, payload, error,"
        " deliveries) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, 5)",
        COUNTY, CONSUMER, subject, event.meta.event_id, ev.event_type(type(event)), json.dumps(headers),
        event.SerializeToString(), reason)
    return event


async def test_the_county_admin_applies_a_stopped_event_again_and_it_is_not_applied_twice(
        page: Page, admin_conn_factory, console_account):
    reason = "FailedPrecondition: 浏览器测试：所属组织尚未同步"
    conn = await admin_conn_factory("insights")
    event = await file_applied_dead_letter(conn, reason)
    user = await console_account(f"dl-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY)

    await login(page, user)
    await page.get_by_role("menuitem", name="事件异常").click()
    await page.wait_for_url("**/operations/dead-letters")
    row = page.get_by_role("row").filter(has_text=event.meta.event_id)
    await expect(row).to_have_count(1)
    for text in ("登记党员", "统计分析", "待处理"):
        await expect(row).to_contain_text(text)
    assert event.member_id not in await page.content()  # what the event was, never what it carried
    await shoot(page, "dead-letters")

    await row.get_by_role("button", name="详情").click()
    drawer = page.get_by_role("dialog", name="异常事件详情")
    await expect(drawer).to_contain_text(reason)
    await expect(drawer).to_contain_text("事件内容不在控制台显示")
    assert event.member_id not in await page.content()
    await shoot(page, "dead-letter-detail")
    await drawer.get_by_role("button", name="重新处理").click()
    confirm = page.get_by_role("dialog", name="重新处理该事件？")
    await expect(confirm).to_contain_text("已经应用过的事件不会重复应用")
    await confirm.get_by_role("button", name="重新处理").click()
    await expect(page.get_by_text("无需重复处理")).to_be_visible()
    await expect(drawer).to_contain_text(f"已处理（{user}")
    await drawer.get_by_role("button", name="Close").or_(drawer.get_by_label("关闭此对话框")).first.click()
    await expect(row).to_contain_text("已处理")
    await expect(row).to_contain_text(user)
    await expect(row.get_by_role("button", name="重新处理")).to_have_count(0)
    assert await conn.fetchval("SELECT count(*) FROM inbox WHERE tenant_id = $1 AND consumer = $2 AND event_id = $3",
                               COUNTY, CONSUMER, event.meta.event_id) == 1

    # Only what is still pending is listed by default: after a reload the handled one is gone from the list.
    await page.reload()
    await expect(page.locator("#dead-letters")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=event.meta.event_id)).to_have_count(0)
    await page.get_by_role("radio", name="已处理").check(force=True)
    await expect(page.get_by_role("row").filter(has_text=event.meta.event_id)).to_have_count(1)


async def test_the_county_admin_registers_a_county_system_sees_its_secret_once_and_disables_it(
        page: Page, console_account):
    user = await console_account(f"clients-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY)
    await login(page, user)
    await page.goto("/operations/clients")
    await page.get_by_role("button", name="新建对接系统").click()
    dialog = page.get_by_role("dialog", name="新建对接系统")
    await dialog.get_by_role("button", name="创建").click()
    # Nothing chosen: each field says what is missing, in Chinese, beside it.
    await expect(dialog.locator(".el-form-item__error")).not_to_have_count(0)
    assert "permissions" not in await dialog.inner_text()
    await dialog.get_by_label("系统名称").fill("测试县党员信息系统")
    await dialog.get_by_text("查询党员信息").click()
    await dialog.get_by_role("button", name="创建").click()

    shown = page.get_by_role("dialog", name="对接系统已创建")
    await expect(shown).to_contain_text("密钥只显示这一次")
    secret = (await shown.locator("[data-secret]").inner_text()).strip()
    assert len(secret) >= 20
    await shoot(page, "clients-secret")
    await shown.get_by_role("button", name="我已保存，关闭").click()
    row = page.get_by_role("row").filter(has_text="测试县党员信息系统")
    await expect(row).to_contain_text("查询党员信息")
    await expect(row).to_contain_text("在用")
    assert secret not in await page.content()  # shown once, never again
    await shoot(page, "clients")

    await row.get_by_role("button", name="停用").click()
    await page.get_by_role("dialog", name="停用该系统？").get_by_role("button", name="停用").click()
    await expect(row).to_contain_text("已停用")
    await expect(row.get_by_role("button", name="更换密钥")).to_have_count(0)
