"""事件异常 in a real headless Chromium: the county admin sees an event a service gave up on, with its reason and never
its content, and applies it again; an event applied meanwhile is not applied twice."""

from __future__ import annotations

import json

from playwright.async_api import Page, expect

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import events as ev
from tests.e2e.conftest import COUNTY_USER
from tests.e2e.test_console_browser import log_in, screenshot
from tests.integration.kit.test_event_delivery import built_event

COUNTY = COUNTY_USER.rsplit("-", 1)[1]
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


async def test_the_county_admin_applies_a_stopped_event_again_and_it_is_not_applied_twice(page: Page,
                                                                                           admin_conn_factory):
    reason = "FailedPrecondition: 浏览器测试：所属组织尚未同步"
    conn = await admin_conn_factory("insights")
    event = await file_applied_dead_letter(conn, reason)

    await log_in(page, COUNTY_USER)
    await page.get_by_role("tab", name="事件异常").click()
    row = page.get_by_role("row").filter(has_text=event.meta.event_id)
    await expect(row).to_have_count(1)
    for text in ("登记党员", "统计分析", reason, "待处理"):
        await expect(row).to_contain_text(text)
    assert event.member_id not in await page.content()  # what the event was, never what it carried
    await page.screenshot(path=screenshot("dead-letters"), full_page=True)

    await row.get_by_role("button", name="重新处理").click()
    await expect(page.locator("#notice")).to_contain_text("无需重复处理")
    await expect(row).to_contain_text("已处理")
    await expect(row).to_contain_text(COUNTY_USER)
    await expect(row.get_by_role("button", name="重新处理")).to_have_count(0)
    assert await conn.fetchval("SELECT count(*) FROM inbox WHERE tenant_id = $1 AND consumer = $2 AND event_id = $3",
                               COUNTY, CONSUMER, event.meta.event_id) == 1

    # Only what is still pending is listed by default: after a reload the handled one is gone from the list.
    await page.reload()
    await page.get_by_role("tab", name="事件异常").click()
    await expect(page.locator("#dead-letters-empty").or_(page.locator("#dead-letters tbody tr"))).not_to_have_count(0)
    await expect(page.get_by_role("row").filter(has_text=event.meta.event_id)).to_have_count(0)
