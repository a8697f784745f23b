"""The member's phone (issue 12) in a real Chromium at 390×844: own record, own flows and 证明信, 扫码报到 with the
camera — a QR image of the station's real code fed to a fake webcam — and by the typed code, 活动记事本.

The member's home county is 650341, the destination 650342 (both this file's own). The destination founds a
驻城党建工作站 with its 临时党支部; the home county registers the member's outflow over the API; the destination
places the member; the member then checks in from the phone.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.camera import camera_args, qr_picture, write_y4m
from tests.e2e.conftest import CHROMIUM_ARGS, CONSOLE_PASSWORD, chromium_path, login, shoot
from tests.integration.conftest import eventually
from tests.support import member_json

HOME = "650341"
DEST = "650342"
TAG = uuid.uuid4().hex[:6]
BEIJING = ZoneInfo("Asia/Shanghai")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def found_station(platform, admin: dict[str, str], county: str, tag: str) -> dict[str, str]:
    """The county's committee (found or created), a 驻城党建工作站 and its 临时党支部, over HTTP."""
    http = platform.http
    roots = (await http.get(f"/api/v1/tenants/{county}/orgs", headers=admin)).json()["orgs"]
    root = roots[0]["id"] if roots else (await http.post(f"/api/v1/tenants/{county}/orgs", headers=admin, json={
        "name": f"中共{county}委员会", "kind": "county_committee"})).json()["id"]

    async def add(name: str, kind: str, parent: str) -> str:
        reply = await http.post(f"/api/v1/tenants/{county}/orgs", headers=admin,
                                json={"parent_id": parent, "name": name, "kind": kind})
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    station = await add(f"驻城党建工作站{tag}", "town_station", root)
    branch = await add(f"驻城临时党支部{tag}", "temporary_branch", station)
    return {"root": root, "station": station, "branch": branch}


async def placed_member(platform, *, home_admin: dict[str, str], dest_admin: dict[str, str], home: str, dest: str,
                        name: str) -> dict:
    """A member of ``home`` registered and sent out to ``dest`` over the API, waiting there for their 报到."""
    body = member_json(home, name=name, phone="13700002468")
    reply = await platform.http.post(f"/api/v1/tenants/{home}/members", json=body, headers=home_admin)
    assert reply.status_code == 201, reply.text
    member = {**reply.json(), "id_number": body["id_number"]}
    reply = await platform.http.post(
        f"/api/v1/tenants/{home}/members/{member['id']}/flows", headers=home_admin,
        json={"destination_code": dest, "address": "大学路 66 号", "employer": "", "industry": "装修",
              "start_date": datetime.now(BEIJING).date().isoformat(), "expected_months": 6})
    assert reply.status_code == 201, reply.text
    flow_id = reply.json()["id"]

    async def offered() -> dict | None:
        got = (await platform.http.get(f"/api/v1/tenants/{home}/flows/{flow_id}", headers=home_admin)).json()
        return got if got["status"] == "offered" else None

    flow = await eventually(offered, timeout=30)
    code = await platform.http.get(f"/api/v1/tenants/{dest}/orgs/{flow['org_id']}/check-in-code", headers=dest_admin)
    assert code.status_code == 200, code.text
    return {"member": member, "flow": flow, "code": code.json()["code"], "org_name": flow["org_name"]}


async def checked_in_by_qr(platform, *, admin: dict[str, str], county: str, flow_id: str) -> dict | None:
    """The flow as its home county sees it once the 报到 by QR code came back through events."""
    got = (await platform.http.get(f"/api/v1/tenants/{county}/flows/{flow_id}", headers=admin)).json()
    return got if got["status"] == "managed" and got["check_in_method"] == "qr_code" else None


async def camera_browser(browser: Browser, video: Path) -> Browser:
    """A second Chromium whose webcam plays ``video`` (the permission prompt is answered yes)."""
    chromium_path()
    return await browser.browser_type.launch(executable_path=chromium_path(), headless=True,
                                             args=[*CHROMIUM_ARGS, *camera_args(video)])


