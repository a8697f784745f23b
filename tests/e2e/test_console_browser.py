"""The web console in a real headless Chromium, against the real registry, insights and gateway."""

from __future__ import annotations

import re
import time

from playwright.async_api import Page, expect

from tests.e2e.conftest import CONSOLE_PASSWORD, COUNTY_USER, PROVINCE_USER
from tests.support import id_number, member_json, wrong_check_digit

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def screenshot(name: str) -> str:
    """Where a view's picture goes, for a person to look at."""
    return f"/tmp/jinqiao-console-{name}.png"


def masked(number: str) -> str:
    return number[:4] + "*" * 10 + number[-4:]


async def log_in(page: Page, username: str, password: str = CONSOLE_PASSWORD) -> None:
    await page.goto("/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录", exact=True).click()


async def roster_loaded(page: Page) -> None:
    await expect(page.locator("#roster-count")).to_contain_text("已显示")


async def test_county_admin_registers_a_member_and_sees_the_new_row_masked(page: Page):
    await log_in(page, COUNTY_USER)
    header = page.get_by_role("banner")
    await expect(header).to_contain_text("县委组织部管理员")
    await expect(header).to_contain_text("固始县")
    await expect(header).to_contain_text(COUNTY_USER)
    await expect(page.get_by_role("heading", name="党员名册")).to_be_visible()
    await roster_loaded(page)

    number = id_number("411525")
    name = f"浏览器{time.time_ns() % 100_000}"
    form = page.locator("#register-form")
    await form.get_by_label("姓名").fill(name)
    await form.get_by_label("身份证号").fill(number)
    await form.get_by_label("手机号").fill("13900001234")
    await form.get_by_label("党员类别").select_option(label="预备党员")
    await form.get_by_label("乡镇").fill("陈淋子镇")
    await form.get_by_label("村(社区)").fill("新庄村")
    await form.get_by_label("职业").fill("建筑工人")
    await form.get_by_label("入党日期").fill("2012-05-04")
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/members")) as sent:
        await form.get_by_role("button", name="登记", exact=True).click()

    request = await sent.value
    assert UUID.match(request.headers["idempotency-key"])
    assert number not in request.url
    await expect(page.locator("#notice")).to_contain_text("登记成功")
    row = page.get_by_role("row").filter(has_text=name)
    await expect(row).to_have_count(1)
    for text in (masked(number), "139****1234", "预备党员", "新庄村", "2012-05-04"):
        await expect(row).to_contain_text(text)
    await page.screenshot(path=screenshot("county"), full_page=True)
    assert number not in await page.content()
    assert "13900001234" not in await page.content()

    # The row came from the registry, not only from the form: it is still there after a reload.
    await page.reload()
    await roster_loaded(page)
    await expect(page.get_by_role("row").filter(has_text=name)).to_contain_text(masked(number))
    assert number not in await page.content()


async def test_wrong_check_digit_shows_the_error_beside_the_id_number_and_adds_no_row(page: Page):
    await log_in(page, COUNTY_USER)
    await roster_loaded(page)
    rows_before = await page.locator("#roster tbody tr").count()

    name = f"校验{time.time_ns() % 100_000}"
    form = page.locator("#register-form")
    await form.get_by_label("姓名").fill(name)
    await form.get_by_label("身份证号").fill(wrong_check_digit(id_number("411525")))
    await form.get_by_role("button", name="登记", exact=True).click()

    id_field = form.get_by_label("身份证号")
    await expect(id_field).to_have_accessible_description("身份证号校验位错误")
    await expect(id_field).to_have_attribute("aria-invalid", "true")
    await expect(form.locator('[data-field="id_number"]')).to_contain_text("身份证号校验位错误")
    await expect(page.locator("#notice")).to_contain_text("请求参数无效")
    await page.screenshot(path=screenshot("field-error"))
    await expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)
    assert await page.locator("#roster tbody tr").count() == rows_before


