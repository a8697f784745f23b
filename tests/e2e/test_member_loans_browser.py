"""我的贷款 on the member's phone (issue 14 §7) in a real Chromium at 390×844: a probationary member sees the open
programmes, checks the conditions of a 正式党员-only one (the failed rule shown in red), then of one that admits
预备党员 (all ✓), applies with the licence photo, sees the application listed; after staff act over HTTP (branch →
township → county → the bank's credit → disbursement) the member sees the schedule with its 贴息.

This file's counties: 650585 (the member's home county, whose desk runs the programmes).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.conftest import CONSOLE_DIST, login
from tests.e2e.test_member_tickets_browser import png, snap
from tests.integration.conftest import eventually
from tests.integration.desk.loan_fixtures import BANK, add_programme
from tests.support import member_json

HOME = "650585"
TAG = uuid.uuid4().hex[:6]
ONLY_FULL = {"allow_probationary": False, "min_party_years": 0, "min_grade": "", "require_no_overdue": False,
             "min_age": 0, "max_age": 0, "require_returnee": False}
WITH_PROBATIONARY = {**ONLY_FULL, "allow_probationary": True, "require_no_overdue": True}


def _built_with_loan_pages() -> bool:
    """Whether the built console (make console) has the member's loan pages yet."""
    assets = CONSOLE_DIST.parent / "assets"
    return CONSOLE_DIST.exists() and any(Path(assets).glob("MyLoansPage-*.js"))


