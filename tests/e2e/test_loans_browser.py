"""党员先锋贷 in the offices' and the bank's console (issue 14 §7), in a real headless Chromium against the services.

The county department creates a programme in the 贷款项目 form (a rate it cannot read is refused under its input, in
Chinese); an application the fixtures leave at REVIEWED (waiting for 县级审批) is approved by the county on its
detail page; the partner bank's officer then grants credit for less than was asked, disburses and records a repayment
on the 银行工作台, and the loan's page shows the repayment schedule with its totals row. Another county's loan is
不存在 in the console.

This file's counties: 650575–650584 (650575 runs the programme; 650576 is the other county; 650577 has loans
being repaid, two of them overdue; in 650578 someone else decides first;
in 650579 a township's review is final).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.conftest import CONSOLE_DIST, login, shoot
from tests.e2e.test_member_tickets_browser import png
from tests.integration.desk.loan_fixtures import BANK, BANK_NAME, add_loan, add_member, add_org, add_programme

COUNTY, OTHER, REPAYING, RACE, TOWNSHIP_FINAL = "650575", "650576", "650577", "650578", "650579"
TAG = uuid.uuid4().hex[:6]
REVIEWED, TIER_COUNTY = 3, 3  # LoanStatus.REVIEWED waits for LoanTier.COUNTY
DISBURSED = 6
RECOMMENDED, TIER_TOWNSHIP = 2, 2  # waits for the township's review


def _built_with_loan_pages() -> bool:
    """Whether the built console (make console) has the offices' loan pages yet."""
    assets = CONSOLE_DIST.parent / "assets"
    return CONSOLE_DIST.exists() and any(Path(assets).glob("BankPage-*.js"))


pytestmark = pytest.mark.skipif(not _built_with_loan_pages(),
                                reason="the built console has no 贷款 office pages yet: run `make console`")


async def _settled(page: Page) -> None:
    """Wait until a dialog's opening animation is over (a screenshot mid-fade shows nothing legible)."""
    await expect(page.locator(".dialog-fade-enter-active")).to_have_count(0)


async def _tab(new_tab: Callable[..., Awaitable[Page]]) -> Page:
    """A fresh office tab (one place to change how the tests open the console)."""
    return await new_tab()


@pytest.fixture(scope="module")
async def world(platform, console_account, admin_conn_factory) -> dict[str, str]:
    """A programme of the bank, a member of the desk's replica with an application at 县级审批, and the accounts."""
    desk = await admin_conn_factory("desk")
    programme = await add_programme(desk, COUNTY, name=f"党员先锋贷{TAG}")
    member = await add_member(desk, COUNTY, name=f"王建国{TAG[:2]}")
    loan = await add_loan(desk, COUNTY, programme_id=programme, member_id=member, status=REVIEWED,
                          pending_tier=TIER_COUNTY, amount_fen=10_000_000, term_months=12)
    other_programme = await add_programme(desk, OTHER, name=f"外县先锋贷{TAG}")
    other_member = await add_member(desk, OTHER)
    other_loan = await add_loan(desk, OTHER, programme_id=other_programme, member_id=other_member,
                                status=REVIEWED, pending_tier=TIER_COUNTY)
    number = await desk.fetchval("SELECT number FROM loans WHERE tenant_id = $1 AND id = $2::uuid", COUNTY, loan)
    programme_name = await desk.fetchval("SELECT name FROM loan_programmes WHERE tenant_id = $1 AND id = $2::uuid",
                                         COUNTY, programme)
    return {
        "loan": loan, "number": number, "other_loan": other_loan, "member": member, "programme_name": programme_name,
        "admin": await console_account(f"ln-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY),
        "bank": await console_account(f"ln-bank-{TAG}", Role.BANK_OFFICER, COUNTY, org=BANK,
                                      display_name=f"{BANK_NAME}信贷员"),
    }


async def test_the_county_creates_a_programme_and_a_bad_rate_is_refused_under_its_input(
        new_tab: Callable[..., Awaitable[Page]], world: dict[str, str]) -> None:
    page = await _tab(new_tab)
    await login(page, world["admin"])
    await page.goto("/loan-programmes")
    await expect(page.get_by_role("heading", name="贷款项目")).to_be_visible()
    await page.get_by_role("button", name="新建项目").click()
    dialog = page.locator(".el-dialog:visible")
    name = f"回归创业贷{TAG}"
    await dialog.get_by_label("项目名称").fill(name)
    await dialog.get_by_label("合作银行代码").fill(BANK)
    await dialog.get_by_label("合作银行名称").fill(BANK_NAME)
    await dialog.get_by_label("总额度（元）").fill("5000000")
    await dialog.get_by_label("单户上限（元）").fill("300000")
    await dialog.get_by_label("年利率（%）").fill("四点三五")
    await dialog.get_by_role("button", name="保存").click()
    error = dialog.locator(".el-form-item[data-field=rate] .el-form-item__error")
    await expect(error).to_be_visible()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in await error.inner_text()), "the field error is not in Chinese"
    await shoot(page, "loan-programme-form-error")

    await dialog.get_by_label("年利率（%）").fill("4.35")
    await dialog.get_by_label("贴息（%）").fill("2.85")
    await dialog.get_by_role("button", name="保存").click()
    await expect(dialog).to_be_hidden()
    row = page.locator("[data-test=programmes] .el-table__row", has_text=name)
    await expect(row).to_contain_text("4.35% / 2.85%")
    await expect(row).to_contain_text("0.00 元 / 5,000,000.00 元")
    await expect(row).to_contain_text(BANK_NAME)
    await shoot(page, "loan-programmes")