async def test_province_analyst_sees_gushi_county_in_the_distribution(page: Page, platform):
    # At least one member of 固始县, whatever else ran before; the count follows it by events.
    token = (await platform.http.post("/api/v1/auth/token",
                                      json={"username": COUNTY_USER, "password": CONSOLE_PASSWORD})).json()
    created = await platform.http.post("/api/v1/tenants/411525/members", json=member_json("411525"),
                                       headers={"Authorization": f"Bearer {token['access_token']}"})
    assert created.status_code == 201, created.text

    await log_in(page, PROVINCE_USER)
    header = page.get_by_role("banner")
    await expect(header).to_contain_text("省委组织部分析员")
    await expect(header).to_contain_text("河南省")
    await expect(page.get_by_role("heading", name="党员分布")).to_be_visible()

    gushi = page.get_by_role("row").filter(has_text="固始县")
    deadline = time.monotonic() + 30
    while True:
        # Fewer than 3 members read "<3" to a province (small-cell suppression).
        if await gushi.count() and _counted(await gushi.locator(".num").inner_text()):
            break
        assert time.monotonic() < deadline, "固始县 never appeared with a member in 党员分布"
        await page.wait_for_timeout(500)
        async with page.expect_response(lambda r: "/insights/members" in r.url):
            await page.get_by_role("button", name="刷新").click()

    await expect(page.locator("#distribution-total")).not_to_have_text("0")
    await expect(gushi.locator(".bar__fill")).to_be_attached()
    # Analysts see counts only: no roster, no masked or full numbers of anyone.
    assert await page.locator("#roster").count() == 0
    assert "**********" not in await page.content()
    await page.screenshot(path=screenshot("province"))


async def test_wrong_password_shows_an_error_and_stays_on_the_login_form(page: Page):
    await log_in(page, PROVINCE_USER, "not the password")

    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    await expect(page.get_by_role("heading", name="登录")).to_be_visible()
    await expect(page.get_by_label("用户名")).to_have_value(PROVINCE_USER)
    await expect(page.locator("#whoami")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('jinqiao.token')") is None
    await page.screenshot(path=screenshot("login"))


async def test_a_refused_token_goes_back_to_the_login_form(page: Page):
    await log_in(page, COUNTY_USER)
    await roster_loaded(page)
    await page.evaluate("sessionStorage.setItem('jinqiao.token', 'not.a.token'); "
                        "sessionStorage.setItem('jinqiao.refresh', 'not-a-refresh-token')")
    await page.reload()

    await expect(page.get_by_role("heading", name="登录")).to_be_visible()
    await expect(page.locator("#notice")).to_contain_text("登录")
    await expect(page.locator("#view")).to_be_empty()
    assert await page.evaluate("sessionStorage.getItem('jinqiao.token')") is None
    assert await page.evaluate("sessionStorage.getItem('jinqiao.refresh')") is None


async def test_a_refused_access_token_is_renewed_once_with_the_refresh_token(page: Page):
    await log_in(page, COUNTY_USER)
    await roster_loaded(page)
    before = await page.evaluate("sessionStorage.getItem('jinqiao.refresh')")
    await page.evaluate("sessionStorage.setItem('jinqiao.token', 'not.a.token')")
    async with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/refresh")) as refreshed:
        await page.reload()
    assert (await refreshed.value).status == 200

    await roster_loaded(page)
    after = await page.evaluate("sessionStorage.getItem('jinqiao.refresh')")
    assert after and after != before


async def test_logout_ends_the_session_at_the_gateway_and_shows_the_login_form(page: Page):
    await log_in(page, PROVINCE_USER)
    await expect(page.get_by_role("heading", name="党员分布")).to_be_visible()
    token = await page.evaluate("sessionStorage.getItem('jinqiao.token')")
    async with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/logout")) as logout:
        await page.get_by_role("button", name="退出登录").click()
    assert (await logout.value).status == 204

    await expect(page.get_by_role("heading", name="登录")).to_be_visible()
    await expect(page.locator("#view")).to_be_empty()
    assert await page.evaluate("sessionStorage.getItem('jinqiao.token')") is None
    assert await page.evaluate("sessionStorage.getItem('jinqiao.refresh')") is None
    status = await page.evaluate("async (t) => (await fetch('/api/v1/me', {headers: {Authorization: `Bearer ${t}`}}))"
                                 ".status", token)
    assert status == 401


def _counted(text: str) -> bool:
    return text == "<3" or int(text.replace(",", "")) >= 3