async def scan_with_camera(tab: Page) -> None:
    await tab.goto("/m/check-in")
    await tab.get_by_role("button", name="打开摄像头扫码").click()


def long_date(day: str) -> str:
    y, m, d = (int(p) for p in day.split("-"))
    return f"{y}年{m}月{d}日"


@pytest.fixture(scope="module")
async def sides(platform, county_token) -> dict:
    home_admin, dest_admin = auth(county_token(HOME)), auth(county_token(DEST))
    tree = await found_station(platform, dest_admin, DEST, TAG)
    return {"home": home_admin, "dest": dest_admin, "tree": tree}


async def member_login(console_account, member: dict, label: str) -> str:
    return await console_account(f"phone-{label}-{TAG}", Role.MEMBER, HOME, member=member["id"])


async def test_the_member_checks_in_by_scanning_the_stations_qr_code_with_the_camera(
    platform, sides, browser: Browser, new_tab: Callable[..., Awaitable[Page]], console_account, tmp_path: Path,
):
    case = await placed_member(platform, home_admin=sides["home"], dest_admin=sides["dest"], home=HOME, dest=DEST,
                               name=f"扫码{TAG}")
    user = await member_login(console_account, case["member"], "scan")
    video = write_y4m(tmp_path / "station-code.y4m", qr_picture(case["code"]))
    webcam = await camera_browser(browser, video)
    try:
        tab = await new_tab(phone=True, on=webcam)
        await tab.context.grant_permissions(["camera"], origin=platform.base_url)
        await login(tab, user)
        await scan_with_camera(tab)
        await expect(tab.get_by_text("报到成功")).to_be_visible(timeout=20_000)
        await expect(tab.get_by_text(f"您已在「{case['org_name']}」报到")).to_be_visible()
        await shoot(tab, "member-check-in-success")
        # The camera is off once the code is read: no live track is left behind.
        assert await tab.evaluate("document.querySelector('video')?.srcObject ?? null") is None

        flow = await eventually(lambda: checked_in_by_qr(platform, admin=sides["home"], county=HOME,
                                                         flow_id=case["flow"]["id"]), timeout=30)
        assert flow["checked_in_at"]
        membership = (await platform.http.get(f"/api/v1/tenants/{DEST}/memberships/{case['flow']['membership_id']}",
                                              headers=sides["dest"])).json()
        assert (membership["status"], membership["check_in_method"]) == ("checked_in", "qr_code")

        await tab.get_by_role("button", name="查看我的流动").click()
        card = tab.get_by_role("article", name=f"流向{flow['destination_name']}")
        await expect(card).to_contain_text("已报到")
        await expect(card).to_contain_text("扫码报到")
    finally:
        await webcam.close()


async def test_a_phone_without_a_camera_is_told_so_and_keeps_the_typed_code(
    platform, sides, new_tab: Callable[..., Awaitable[Page]], console_account,
):
    case = await placed_member(platform, home_admin=sides["home"], dest_admin=sides["dest"], home=HOME, dest=DEST,
                               name=f"拒绝{TAG}")
    user = await member_login(console_account, case["member"], "nocam")
    tab = await new_tab(phone=True)
    await login(tab, user)
    await tab.goto("/m/check-in")
    # This headless browser has no camera at all: the page says so and keeps the typed code.
    await tab.get_by_role("button", name="打开摄像头扫码").click()
    await expect(tab.get_by_text("输入报到码").first).to_be_visible()
    alert = tab.locator(".el-alert--error").first
    await expect(alert).to_contain_text("这台设备没有可用的摄像头")
    await expect(alert).to_contain_text("输入二维码下方的报到码")
    await expect(tab.get_by_label("报到码")).to_be_visible()
    await shoot(tab, "member-check-in-no-camera")