async def test_the_county_approves_then_the_bank_grants_disburses_and_records_a_repayment(
        new_tab: Callable[..., Awaitable[Page]], world: dict[str, str]) -> None:
    county = await _tab(new_tab)
    await login(county, world["admin"])
    # The 工作台's 贷款待审 card counts what waits for the county's own tier.
    card = county.locator("[data-todo=loans]")
    await expect(card).to_contain_text(re.compile(r"[1-9]\d* 件待审批"))
    await shoot(county, "loans-workbench-card")
    await card.locator("[data-loan-todo=awaiting]").click()
    await county.wait_for_url("**/loans?awaiting_me=true")
    # 待我审批 is on by default: the application at 县级审批 is the county's.
    row = county.locator("[data-test=loans] .el-table__row", has_text=world["number"])
    await expect(row).to_contain_text("待县级审批")
    await expect(row).to_contain_text("100,000.00 元")
    await shoot(county, "loans-awaiting-county")
    await row.get_by_role("link", name=world["number"]).click()
    await county.wait_for_url(f"**/loans/{world['loan']}")
    review = county.locator("[data-test=review]")
    await expect(review).to_contain_text("县级审批")
    # 不同意 needs a reason: nothing is sent without one.
    await review.get_by_text("不同意", exact=True).click()
    await review.get_by_role("button", name="提交").click()
    await expect(review.locator(".el-form-item__error")).to_have_text("不同意须填写原因")
    await review.get_by_text("同意", exact=True).click()
    await review.get_by_label("审批说明或原因").fill("经营计划可行，同意")
    await review.get_by_role("button", name="提交").click()
    status = county.locator("[data-test=loan-status]")
    await expect(status).to_have_text("待银行审批")
    await expect(review).to_be_hidden()
    await shoot(county, "loan-approved-by-county")

    bank = await _tab(new_tab)
    await login(bank, world["bank"])
    await bank.goto("/loans/bank")
    await expect(bank.get_by_role("heading", name="银行工作台")).to_be_visible()
    waiting = bank.locator("[data-test=bank-approved] .el-table__row", has_text=world["number"])
    await expect(waiting).to_be_visible()
    await shoot(bank, "loans-bank-credit")
    await waiting.get_by_role("button", name="授信").click()
    dialog = bank.locator(".el-dialog:visible")
    # More than was asked is refused before anything is sent.
    await dialog.get_by_label("授信金额（元）").fill("120000")
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog.locator(".el-form-item__error")).to_contain_text("不能超过申请金额")
    await dialog.get_by_label("授信金额（元）").fill("80000")
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog).to_be_hidden()

    await bank.get_by_role("tab", name=re.compile("待放款")).click()
    granted = bank.locator("[data-test=bank-credit_granted] .el-table__row", has_text=world["number"])
    await expect(granted).to_contain_text("80,000.00 元")
    await granted.get_by_role("button", name="放款").click()
    dialog = bank.locator(".el-dialog:visible")
    await expect(dialog).to_contain_text("80,000.00 元")
    await _settled(bank)
    await shoot(bank, "loans-bank-disburse")
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog).to_be_hidden()

    await bank.get_by_role("tab", name=re.compile("还款中")).click()
    repaying = bank.locator("[data-test=bank-disbursed] .el-table__row", has_text=world["number"])
    await expect(repaying).to_contain_text("80,000.00 元")
    await repaying.get_by_role("button", name="登记还款").click()
    dialog = bank.locator(".el-dialog:visible")
    await dialog.get_by_label("还款金额（元）").fill("7000")
    await dialog.get_by_role("button", name="确定").click()
    await expect(dialog).to_be_hidden()
    await shoot(bank, "loans-bank-repaying")

    await repaying.get_by_role("link", name=world["number"]).click()
    await bank.wait_for_url(f"**/loans/{world['loan']}")
    await expect(bank.locator("[data-test=loan-status]")).to_have_text("还款中")
    schedule = bank.locator("[data-test=schedule]")
    await expect(schedule.locator(".el-table__body .el-table__row")).to_have_count(12)
    await expect(schedule.locator(".el-table__footer")).to_contain_text("80,000.00 元")  # the principal adds up
    await expect(bank.locator("[data-test=history]")).to_contain_text("登记还款")
    await shoot(bank, "loan-schedule")


