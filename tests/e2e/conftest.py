"""Browser-test fixtures: the real platform, console accounts, and a headless Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Route, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database

CONSOLE_PASSWORD = "console browser test"
COUNTY_USER = "ui-county-411525"
PROVINCE_USER = "ui-province"

# Playwright cannot download its own browser builds here; Debian's chromium (scripts/install_browser.sh)
# is launched by path. The flags keep it from phoning home and from needing a sandbox or a GPU.
# The built console (make console); without it the gateway answers 503 for every page.
CONSOLE_DIST = Path(__file__).resolve().parents[2] / "gateway" / "web" / "dist" / "index.html"
# Screenshots every browser test leaves behind (issue 12): one PNG per page and viewport.
ARTIFACTS = Path(os.environ.get("JINQIAO_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts"))
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

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


def chromium_path() -> str:
    """Debian's chromium (Playwright cannot download its own here); the console must have been built."""
    if not CONSOLE_DIST.is_file():
        pytest.fail("the console is not built: run make console")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not on PATH: run scripts/install_browser.sh")
    return executable


async def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot of what the user sees now, kept as an artifact named after the page and viewport."""
    size = page.viewport_size or DESKTOP
    target = ARTIFACTS / "screenshots" / f"{name}-{size['width']}x{size['height']}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await settled(page)
    await page.screenshot(path=str(target), full_page=True)
    return target


# Requests in flight per tab, live streams left out: every console page holds one open (the notifications bell's, the
# dashboard's), so "network idle" never comes; a tab is settled when nothing else has been in flight for a moment.
_IN_FLIGHT: dict[int, set[Request]] = {}


def _is_stream(request: Request) -> bool:
    return urlsplit(request.url).path.endswith("/stream")


def track_requests(tab: Page) -> None:
    """Count the tab's requests in flight (streams excepted), for ``settled``."""
    pending: set[Request] = _IN_FLIGHT.setdefault(id(tab), set())
    tab.on("request", lambda r: None if _is_stream(r) else pending.add(r))
    # Lambdas, not bound builtins: Playwright wraps each handler and can only wrap Python functions.
    tab.on("requestfinished", lambda r: pending.discard(r))
    tab.on("requestfailed", lambda r: pending.discard(r))
    tab.on("close", lambda _: _IN_FLIGHT.pop(id(tab), None))


async def settled(page: Page, *, quiet: float = 0.5, limit: float = 5.0) -> None:
    """Wait (at most ``limit`` seconds) until no request but a live stream has been in flight for ``quiet`` seconds."""
    pending = _IN_FLIGHT.get(id(page))
    if pending is None:  # a tab opened elsewhere: the browser's own idea, bounded
        with contextlib.suppress(PlaywrightTimeout):
            await page.wait_for_load_state("networkidle", timeout=int(limit * 1000))
        return
    loop = asyncio.get_running_loop()
    start = quiet_since = loop.time()
    while loop.time() - start < limit:
        if pending:
            quiet_since = loop.time()
        elif loop.time() - quiet_since >= quiet:
            return
        await asyncio.sleep(0.05)


async def login(page: Page, username: str, password: str = CONSOLE_PASSWORD) -> None:
    """Log in through the login page as a user would, and wait for the role's landing page."""
    await page.goto("/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture(scope="session")
async def console_account(settings_for: Callable[..., object]) -> Callable[..., Awaitable[str]]:
    """Create (or update) a console login of any role; returns its username (password CONSOLE_PASSWORD)."""
    settings = settings_for("gateway")

    async def make(username: str, role: Role, scope: str, *, org: str | None = None,
                   member: str | None = None, display_name: str = "") -> str:
        tenant = None if role in (Role.PROVINCE_ANALYST, Role.CITY_ANALYST) else scope
        db = await Database.connect(settings.database_url, min_size=1, max_size=1)  # type: ignore[attr-defined]
        try:
            await upsert_account(db=db, account=Account(username=username, role=role, scope=scope,
                                                        acting_tenant=tenant, acting_org=org, acting_member=member,
                                                        display_name=display_name), password=CONSOLE_PASSWORD)
        finally:
            await db.close()
        return username

    return make


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


class Watched:
    """What the console promises about the network, checked on every tab a test opens."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.foreign: list[str] = []
        self.tokens: set[str] = set()
        self.urls: list[str] = []
        self.errors: list[str] = []

    async def only_the_gateway(self, route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == self.origin or request.url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            self.foreign.append(request.url)
            await route.abort()

    def seen(self, request: Request) -> None:
        self.urls.append(request.url)
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            self.tokens.add(auth.removeprefix("Bearer "))

    def console(self, message: ConsoleMessage) -> None:
        # A style or script the strict CSP refused means a page that looks or works differently than tested.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def check(self) -> None:
        assert not self.foreign, f"the console fetched from another origin: {self.foreign}"
        assert not [u for u in self.urls for t in self.tokens if t in u], "a bearer token appeared in a URL"
        assert not self.errors, f"uncaught script errors or CSP violations: {self.errors}"


@pytest.fixture
async def new_tab(browser: Browser, platform, console_accounts: None) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """Open fresh tabs (each in its own context, so several users can work side by side), checked as above.

    ``await new_tab()`` is a 1440×900 office screen; ``await new_tab(phone=True)`` a 390×844 phone.
    """
    watched = Watched(urlsplit(platform.base_url).netloc)
    contexts = []

    async def open_tab(*, phone: bool = False, on: Browser | None = None) -> Page:
        context = await (on or browser).new_context(
            base_url=platform.base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
            viewport=PHONE if phone else DESKTOP, is_mobile=phone, has_touch=phone,
            device_scale_factor=2 if phone else 1)
        context.set_default_timeout(15_000)
        await context.route("**/*", watched.only_the_gateway)
        contexts.append(context)
        tab = await context.new_page()
        track_requests(tab)
        tab.on("request", watched.seen)
        tab.on("pageerror", lambda exc: watched.errors.append(str(exc)))
        tab.on("console", watched.console)
        return tab

    yield open_tab
    for context in contexts:
        await context.close()
    watched.check()


@pytest.fixture
async def page(new_tab: Callable[..., Awaitable[Page]]) -> Page:
    """A fresh 1440×900 tab on the console, with no storage from other tests."""
    return await new_tab()