async def test_the_member_sees_own_record_flows_letter_and_checks_in_by_typing(
    platform, sides, new_tab: Callable[..., Awaitable[Page]], console_account,
):
    case = await placed_member(platform, home_admin=sides["home"], dest_admin=sides["dest"], home=HOME, dest=DEST,
                               name=f"输码{TAG}")
    member, flow = case["member"], case["flow"]
    user = await member_login(console_account, member, "typed")
    tab = await new_tab(phone=True)
    await login(tab, user)
    assert tab.url.endswith("/m")

    # 我的: the record as the member may see it, numbers masked, never the full ID number.
    facts = tab.get_by_label("基本信息")
    await expect(facts).to_contain_text(member["id_number_masked"])
    await expect(facts).to_contain_text("137****2468")
    await expect(tab.get_by_text("外出中")).to_be_visible()
    assert member["id_number"] not in await tab.content()
    await expect(tab.get_by_role("navigation", name="党员服务导航")).to_contain_text("扫码报到")
    await shoot(tab, "member-home")

    # 我的流动: where to, which organisation, 待报到.
    await tab.get_by_role("link", name="我的流动").last.click()
    card = tab.get_by_role("article", name=f"流向{flow['destination_name']}")
    await expect(card).to_contain_text("待报到")
    await expect(card).to_contain_text(case["org_name"])
    await expect(card).to_contain_text(flow["certificate_serial"])
    await shoot(tab, "member-flows")

    # 证明信: the home county's letter, dated on the Beijing calendar day of the 外出登记, printable.
    await card.get_by_role("button", name="查看证明信").click()
    letter = tab.get_by_role("article", name="流动党员活动证明")
    await expect(letter).to_contain_text(member["name"])
    issued = datetime.fromisoformat(flow["created_at"]).astimezone(BEIJING).date().isoformat()
    await expect(letter).to_contain_text(long_date(issued))
    await expect(letter).to_contain_text(member["id_number_masked"])
    assert member["id_number"] not in await tab.content()
    await expect(tab.get_by_role("button", name="打印")).to_be_visible()
    await shoot(tab, "member-letter")
    await tab.emulate_media(media="print")
    await expect(tab.get_by_role("button", name="打印")).to_be_hidden()
    await expect(tab.get_by_role("navigation", name="党员服务导航")).to_be_hidden()
    await expect(letter).to_be_visible()
    await shoot(tab, "member-letter-print")
    pdf = await tab.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    await tab.emulate_media(media="screen")

    # 扫码报到 by typing: a malformed code and another organisation's code are refused beside the field.
    await tab.get_by_role("link", name="扫码报到").last.click()
    box = tab.get_by_label("报到码")
    await box.fill("123456")
    await tab.get_by_role("button", name="提交报到").click()
    await expect(tab.locator(".el-form-item__error")).to_contain_text("报到码格式不正确")
    other = (await platform.http.get(f"/api/v1/tenants/{DEST}/orgs/{sides['tree']['station']}/check-in-code",
                                     headers=sides["dest"])).json()["code"]
    foreign = other.rsplit(".", 1)[0] + "." + "A" * 32
    await box.fill(foreign)
    await expect(tab.locator(".el-form-item__error")).to_have_count(0)
    await tab.get_by_role("button", name="提交报到").click()
    await expect(tab.locator(".el-form-item__error")).to_contain_text(f"为您安排的是「{case['org_name']}」")
    await shoot(tab, "member-check-in")

    # The real code, typed in the poster's groups of eight: 报到成功.
    code = case["code"]
    await box.fill(" ".join(code[i:i + 8] for i in range(0, len(code), 8)))
    await tab.get_by_role("button", name="提交报到").click()
    await expect(tab.get_by_text("报到成功")).to_be_visible()
    await expect(tab.get_by_text(f"您已在「{case['org_name']}」报到")).to_be_visible()
    done = await eventually(lambda: checked_in_by_qr(platform, admin=sides["home"], county=HOME,
                                                     flow_id=flow["id"]), timeout=30)

    # The same code again: already checked in, said so, nothing changes.
    await tab.get_by_role("button", name="继续扫码").click()
    await tab.get_by_label("报到码").fill(code)
    await tab.get_by_role("button", name="提交报到").click()
    await expect(tab.get_by_text("您已报到")).to_be_visible()
    await expect(tab.get_by_text("无需重复报到")).to_be_visible()
    again = (await platform.http.get(f"/api/v1/tenants/{HOME}/flows/{flow['id']}", headers=sides["home"])).json()
    assert again["checked_in_at"] == done["checked_in_at"]

    # 活动记事本: an activity the station records shows up on the member's phone.
    today = datetime.now(BEIJING).date().isoformat()
    reply = await platform.http.post(f"/api/v1/tenants/{DEST}/memberships/{flow['membership_id']}/activities",
                                     headers=sides["dest"],
                                     json={"occurred_on": today, "title": f"主题党日{TAG}", "note": "学习并交流"})
    assert reply.status_code == 201, reply.text

    async def noted() -> bool:
        got = (await platform.http.get(f"/api/v1/tenants/{HOME}/members/{member['id']}/activities",
                                       headers=sides["home"])).json()
        return any(a["title"] == f"主题党日{TAG}" for a in got)

    await eventually(noted, timeout=30)
    await tab.get_by_role("link", name="活动记事本").last.click()
    await expect(tab.get_by_text(f"主题党日{TAG}")).to_be_visible()
    await expect(tab.get_by_text("记录单位")).to_contain_text(case["org_name"])
    await shoot(tab, "member-notebook")


