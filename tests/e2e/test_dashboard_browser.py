"""The province and city dashboard in a real browser (issue 12): KPIs, the map with flows, drill-down by clicking
the map, suppressed cells, live refresh over server-sent events, the 大屏, and the time to first paint.

Test data lives in 驻马店市 (4117: 411721, 411722), which no other test uses; its in-province destination is
周口市太康县 (411627), which no other test uses either. Flows are registered through the HTTP API as a county would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from jinqiao.kit.regions import name_of
from tests.e2e.conftest import ARTIFACTS, CONSOLE_PASSWORD, PROVINCE_USER, login
from tests.integration.conftest import eventually
from tests.support import member_json

A, B = "411721", "411722"  # 驻马店市 西平县, 上蔡县: the console shows their names from the reference list
CITY = "4117"
SHENZHEN, SUZHOU, TAIKANG = "440300", "320500", "411627"


async def snap(page: Page, name: str) -> Path:
    """A full-page screenshot (the live stream keeps a request open, so no waiting for network idle)."""
    size = page.viewport_size or {"width": 1440, "height": 900}
    target = ARTIFACTS / "screenshots" / f"{name}-{size['width']}x{size['height']}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(600)  # the charts' entry animation
    await page.screenshot(path=str(target), full_page=True)
    return target


async def api_headers(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": CONSOLE_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def outflow(platform, headers: dict[str, str], county: str, destination: str) -> None:
    """One member of the county, registered and then registered as going out to the destination."""
    member = await platform.http.post(f"/api/v1/tenants/{county}/members", headers=headers,
                                      json=member_json(county, name="王建国", phone="13700001357"))
    assert member.status_code == 201, member.text
    flow = await platform.http.post(
        f"/api/v1/tenants/{county}/members/{member.json()['id']}/flows", headers=headers,
        json={"destination_code": destination, "address": "工业园区 1 号", "employer": "", "industry": "制造",
              "start_date": time.strftime("%Y-%m-%d"), "expected_months": 6})
    assert flow.status_code == 201, flow.text


async def board(platform, headers: dict[str, str], scope: str) -> dict:
    reply = await platform.http.get(f"/api/v1/scopes/{scope}/insights/dashboard", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def link(body: dict, origin: str, destination: str) -> dict | None:
    found = [k["flows"] for k in body["links"] if k["origin_code"] == origin and k["destination_code"] == destination]
    return found[0] if found else None


@pytest.fixture(scope="module")
async def seeded(platform, console_account, console_accounts) -> dict[str, dict[str, str]]:
    """A: four to 深圳 (published); B: one to 苏州 (a small cell) and three to 太康县 in the province."""
    heads = {}
    for county in (A, B):
        user = await console_account(f"dash-county-{county}", Role.COUNTY_ADMIN, county)
        heads[county] = await api_headers(platform, user)
    for _ in range(4):
        await outflow(platform, heads[A], A, SHENZHEN)
    await outflow(platform, heads[B], B, SUZHOU)
    for _ in range(3):
        await outflow(platform, heads[B], B, TAIKANG)
    province = await api_headers(platform, PROVINCE_USER)

    async def arrived() -> bool:
        body = await board(platform, province, "41")
        tk = link(body, CITY, "411600")
        return link(body, CITY, "440300") is not None and link(body, CITY, "320500") is not None and (
            tk is not None and tk["value"] >= 3)

    await eventually(arrived, timeout=30)
    heads["province"] = province
    return heads


async def test_province_dashboard_drills_down_by_the_map_and_refreshes_live(platform, page, seeded):
    await login(page, PROVINCE_USER)
    assert page.url.endswith("/dashboard")
    # A fresh load of the page itself, to measure its first paint and the moment the map has drawn.
    await page.goto("/dashboard")
    await page.locator(".kpi").first.wait_for()
    await page.wait_for_function("() => performance.getEntriesByName('dashboard-map-drawn').length > 0",
                                 timeout=20_000)
    timings = await page.evaluate("""() => ({
        first_contentful_paint_ms: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
        map_drawn_ms: performance.getEntriesByName('dashboard-map-drawn')[0].startTime,
        dom_content_loaded_ms: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? null,
    })""")
    metrics = ARTIFACTS / "metrics" / "dashboard.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"page": "/dashboard (province 41, 1440x900, headless chromium)",
                                   **{k: round(v, 1) if v is not None else None for k, v in timings.items()}},
                                  ensure_ascii=False, indent=2))
    assert timings["map_drawn_ms"] > 0

    # KPI cards and charts are drawn; the table's figures are the API's.
    api = await board(platform, seeded["province"], "41")
    await expect(page.locator("[data-kpi=away] .kpi__value")).to_have_text(api["total"]["away"]["display"])
    assert await page.locator("canvas").count() >= 4
    row = page.locator(".levels tbody tr").filter(has_text="驻马店市")
    city = next(c for c in api["children"] if c["code"] == CITY)
    cells = row.locator("td")
    await expect(cells.nth(2)).to_have_text(city["away"]["display"])
    await expect(cells.nth(3)).to_have_text(city["managed"]["display"])
    await expect(page.get_by_role("status")).to_contain_text("实时")
    await snap(page, "dashboard")

    # A real click on the map, at 驻马店市's projected centre, opens the city.
    await page.get_by_role("button", name="查看驻马店市").click()
    await page.wait_for_url("**/dashboard/4117")
    await expect(page.locator(".levels tbody tr")).to_have_count(2)
    city_api = await board(platform, seeded["province"], CITY)
    links = page.locator(".links tbody tr")
    small = links.filter(has_text=name_of(B)).filter(has_text="苏州")
    await expect(small.locator("td").nth(3)).to_have_text("<3")
    assert link(city_api, B, "320500") == {"value": 0, "hidden_cells": 1, "display": "<3"}
    await expect(links.filter(has_text=name_of(A)).filter(has_text="深圳").locator("td").nth(3)).to_have_text(
        link(city_api, A, "440300")["display"])
    await expect(links.filter(has_text="太康县").or_(links.filter(has_text="周口"))).to_have_count(1)
    await snap(page, "dashboard-city")

    # On to a county: its row in the table.
    await page.locator(".levels").get_by_role("button", name=name_of(A)).click()
    await page.wait_for_url(f"**/dashboard/{A}")
    away = page.locator("[data-kpi=away] .kpi__value")
    await expect(away).to_have_text("4")
    await expect(page.get_by_role("button", name="返回上级")).to_be_visible()
    await snap(page, "dashboard-county")

    # A flow registered meanwhile arrives through the live stream, without reloading the page.
    await page.evaluate("() => { window.__stillTheSamePage = true; }")
    await outflow(platform, seeded[A], A, SHENZHEN)
    await expect(away).to_have_text("5", timeout=30_000)
    assert await page.evaluate("() => window.__stillTheSamePage === true")

    # The 大屏 of the same county.
    await page.get_by_role("button", name="大屏展示").click()
    await page.wait_for_url(f"**/dashboard/screen/{A}")
    await page.get_by_role("button", name="全屏").wait_for()
    await expect(page.locator("[data-kpi=away] .kpi__value")).to_have_text("5")
    assert await page.locator("canvas").count() >= 3
    await snap(page, "dashboard-screen-county")
    await page.goto("/dashboard/screen")
    await page.wait_for_function("() => document.querySelectorAll('canvas').length >= 4")
    await snap(page, "dashboard-screen")
    await page.get_by_role("button", name="退出大屏").click()
    await page.wait_for_url("**/dashboard")


async def test_a_city_analyst_cannot_open_another_city(page, console_account, seeded):
    user = await console_account("dash-city-4117", Role.CITY_ANALYST, CITY)
    await login(page, user)
    await page.wait_for_url("**/dashboard")
    await expect(page.locator(".levels tbody tr")).to_have_count(2)
    await page.goto("/dashboard/4101")
    await page.get_by_text("无法查看该区域").wait_for()
    await page.get_by_role("button", name="返回本级统计").click()
    await page.wait_for_url("**/dashboard")
    await expect(page.locator(".levels tbody tr")).to_have_count(2)