async def test_the_county_applies_on_a_members_behalf_after_the_rules_are_checked(
        new_tab: Callable[..., Awaitable[Page]], world: dict[str, str]) -> None:
    page = await _tab(new_tab)
    await login(page, world["admin"])
    await page.goto(f"/loans?member={world['member']}")
    dialog = page.locator(".el-dialog:visible")
    await expect(dialog.get_by_label("党员编号")).to_have_value(world["member"])
    await dialog.locator(".el-form-item", has_text="贷款项目").locator(".el-select").click()
    await page.locator(".el-select-dropdown__item:visible", has_text=world["programme_name"]).click()
    await dialog.get_by_label("申请金额（元）").fill("50000")
    await dialog.get_by_label("贷款用途").fill("购置农机扩大种植")
    submit = dialog.get_by_role("button", name="提交申请")
    await expect(submit).to_be_disabled()  # not before the rules were checked
    await dialog.get_by_role("button", name="核验申请条件").click()
    rules = dialog.locator("[data-test=eligibility]")
    await expect(rules).to_contain_text("符合申请条件")
    await expect(rules.locator("li.fail")).to_have_count(0)
    await expect(rules.locator("li.pass").first).to_be_visible()
    await shoot(page, "loan-apply-on-behalf")
    await submit.click()
    await page.wait_for_url(re.compile(r"/loans/[0-9a-f-]{36}$"))
    await expect(page.locator("[data-test=loan-status]")).to_have_text("待支部推荐")
    await expect(page.locator(".el-descriptions")).to_contain_text("代为申请")
    # The member's 营业执照, photographed at the window: attached while the application is open, then listed.
    await page.locator("input[type=file]").set_input_files(
        files=[{"name": "营业执照.png", "mimeType": "image/png", "buffer": png()}])
    await expect(page.locator("[data-test=attachment]", has_text="营业执照.png")).to_be_visible()
    # 代为撤回: the member changed their mind; the reason is required.
    await page.locator("[data-test=withdraw]").click()
    box = page.locator(".el-message-box")
    await box.locator("textarea").fill("党员已筹得资金，不再申请")
    await box.get_by_role("button", name="撤回").click()
    await expect(page.locator("[data-test=loan-status]")).to_have_text("已撤回")
    await shoot(page, "loan-withdrawn-on-behalf")


