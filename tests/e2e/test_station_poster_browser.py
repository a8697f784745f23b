"""The station's 报到码 poster (issue 12) at 1440×900: a real QR code of the organisation's check-in code, its name,
how to scan it and the code as text — opened by a station login shaped like the demo's ``station-<county>`` (a
station_staff account bound to the 驻城党建工作站) — and that QR code, read off the page and fed to a phone's camera,
checks a member in. Home county 650343, destination 650344 (this file's own).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.camera import place, write_y4m
from tests.e2e.conftest import ARTIFACTS, login, shoot
from tests.e2e.test_member_phone_browser import (
    auth,
    camera_browser,
    checked_in_by_qr,
    found_station,
    placed_member,
    scan_with_camera,
)
from tests.integration.conftest import eventually

HOME = "650343"
DEST = "650344"
TAG = uuid.uuid4().hex[:6]


async def qr_pixels(tab: Page, name: str) -> tuple[list[int], int, int]:
    """The poster's QR canvas as grey pixels (row-major), as a camera would see the printed sheet."""
    canvas = tab.get_by_role("img", name=name)
    await expect(canvas).to_be_visible()
    got = await canvas.evaluate("""(c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const grey = new Array(c.width * c.height);
        for (let i = 0; i < grey.length; i++) grey[i] = Math.round((d[4 * i] + d[4 * i + 1] + d[4 * i + 2]) / 3);
        return { grey, width: c.width, height: c.height };
    }""")
    return got["grey"], got["width"], got["height"]


async def test_the_station_prints_a_poster_whose_qr_code_checks_a_member_in(
    platform, county_token, browser: Browser, new_tab: Callable[..., Awaitable[Page]], console_account,
    tmp_path: Path,
):
    home_admin, dest_admin = auth(county_token(HOME)), auth(county_token(DEST))
    tree = await found_station(platform, dest_admin, DEST, TAG)
    station_name = f"驻城党建工作站{TAG}"
    # The demo's station login: station staff of the county, bound to its 驻城党建工作站.
    station_user = await console_account(f"station-{DEST}-{TAG}", Role.STATION_STAFF, DEST, org=tree["station"])
    code = (await platform.http.get(f"/api/v1/tenants/{DEST}/orgs/{tree['station']}/check-in-code",
                                    headers=dest_admin)).json()["code"]

    page = await new_tab()
    await login(page, station_user)
    await page.get_by_role("navigation", name="主导航").get_by_text("报到码").click()
    await page.wait_for_url("**/station/poster**")
    poster = page.get_by_role("article", name="报到码海报")
    await expect(poster).to_contain_text(station_name)
    await expect(poster).to_contain_text("扫码报到")
    typed = await poster.get_by_label("报到码文字").inner_text()
    assert "".join(typed.split()) == code
    await shoot(page, "station-poster")
    # The office frame scrolls inside itself: the whole A4 sheet on its own too, on a screen tall enough for it.
    await page.set_viewport_size({"width": 1440, "height": 1400})
    await poster.screenshot(path=str(ARTIFACTS / "screenshots" / "station-poster-sheet-1440x900.png"))
    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.emulate_media(media="print")
    await expect(page.get_by_role("button", name="打印海报")).to_be_hidden()
    await expect(page.get_by_role("navigation", name="主导航")).to_be_hidden()
    await shoot(page, "station-poster-print")
    await page.emulate_media(media="screen")

    # The printed QR code, seen by a member's phone camera at the station: the member is checked in there.
    grey, width, height = await qr_pixels(page, f"{station_name}报到二维码")
    assert len(set(grey)) > 1, "the QR canvas is blank"
    case = await placed_member(platform, home_admin=home_admin, dest_admin=dest_admin, home=HOME, dest=DEST,
                               name=f"海报{TAG}")
    member_user = await console_account(f"poster-member-{TAG}", Role.MEMBER, HOME, member=case["member"]["id"])
    video = write_y4m(tmp_path / "poster.y4m", place(grey, width, height))
    webcam = await camera_browser(browser, video)
    try:
        tab = await new_tab(phone=True, on=webcam)
        await tab.context.grant_permissions(["camera"], origin=platform.base_url)
        await login(tab, member_user)
        await scan_with_camera(tab)
        await expect(tab.get_by_text("报到成功")).to_be_visible(timeout=20_000)
        await expect(tab.get_by_text(f"您已在「{case['org_name']}」报到")).to_be_visible()
    finally:
        await webcam.close()
    await eventually(lambda: checked_in_by_qr(platform, admin=home_admin, county=HOME, flow_id=case["flow"]["id"]),
                     timeout=30)


async def test_the_county_picks_which_organisations_poster_to_print(
    platform, county_token, new_tab: Callable[..., Awaitable[Page]], console_account,
):
    dest_admin = auth(county_token(DEST))
    tree = await found_station(platform, dest_admin, DEST, f"{TAG}县")
    admin_user = await console_account(f"poster-county-{DEST}-{TAG}", Role.COUNTY_ADMIN, DEST)
    page = await new_tab()
    await login(page, admin_user)
    await page.goto(f"/station/poster?org={tree['branch']}")
    poster = page.get_by_role("article", name="报到码海报")
    await expect(poster).to_contain_text(f"驻城临时党支部{TAG}县")
    code = (await platform.http.get(f"/api/v1/tenants/{DEST}/orgs/{tree['branch']}/check-in-code",
                                    headers=dest_admin)).json()["code"]
    assert "".join((await poster.get_by_label("报到码文字").inner_text()).split()) == code
    # The county committee takes no 报到 itself: the page says why instead of printing a useless code.
    await page.goto(f"/station/poster?org={tree['root']}")
    await expect(page.get_by_text("无法生成报到码")).to_be_visible()
    await expect(page.get_by_text("不直接接收流动党员报到")).to_be_visible()
    await expect(page.get_by_role("article", name="报到码海报")).to_have_count(0)


async def test_a_township_officer_has_no_poster_page(platform, county_token, new_tab, console_account):
    tree = await found_station(platform, auth(county_token(DEST)), DEST, f"{TAG}乡")
    user = await console_account(f"poster-township-{DEST}-{TAG}", Role.TOWNSHIP_OFFICER, DEST, org=tree["root"])
    page = await new_tab()
    await login(page, user)
    await page.goto("/station/poster")
    await page.wait_for_url(lambda url: "/station/poster" not in url)
