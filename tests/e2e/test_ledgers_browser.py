"""台账中心 in a real browser: the county admin downloads every ledger; each Excel file opens with its title, 填报单位
and today's Beijing date above the table, and has the rows of the county."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import expect

from jinqiao.kit.auth import Role
from jinqiao.kit.clock import china_date
from tests.e2e.conftest import login, shoot

COUNTY = "650324"  # this helper's counties: 650321–650329
BASE = f"/api/v1/tenants/{COUNTY}"
TAG = uuid.uuid4().hex[:4]
ADMIN_USER = f"ui-ledgers-admin-{COUNTY}"
LEDGERS = ["流向台账", "回归工程台账", "发展党员台账", "双强村干部培养台账", "外建党组织分布台账",
           "外派指导员(联络员)台账"]


@pytest.fixture(scope="module")
async def county(platform, county_token):
    """The county committee and one 驻外党支部 with a 党建指导员 sent to it."""
    h = {"Authorization": f"Bearer {county_token(COUNTY)}"}
    roots = (await platform.http.get(f"{BASE}/orgs", headers=h)).json()["orgs"]
    if roots:
        root = roots[0]
    else:
        made = await platform.http.post(f"{BASE}/orgs", headers=h, json={"name": "中共测试四县委员会",
                                                                         "kind": "county_committee"})
        assert made.status_code == 201, made.text
        root = made.json()
    branch = await platform.http.post(f"{BASE}/orgs", headers=h, json={
        "name": f"测试四县驻苏州党支部{TAG}", "kind": "external_branch", "parent_id": root["id"],
        "city_code": "320500", "founding_mode": "hosted"})
    assert branch.status_code == 201, branch.text
    sent = await platform.http.post(f"{BASE}/orgs/{branch.json()['id']}/officers", headers=h, json={
        "position": "guidance_officer", "name": f"周指导{TAG}", "phone": "13612345678", "start_date": "2025-03-01"})
    assert sent.status_code == 201, sent.text
    return {"root_name": root["name"], "branch": branch.json()["name"]}


async def test_the_county_admin_downloads_every_ledger_with_title_unit_and_date(page, console_account, county):
    await console_account(ADMIN_USER, Role.COUNTY_ADMIN, COUNTY)
    await login(page, ADMIN_USER)
    await page.goto("/ledgers")
    today = china_date(datetime.now(UTC))
    for title in LEDGERS:
        await expect(page.get_by_label(title)).to_be_visible()
    await expect(page.get_by_label("流向台账")).to_contain_text(f"{county['root_name']}组织部")
    await expect(page.get_by_label("流向台账")).to_contain_text(f"{today.year}年{today.month}月{today.day}日")
    await shoot(page, "ledgers")

    opened = {}
    for title in LEDGERS:
        card = page.get_by_label(title)
        async with page.expect_download() as info:
            await card.get_by_role("button", name="下载 Excel").click()
        download = await info.value
        assert download.suggested_filename == f"{title}-{COUNTY}.xlsx"
        sheet = load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active  # noqa: ASYNC240
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == title, title
        # 650324 is not in the reference data: the county files under its committee's name.
        assert rows[1][0] == f"填报单位：{county['root_name']}组织部", title
        assert rows[2][0] == f"填报日期：{today.year}年{today.month}月{today.day}日", title
        assert rows[3][0] == "序号", title
        assert sheet.freeze_panes == "A5"
        opened[title] = rows[4:]
    assert county["branch"] in {r[1] for r in opened["外建党组织分布台账"]}
    assert (f"周指导{TAG}", "党建指导员", county["branch"], "苏州市", "136****5678") in [
        r[1:6] for r in opened["外派指导员(联络员)台账"]]