pytestmark = pytest.mark.skipif(not _built_with_loan_pages(),
                                reason="the built console has no 我的贷款 pages yet: run `make console`")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def act(platform, headers: dict[str, str], loan_id: str, action: str, **body: object) -> dict:
    """A staff or bank act on the loan over HTTP, with the version it was read at when the route takes one."""
    base = f"/api/v1/tenants/{HOME}/loans/{loan_id}"
    if action in ("review", "credit-decision"):
        body["version"] = (await platform.http.get(base, headers=headers)).json()["version"]
    reply = await platform.http.post(f"{base}/{action}", headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                                     json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_probationary_member_checks_conditions_applies_and_sees_the_schedule_after_disbursement(
    platform, county_token, issuer, console_account, admin_conn_factory, new_tab: Callable[..., Awaitable[Page]],
):
    admin = auth(county_token(HOME))
    bank = auth(issuer.issue(user=f"bank-{TAG}", role=Role.BANK_OFFICER, scope=HOME, org=BANK)[0])
    reply = await platform.http.post(f"/api/v1/tenants/{HOME}/members", headers=admin, json=member_json(
        HOME, name=f"贷款{TAG}", phone="13700002468", membership_status="probationary", join_date="2025-09-01"))
    assert reply.status_code == 201, reply.text
    member = reply.json()["id"]
    desk = await admin_conn_factory("desk")

    async def facts_known() -> bool:  # registry's MemberProfileChanged has reached the desk's replica
        return bool(await desk.fetchval("SELECT facts_at IS NOT NULL FROM desk_members WHERE tenant_id = $1"
                                        " AND id = $2::uuid", HOME, member))

    await eventually(facts_known, timeout=30)
    only_full = await add_programme(desk, HOME, name=f"正式党员专享贷{TAG}", rules=ONLY_FULL)
    open_to_all = await add_programme(desk, HOME, name=f"创业担保贷款{TAG}", product=3, cap_fen=20_000_000,
                                      rate_bp=350, subsidy_bp=200, rules=WITH_PROBATIONARY)
    names = {pid: await desk.fetchval("SELECT name FROM loan_programmes WHERE tenant_id = $1 AND id = $2::uuid",
                                      HOME, pid) for pid in (only_full, open_to_all)}
    user = await console_account(f"loans-{TAG}", Role.MEMBER, HOME, member=member)

    tab = await new_tab(phone=True)
    await login(tab, user)
    await tab.goto("/m/loans")
    await expect(tab.get_by_text("您还没有申请过贷款")).to_be_visible()
    await snap(tab, "member-loans-empty")

    # 申请贷款: both programmes open today, the subsidised one with its 贴息 split.
    await tab.get_by_role("link", name="申请贷款").first.click()
    await tab.wait_for_url("**/m/loans/apply")
    full_card = tab.locator(f"article[aria-label='贷款项目 {names[only_full]}']")
    open_card = tab.locator(f"article[aria-label='贷款项目 {names[open_to_all]}']")
    await expect(full_card).to_be_visible()
    await expect(open_card).to_contain_text("财政贴息 2%，个人承担 1.5%")
    await expect(open_card).to_contain_text("20万元")
    await snap(tab, "member-loan-programmes")

    # The 正式党员-only programme: 检查条件 shows the membership rule failing, in red.
    await full_card.get_by_role("button", name="选择此项目").click()
    await tab.get_by_label("贷款金额").fill("50000")
    await tab.get_by_label("贷款期限").fill("12")
    await tab.get_by_role("button", name="检查条件").click()
    rules = tab.get_by_role("region", name="申请条件")
    await expect(rules).to_contain_text("您暂不符合以下条件")
    failed = rules.locator("li[data-passed='false']")
    await expect(failed).to_have_count(1)
    assert await failed.evaluate("e => getComputedStyle(e).color") == "rgb(245, 34, 45)"
    await snap(tab, "member-loan-check-failed")

    # The programme that admits 预备党员: every rule ✓; apply with the licence photo.
    await tab.get_by_role("button", name="重选项目").click()
    await open_card.get_by_role("button", name="选择此项目").click()
    await tab.get_by_label("贷款金额").fill("50000")
    await tab.get_by_label("贷款期限").fill("12")
    await tab.get_by_label("贷款用途").fill("开办汽车维修店")
    await tab.get_by_label("经营计划").fill("在城关镇开办汽车维修店，本人有十年修理经验，场地已租好。")
    await tab.get_by_role("button", name="检查条件").click()
    await expect(tab.get_by_role("region", name="申请条件")).to_contain_text("您符合本项目的申请条件")
    await tab.get_by_label("营业执照").set_input_files(
        files=[{"name": "执照.png", "mimeType": "image/png", "buffer": png()}])
    await snap(tab, "member-loan-apply")
    await tab.get_by_role("button", name="提交申请").click()
    await tab.wait_for_url(lambda url: "/m/loans/" in url and not url.endswith("/apply"))
    loan_id = tab.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    await expect(tab.get_by_test_id("loan-status")).to_have_text("待支部推荐")
    await expect(tab.get_by_text("50,000.00 元").first).to_be_visible()
    await snap(tab, "member-loan-filed")

    filed = (await platform.http.get(f"/api/v1/tenants/{HOME}/loans/{loan_id}", headers=admin)).json()
    assert filed["amount_fen"] == 5_000_000
    assert filed["channel"] == "member_app"
    assert filed["attachment_count"] == 1

    await tab.goto("/m/loans")
    card = tab.get_by_role("link", name=f"贷款 {names[open_to_all]}")
    await expect(card).to_contain_text("待支部推荐")
    await snap(tab, "member-loans-list")

    # Staff over HTTP: the county department stands in for the branch and the township, then approves; the bank
    # grants the credit and disburses today.
    for _ in ("branch", "township", "county"):
        await act(platform, admin, loan_id, "review", decision="approve", reason="同意")
    await act(platform, bank, loan_id, "credit-decision", decision="approve", reason="", granted_amount_fen=5_000_000)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    disbursed = await act(platform, bank, loan_id, "disbursement", disbursed_on=today)
    assert disbursed["status"] == "disbursed"

    await card.click()
    await expect(tab.get_by_test_id("loan-status")).to_have_text("还款中")
    schedule = tab.get_by_role("region", name="还款计划")
    await expect(schedule.locator("tbody tr")).to_have_count(12)
    await expect(schedule).to_contain_text("其中贴息")
    await expect(schedule).to_contain_text("财政贴息共为您节省利息")
    await expect(tab.get_by_role("button", name="撤回申请")).to_have_count(0)
    await snap(tab, "member-loan-schedule")

    served = (await platform.http.get(f"/api/v1/tenants/{HOME}/loans/{loan_id}/schedule", headers=admin)).json()
    assert sum(i["principal_fen"] for i in served["instalments"]) == 5_000_000
