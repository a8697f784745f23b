"""The console's frame in a real browser: logging in, landing per role, the sidebar, and the guard."""

from __future__ import annotations

from tests.e2e.conftest import COUNTY_USER, PROVINCE_USER, login, shoot


async def test_wrong_password_is_refused_on_the_login_page(page):
    await page.goto("/login")
    await page.get_by_label("用户名").fill(COUNTY_USER)
    await page.get_by_label("密码").fill("not the password")
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("alert").wait_for()
    assert "/login" in page.url
    await shoot(page, "login")


async def test_county_admin_lands_on_the_workbench_with_a_sidebar(page):
    await login(page, COUNTY_USER)
    assert page.url.endswith("/workbench")
    await page.get_by_role("navigation", name="主导航").wait_for()
    assert await page.title() == "工作台 · 金桥"
    await shoot(page, "workbench")


async def test_a_page_opened_before_logging_in_comes_back_after_it(page):
    await page.goto("/workbench")
    await page.wait_for_url("**/login?next=/workbench")
    await page.get_by_label("用户名").fill(COUNTY_USER)
    await page.get_by_label("密码").fill("console browser test")
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/workbench")


async def test_an_unknown_address_says_the_page_does_not_exist(page):
    await login(page, COUNTY_USER)
    await page.goto("/no-such-page")
    await page.get_by_text("页面不存在").first.wait_for()


async def test_a_page_outside_the_role_sends_it_home(page):
    await login(page, PROVINCE_USER)
    await page.goto("/workbench")
    await page.wait_for_url(lambda url: "/workbench" not in url)
