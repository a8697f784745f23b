"""Browser-test fixtures: the real platform, console accounts, and a headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database

CONSOLE_PASSWORD = "console browser test"
COUNTY_USER = "ui-county-411525"
PROVINCE_USER = "ui-province"

# Playwright cannot download its own browser builds here; Debian's chromium (scripts/install_browser.sh)
# is launched by path. The flags keep it from phoning home and from needing a sandbox or a GPU.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
async def console_accounts(settings_for: Callable[..., object]) -> None:
    """A county admin of 固始县 and a province analyst of 河南省, as the demo seed creates them."""
    settings = settings_for("gateway")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)  # type: ignore[attr-defined]
    try:
        for account in (
            Account(username=COUNTY_USER, role=Role.COUNTY_ADMIN, scope="411525", acting_tenant="411525"),
            Account(username=PROVINCE_USER, role=Role.PROVINCE_ANALYST, scope="41", acting_tenant=None),
        ):
            await upsert_account(db=db, account=account, password=CONSOLE_PASSWORD)
    finally:
        await db.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not on PATH: run scripts/install_browser.sh")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, platform, console_accounts: None) -> AsyncIterator[Page]:
    """A fresh tab on the console, with no storage from other tests.

    It checks what the console promises about the network: nothing is fetched from another origin,
    no bearer token ever appears in a URL, and no script error goes uncaught.
    """
    origin = urlsplit(platform.base_url).netloc
    foreign: list[str] = []
    tokens: set[str] = set()
    urls: list[str] = []
    errors: list[str] = []

    async def only_the_gateway(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == origin or request.url.startswith("data:"):
            await route.continue_()
        else:
            foreign.append(request.url)
            await route.abort()

    def seen(request: Request) -> None:
        urls.append(request.url)
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            tokens.add(auth.removeprefix("Bearer "))

    context = await browser.new_context(base_url=platform.base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                        viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    await context.route("**/*", only_the_gateway)
    tab = await context.new_page()
    tab.on("request", seen)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    await context.close()
    assert not foreign, f"the console fetched from another origin: {foreign}"
    assert not [u for u in urls for t in tokens if t in u], "a bearer token appeared in a URL"
    assert not errors, f"uncaught script errors: {errors}"