async def test_another_countys_loan_is_not_found_in_the_console(
        new_tab: Callable[..., Awaitable[Page]], world: dict[str, str]) -> None:
    page = await _tab(new_tab)
    await login(page, world["admin"])
    await page.goto(f"/loans/{world['other_loan']}")
    await expect(page.get_by_text("贷款不存在，或不在您的办理范围内")).to_be_visible()


async def test_a_bank_officers_menu_shows_only_the_banks_pages(
        new_tab: Callable[..., Awaitable[Page]], world: dict[str, str]) -> None:
    page = await _tab(new_tab)
    await login(page, world["bank"])
    await page.goto("/loans/bank")
    menu = page.locator(".el-menu")
    for entry in ("银行工作台", "逾期贷款", "贴息申报"):
        await expect(menu.get_by_text(entry, exact=True)).to_be_visible()
    for entry in ("贷款审批", "贷款项目"):
        await expect(menu.get_by_text(entry, exact=True)).to_have_count(0)


async def _overdue_loan(desk, programme: str, *, name: str, days: int, overdue_fen: int) -> str:
    """A disbursed loan as the repayments sweep leaves one past due."""
    member = await add_member(desk, REPAYING, name=name)
    loan = await add_loan(desk, REPAYING, programme_id=programme, member_id=member, status=DISBURSED, pending_tier=0,
                          amount_fen=5_000_000, granted_amount_fen=5_000_000)
    await desk.execute("UPDATE loans SET outstanding_principal_fen = 4_000_000, overdue_fen = $3, days_past_due = $4,"
                       " disbursed_on = current_date - 90 WHERE tenant_id = $1 AND id = $2::uuid",
                       REPAYING, loan, overdue_fen, days)
    return loan


async def test_the_overdue_list_puts_the_longest_past_due_first_and_the_bank_downloads_its_subsidy_claims(
        new_tab: Callable[..., Awaitable[Page]], console_account, admin_conn_factory) -> None:
    desk = await admin_conn_factory("desk")
    programme = await add_programme(desk, REPAYING, name=f"创业担保贷{TAG}", product=3, subsidy_bp=200)
    ten = await _overdue_loan(desk, programme, name=f"李十天{TAG[:2]}", days=10, overdue_fen=123_456)
    forty_five = await _overdue_loan(desk, programme, name=f"张四五{TAG[:2]}", days=45, overdue_fen=88_800)
    numbers = {loan: await desk.fetchval("SELECT number FROM loans WHERE tenant_id = $1 AND id = $2::uuid",
                                         REPAYING, loan) for loan in (ten, forty_five)}
    admin = await console_account(f"ln-county-{REPAYING}", Role.COUNTY_ADMIN, REPAYING)
    bank = await console_account(f"ln-bank-{REPAYING}-{TAG}", Role.BANK_OFFICER, REPAYING, org=BANK)

    page = await _tab(new_tab)
    await login(page, admin)
    await page.goto("/loans/overdue")
    rows = page.locator("[data-test=overdue] .el-table__body .el-table__row")
    longest = rows.filter(has_text=numbers[forty_five])
    await expect(longest).to_contain_text("45 天")
    await expect(longest).to_contain_text("888.00 元")
    await expect(rows.filter(has_text=numbers[ten])).to_contain_text("1,234.56 元")
    order = [text.split()[0] for text in await rows.all_inner_texts()]
    assert order.index(numbers[forty_five]) < order.index(numbers[ten]), "the longest past due is not first"
    await expect(page.locator("[data-test=overdue-summary]")).to_contain_text("逾期金额")
    await shoot(page, "loans-overdue")
    # 台账中心 has the 党员先锋贷台账 too: the Excel file lists the county's loans.
    await page.goto("/ledgers")
    async with page.expect_download() as ledger:
        await page.get_by_label("党员先锋贷台账").get_by_role("button", name="下载 Excel").click()
    download = await ledger.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active  # noqa: ASYNC240
    cells = {str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None}
    assert cells.issuperset(numbers.values()), "the ledger does not list the county's loans"

    teller = await _tab(new_tab)
    await login(teller, bank)
    await teller.goto("/loan-subsidies")
    await teller.get_by_text("按季", exact=True).click()
    await teller.get_by_role("button", name="查询").click()
    await expect(teller.locator("[data-test=subsidy-totals]")).to_contain_text("贴息合计")
    await shoot(teller, "loan-subsidy-claims")
    async with teller.expect_download() as sheet:
        await teller.get_by_role("button", name="下载申报表（Excel）").click()
    assert (await sheet.value).suggested_filename.endswith(".xlsx")


