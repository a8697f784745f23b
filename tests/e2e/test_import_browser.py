"""导入党员 in the console: upload a 台账, watch the progress bar, read the per-row errors."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, timedelta

from playwright.async_api import Page, expect

from jinqiao.kit import pii
from tests.e2e.conftest import COUNTY_USER
from tests.e2e.test_console_browser import log_in, roster_loaded, screenshot

HEADERS = ["姓名", "性别", "出生日期", "公民身份号码", "手机号码", "党员类别", "入党日期", "乡镇（街道）"]
_serial = itertools.count()


def sheet(names: list[str], *, bad_row: int | None = None) -> bytes:
    """A CSV 台账 of valid people (unique ID numbers of 济源, no test's county); one may carry a wrong check digit."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for i, name in enumerate(names):
        n = next(_serial)
        number = pii.make_id_number("419001", date(1975, 1, 1) + timedelta(days=n // 1000), n % 1000)
        if bad_row is not None and i + 2 == bad_row:
            number = number[:17] + ("0" if number[17] != "0" else "1")
        writer.writerow([name, "男" if int(number[16]) % 2 else "女",
                         f"{number[6:10]}-{number[10:12]}-{number[12:14]}", number, "13900001234", "正式党员",
                         "2012-07-01", "陈淋子镇"])
    return out.getvalue().encode("utf-8-sig")


async def upload(page: Page, name: str, content: bytes) -> None:
    panel = page.locator("#import-panel")
    await panel.get_by_label("台账文件").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    await panel.get_by_role("button", name="上传并导入").click()


async def test_a_bad_row_is_listed_and_a_good_file_is_imported(page: Page):
    await log_in(page, COUNTY_USER)
    await roster_loaded(page)
    panel = page.locator("#import-panel")
    await expect(panel.get_by_role("heading", name="导入党员")).to_be_visible()

    await upload(page, "有错误的台账.csv", sheet([f"错行{i}" for i in range(30)], bad_row=17))
    await expect(page.locator("#notice")).to_contain_text("导入失败")
    errors = panel.locator("#import-error-table tbody tr")
    await expect(errors).to_have_count(1)
    await expect(errors.first).to_contain_text("17")
    await expect(errors.first).to_contain_text("公民身份号码")
    await expect(errors.first).to_contain_text("身份证号校验位错误")
    await page.screenshot(path=screenshot("import-failed"), full_page=True)

    await upload(page, "台账.csv", sheet(["导入甲", "导入乙", "导入丙"]))
    await expect(panel.locator("#import-status")).to_contain_text("共导入 3 名党员")
    await expect(panel.locator("#import-errors")).to_be_hidden()
    await panel.get_by_role("button", name="刷新名册").click()
    await roster_loaded(page)
    await expect(page.get_by_role("row").filter(has_text="导入乙")).to_have_count(1)
