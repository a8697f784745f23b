"""The console's frame in a real browser: logging in, landing per role, the sidebar, and the guard."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from jinqiao.kit.auth import Role
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


SHELL_COUNTY = "650365"  # the workbench helper's county for this file's logins


@pytest.fixture(scope="module")
async def shell_orgs(platform, county_token) -> dict[str, str]:
    """650365's county committee with a township, a village branch, a station and a 驻外党总支."""
    import grpc

    from jinqiao.organizations.v1 import organizations_pb2 as pb
    from jinqiao.organizations.v1 import organizations_pb2_grpc
    from tests.integration.conftest import bearer

    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    md = bearer(county_token(SHELL_COUNTY))

    async def org(name: str, kind: int, parent: str = "", **extra: object) -> str:
        request = pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind, **extra)
        return (await stub.CreateOrg(request, metadata=md)).org.id

    try:
        roots = await stub.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)
        root = roots.orgs[0].id if roots.orgs else await org("中共外壳测试县委员会", pb.ORG_KIND_COUNTY_COMMITTEE)
        township = await org("外壳镇党委", pb.ORG_KIND_TOWNSHIP_COMMITTEE, root)
        return {
            "township": township,
            "branch": await org("外壳村党支部", pb.ORG_KIND_VILLAGE_BRANCH, township),
            "station": await org("外壳驻城党建工作站", pb.ORG_KIND_TOWN_STATION, root),
            "external": await org("外壳县驻北京流动党员党总支", pb.ORG_KIND_EXTERNAL_GENERAL_BRANCH, root,
                                  city_code="110000", founding_mode=pb.FOUNDING_MODE_STANDALONE),
        }
    finally:
        await channel.close()


@pytest.mark.parametrize(("role", "org", "home"), [
    (Role.PROVINCE_ANALYST, None, "/dashboard"),
    (Role.CITY_ANALYST, None, "/dashboard"),
    (Role.COUNTY_ADMIN, None, "/workbench"),
    (Role.TOWNSHIP_OFFICER, "township", "/workbench"),
    (Role.BRANCH_SECRETARY, "branch", "/workbench"),
    (Role.GUIDANCE_OFFICER, "external", "/workbench"),
    (Role.STATION_STAFF, "station", "/workbench"),
    (Role.MEMBER, None, "/m"),
])
async def test_every_role_lands_on_a_page_with_content(new_tab, platform, county_token, console_account, shell_orgs,
                                                       role, org, home):
    from tests.support import member_json

    scope = {Role.PROVINCE_ANALYST: "41", Role.CITY_ANALYST: "4115"}.get(role, SHELL_COUNTY)
    member = None
    if role is Role.MEMBER:
        made = await platform.http.post(f"/api/v1/tenants/{SHELL_COUNTY}/members", json=member_json(SHELL_COUNTY),
                                        headers={"Authorization": f"Bearer {county_token(SHELL_COUNTY)}"})
        assert made.status_code == 201, made.text
        member = made.json()["id"]
    user = await console_account(f"shell-{role.value}", role, scope, org=shell_orgs[org] if org else None,
                                 member=member)
    page = await new_tab(phone=role is Role.MEMBER)
    await login(page, user)
    await page.wait_for_url(f"**{home}")
    heading = page.locator("h1, .phone__title").first
    await expect(heading).to_be_visible()
    assert (await heading.inner_text()).strip()
    await page.wait_for_timeout(1000)  # the page's first answers (the dashboard's live feed never lets it idle)
    text = await page.locator("body").inner_text()
    assert "页面不存在" not in text and "暂无可用" not in text, text[:300]
    if home != "/dashboard":
        await shoot(page, f"landing-{role.value.replace('_', '-')}")