async def test_a_decision_someone_else_made_first_is_shown_as_handled_and_the_page_refreshes(
        platform, county_token, new_tab: Callable[..., Awaitable[Page]], console_account,
        admin_conn_factory) -> None:
    desk = await admin_conn_factory("desk")
    programme = await add_programme(desk, RACE, name=f"党员先锋贷{TAG}")
    member = await add_member(desk, RACE)
    loan = await add_loan(desk, RACE, programme_id=programme, member_id=member, status=REVIEWED,
                          pending_tier=TIER_COUNTY)
    admin = await console_account(f"ln-county-{RACE}", Role.COUNTY_ADMIN, RACE)
    page = await _tab(new_tab)
    await login(page, admin)
    await page.goto(f"/loans/{loan}")
    review = page.locator("[data-test=review]")
    await expect(review).to_be_visible()

    # A colleague approves it over the API while this page still shows the old version.
    headers = {"Authorization": f"Bearer {county_token(RACE)}", "Idempotency-Key": str(uuid.uuid4())}
    base = f"/api/v1/tenants/{RACE}/loans/{loan}"
    version = (await platform.http.get(base, headers=headers)).json()["version"]
    reply = await platform.http.post(f"{base}/review", headers=headers,
                                     json={"decision": "approve", "reason": "", "version": version})
    assert reply.status_code == 200, reply.text

    await review.get_by_role("button", name="提交").click()
    await expect(page.get_by_text("已被他人处理，已刷新")).to_be_visible()
    await expect(page.locator("[data-test=loan-status]")).to_have_text("待银行审批")
    await expect(review).to_be_hidden()


async def test_a_township_officers_final_review_skips_the_county_tier_on_the_stepper(
        new_tab: Callable[..., Awaitable[Page]], console_account, admin_conn_factory) -> None:
    desk = await admin_conn_factory("desk")
    town = await add_org(desk, TOWNSHIP_FINAL, name="城关镇党委", kind="TOWNSHIP_COMMITTEE")
    branch = await add_org(desk, TOWNSHIP_FINAL, name="城关村党支部", kind="BRANCH", parent=town)
    programme = await add_programme(desk, TOWNSHIP_FINAL, name=f"党员先锋贷{TAG}", township_final_up_to_fen=5_000_000)
    member = await add_member(desk, TOWNSHIP_FINAL, home_org_id=branch)
    loan = await add_loan(desk, TOWNSHIP_FINAL, programme_id=programme, member_id=member, status=RECOMMENDED,
                          pending_tier=TIER_TOWNSHIP, amount_fen=3_000_000, home_org_id=branch)
    officer = await console_account(f"ln-town-{TAG}", Role.TOWNSHIP_OFFICER, TOWNSHIP_FINAL, org=town)
    page = await _tab(new_tab)
    await login(page, officer)
    await page.goto("/loans")
    row = page.locator("[data-test=loans] .el-table__row").filter(has=page.locator(f"a[href$='{loan}']"))
    await expect(row).to_contain_text("待乡镇审核")
    await row.get_by_role("link").click()
    await page.wait_for_url(f"**/loans/{loan}")
    review = page.locator("[data-test=review]")
    await expect(review).to_contain_text("乡镇审核")
    await review.get_by_role("button", name="提交").click()
    await expect(page.locator("[data-test=loan-status]")).to_have_text("待银行审批")
    steps = page.locator("[data-test=loan-steps]")
    await expect(steps).to_contain_text("免于县级审批")
    await expect(steps.locator(".el-step", has_text="免于县级审批").locator(".is-success").first).to_be_visible()
    await shoot(page, "loan-township-final")
