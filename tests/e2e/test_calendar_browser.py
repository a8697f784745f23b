"""工作日历 in the console, in a real headless Chromium against the real services (issue 13 §8).

While next year's holiday arrangement is not entered, county staff see a warning on the 工作台 and the 工作日历 page
(due times across the new year are estimates). The province analyst enters 2027 from the State Council's notice —
keeping the statutory days the calendar already shows — and the county's warning is gone. County 650472 is this
test's; the arrangement is the province's (65), shared with every county of the province.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.conftest import CONSOLE_PASSWORD, login, shoot

COUNTY, PROVINCE = "650472", "65"  # this helper's counties: 650470–650474
YEAR = 2027
BANNER = f"{YEAR} 年节假日安排尚未录入，跨年的办理时限按法定节假日估算，请省委组织部录入国务院通知"


async def _headers(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": CONSOLE_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def _missing(platform, headers: dict[str, str]) -> bool:
    reply = await platform.http.get(f"/api/v1/tenants/{COUNTY}/work-calendar", headers=headers)
    assert reply.status_code == 200, reply.text
    return any(y["year"] == YEAR and y["missing"] for y in reply.json())


async def test_the_province_enters_next_year_and_the_countys_warning_goes_away(
        platform, page: Page, new_tab: Callable[..., Awaitable[Page]], console_account) -> None:
    admin = await console_account(f"cal-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY)
    analyst = await console_account(f"cal-province-{PROVINCE}", Role.PROVINCE_ANALYST, PROVINCE)
    county_headers = await _headers(platform, admin)
    # The arrangement is the province's: another test of the session may have entered it already, and then there
    # is no warning to watch go away (the entry below must still leave none).
    was_missing = await _missing(platform, county_headers)

    await login(page, admin)
    await page.goto("/workbench")
    await expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    banner = page.locator("[data-test=calendar-missing]")
    if was_missing:
        await expect(banner).to_have_text(BANNER)
        await page.goto("/calendar")
        await expect(page.locator("[data-test=calendar-missing]")).to_contain_text(BANNER)
        await shoot(page, "calendar-county-missing")

    province = await new_tab()
    await login(province, analyst)
    await province.goto("/calendar")
    await province.locator(".head-actions .el-select").click()
    await province.locator(".el-select-dropdown__item:visible", has_text=f"{YEAR} 年").first.click()
    await province.get_by_role("button", name=f"录入 {YEAR} 年节假日安排").click()
    drawer = province.locator(".el-drawer:visible")
    # The editor starts from the days the calendar already holds (the statutory holidays): saving them with the
    # notice keeps every county's clocks as they were and marks the year as entered.
    await drawer.get_by_label("通知依据").fill("国务院办公厅关于2027年部分节假日安排的通知")
    await shoot(province, "calendar-province-editor")
    await drawer.get_by_role("button", name="保存").click()
    await expect(drawer).to_be_hidden()
    await expect(province.locator("[data-test=calendar-source]")).to_have_text("省级录入")
    await shoot(province, "calendar-province-entered")

    assert not await _missing(platform, county_headers)
    await page.goto("/workbench")
    await expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    await expect(page.locator("[data-todo=tickets]")).to_be_visible()
    await expect(banner).to_have_count(0)
    await page.goto("/calendar")
    await expect(page.get_by_role("heading", name="工作日历")).to_be_visible()
    await expect(page.locator("[data-test=calendar-missing]")).to_have_count(0)
    await shoot(page, "calendar-county")


async def test_a_county_cannot_read_the_provinces_calendar_editor_route(platform, console_account) -> None:
    admin = await console_account(f"cal-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY)
    reply = await platform.http.get(f"/api/v1/scopes/{PROVINCE}/work-calendar/{YEAR}",
                                    headers=await _headers(platform, admin))
    assert reply.status_code in (403, 404), reply.text


async def test_the_county_admin_adds_a_county_day_off_that_only_its_calendar_shows(
        platform, page: Page, console_account) -> None:
    county = "650474"
    admin = await console_account(f"cal-county-{county}", Role.COUNTY_ADMIN, county)
    # Start from no county days (a rerun on a kept database finds the last run's).
    cleared = await platform.http.put(f"/api/v1/tenants/{county}/work-calendar/{YEAR}/overrides", json={"days": []},
                                      headers={**await _headers(platform, admin), "Idempotency-Key": str(uuid.uuid4())})
    assert cleared.status_code == 200, cleared.text
    await login(page, admin)
    await page.goto("/calendar")
    await page.locator(".head-actions .el-select").click()
    await page.locator(".el-select-dropdown__item:visible", has_text=f"{YEAR} 年").first.click()
    await page.get_by_role("button", name="本县调整").click()
    drawer = page.locator(".el-drawer:visible")
    await drawer.get_by_role("button", name="添加一天").click()
    row = drawer.locator("[data-test=day-row]").last
    date_input = row.locator(".el-date-editor input")
    await date_input.fill(f"{YEAR}-03-01")
    await date_input.press("Enter")
    await row.get_by_placeholder("名称，如：春节").fill("县庆")
    await drawer.get_by_role("button", name="保存").click()
    await expect(drawer).to_be_hidden()
    day = page.locator(".days .el-table__row", has_text="县庆")
    await expect(day).to_contain_text("本县")
    await expect(day).to_contain_text("休")
    await shoot(page, "calendar-county-override")