async def test_a_member_without_flows_sees_what_to_do(platform, sides, new_tab, console_account):
    body = member_json(HOME, name=f"在家{TAG}")
    reply = await platform.http.post(f"/api/v1/tenants/{HOME}/members", json=body, headers=sides["home"])
    assert reply.status_code == 201, reply.text
    user = await console_account(f"phone-home-{TAG}", Role.MEMBER, HOME, member=reply.json()["id"])
    tab = await new_tab(phone=True)
    await login(tab, user)
    await tab.goto("/m/flows")
    await expect(tab.get_by_text("您目前没有外出登记")).to_be_visible()
    await shoot(tab, "member-flows-empty")
    await tab.goto("/m/notebook")
    await expect(tab.get_by_text("还没有活动记录")).to_be_visible()
    await shoot(tab, "member-notebook-empty")
    # An office page is not the member's: it is sent home to its phone.
    await tab.goto("/station/poster")
    await tab.wait_for_url("**/m")


async def test_the_posters_link_opened_before_logging_in_checks_the_member_in_after_it(
    platform, sides, new_tab: Callable[..., Awaitable[Page]], console_account,
):
    case = await placed_member(platform, home_admin=sides["home"], dest_admin=sides["dest"], home=HOME, dest=DEST,
                               name=f"链接{TAG}")
    user = await member_login(console_account, case["member"], "link")
    tab = await new_tab(phone=True)
    # What a phone's own camera app opens from the poster's QR code.
    await tab.goto(f"/m/check-in?code={case['code']}")
    await tab.wait_for_url("**/login?next=**")
    await tab.get_by_label("用户名").fill(user)
    await tab.get_by_label("密码").fill(CONSOLE_PASSWORD)
    await tab.get_by_role("button", name="登录").click()
    await expect(tab.get_by_text("报到成功")).to_be_visible()
    await expect(tab.get_by_text(f"您已在「{case['org_name']}」报到")).to_be_visible()
    # The code does not stay in the address bar.
    assert "code=" not in tab.url
    await eventually(lambda: checked_in_by_qr(platform, admin=sides["home"], county=HOME,
                                              flow_id=case["flow"]["id"]), timeout=30)
