"""数据导入 in the console: upload a 台账, follow it 上传 → 校验 → 写入 → 完成, read the per-row errors in Chinese.

The page says "写入" only once the registry has checked every row and found none wrong (issue 12: it used to read
"校验通过，正在写入…" before failing); a MutationObserver records every status the page showed to prove it.
"""

from __future__ import annotations

import csv
import io

from playwright.async_api import Page, expect

from jinqiao.kit.auth import Role
from tests.e2e.conftest import login, shoot
from tests.support import id_number

COUNTY = "650363"  # this file's county (650361–650369 belong to the workbench helper's tests)
HEADERS = ["姓名", "性别", "出生日期", "公民身份号码", "手机号码", "党员类别", "入党日期", "乡镇（街道）"]

# Every text #import-status showed, in order (the element comes and goes with the page's state).
RECORD_STATUSES = """() => {
  window.__statuses = [];
  const seen = () => {
    const el = document.querySelector('#import-status');
    const text = el ? el.textContent.trim() : '';
    if (text && window.__statuses[window.__statuses.length - 1] !== text) window.__statuses.push(text);
  };
  new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def sheet(names: list[str], *, bad_row: int | None = None) -> bytes:
    """A CSV 台账 of valid people of this county; the person on ``bad_row`` (sheet row, header = 1) gets a wrong
    check digit."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for i, name in enumerate(names):
        number = id_number(COUNTY)
        if bad_row is not None and i + 2 == bad_row:
            number = number[:17] + ("0" if number[17] != "0" else "1")
        writer.writerow([name, "男" if int(number[16]) % 2 else "女",
                         f"{number[6:10]}-{number[10:12]}-{number[12:14]}", number, "13900001234", "正式党员",
                         "2012-07-01", "城关镇"])
    return out.getvalue().encode("utf-8-sig")


async def upload(page: Page, name: str, content: bytes) -> None:
    await page.get_by_label("台账文件").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    await page.get_by_role("button", name="上传并导入").click()


async def statuses(page: Page) -> list[str]:
    return await page.evaluate("() => window.__statuses")


async def test_a_bad_row_fails_the_file_without_ever_saying_it_is_written(page: Page, console_account):
    user = await console_account(f"import-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY)
    await login(page, user)
    await page.get_by_role("menuitem", name="数据导入").click()
    await page.wait_for_url("**/imports")
    await expect(page.get_by_role("heading", name="数据导入")).to_be_visible()
    await shoot(page, "import-empty")
    await page.evaluate(RECORD_STATUSES)

    await upload(page, "有错误的台账.csv", sheet([f"错行{i}" for i in range(30)], bad_row=17))
    status = page.locator("#import-status")
    await expect(status).to_have_attribute("data-stage", "failed")
    await expect(status).to_contain_text("导入失败，未导入任何数据")
    errors = page.locator("#import-error-table tbody tr")
    await expect(errors).to_have_count(1)
    await expect(errors.first).to_contain_text("第 17 行")
    await expect(errors.first).to_contain_text("公民身份号码")
    await expect(errors.first).to_contain_text("校验位")
    assert "id_number" not in await page.locator("#import-errors").inner_text()
    shown = await statuses(page)
    assert shown, "the page showed no status at all"
    assert not [s for s in shown if "写入" in s], f"the page said it was writing a file that failed: {shown}"
    await shoot(page, "import-failed")


async def test_a_good_file_is_imported_and_the_roster_is_one_click_away(page: Page, console_account):
    user = await console_account(f"import-county-{COUNTY}", Role.COUNTY_ADMIN, COUNTY)
    await login(page, user)
    await page.goto("/imports")
    await page.evaluate(RECORD_STATUSES)
    await upload(page, "台账.csv", sheet(["导入甲", "导入乙", "导入丙"]))
    status = page.locator("#import-status")
    await expect(status).to_have_attribute("data-stage", "succeeded")
    await expect(status).to_contain_text("共导入 3 名党员")
    await expect(page.locator("#import-errors")).to_have_count(0)
    link = page.get_by_role("link", name="查看党员名册")
    await expect(link).to_have_attribute("href", "/members")
    shown = await statuses(page)
    # Writing is said only after every row was checked (and it may pass too fast to be seen at all).
    writing = [i for i, s in enumerate(shown) if "写入" in s]
    assert all("校验通过" in shown[i] for i in writing), shown
    await shoot(page, "import-succeeded")
