"""Ledger cells are inert, as an outsider would try them (issue 10, finding 2).

A county admin of 登封市 (a county no other test uses) founds a 驻外党支部 whose name is a spreadsheet formula; the
外建党组织分布台账 must export it as text — behind a single quote in CSV, a string cell in XLSX — and answer 200.
A name carrying a control character is refused at the source with 422 naming the field, and a row that already
carries one (stored before that check) no longer breaks the ledger.
"""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from openpyxl import load_workbook

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from tests.support import member_json

COUNTY = "410185"  # 登封市
PASSWORD = "ledger cells are inert"
TAG = uuid.uuid4().hex[:6]
FORMULA = '=HYPERLINK("http://127.0.0.1/x","点我")'
BASE = f"/api/v1/tenants/{COUNTY}"


@pytest.fixture(scope="module")
async def world(platform, settings_for):
    """A login of the county and its county committee (the root every external branch sits under)."""
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    await upsert_account(db=db, account=Account(username=f"cells-{COUNTY}", role=Role.COUNTY_ADMIN, scope=COUNTY,
                                                acting_tenant=COUNTY), password=PASSWORD)
    await db.close()
    reply = await platform.http.post("/api/v1/auth/token", json={"username": f"cells-{COUNTY}", "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    h = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    roots = (await platform.http.get(f"{BASE}/orgs", headers=h)).json()["orgs"]
    if roots:
        root = roots[0]["id"]
    else:
        made = await platform.http.post(f"{BASE}/orgs", headers=h, json={"name": "中共登封市委员会",
                                                                          "kind": "county_committee"})
        assert made.status_code == 201, made.text
        root = made.json()["id"]
    return {"h": h, "root": root}


async def _external_branch(platform, world, name: str, city: str = "310000"):
    return await platform.http.post(f"{BASE}/orgs", headers=world["h"], json={
        "parent_id": world["root"], "name": name, "kind": "external_branch", "city_code": city,
        "founding_mode": "standalone"})


async def _ledger(platform, world, fmt: str):
    reply = await platform.http.get(f"{BASE}/ledgers/external-orgs.{fmt}", headers=world["h"])
    assert reply.status_code == 200, reply.text
    return reply


async def test_a_formula_named_org_exports_as_inert_text_in_csv_and_xlsx(platform, world):
    made = await _external_branch(platform, world, FORMULA)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == FORMULA  # stored as written: the name is the county's, only the ledger guards it

    text = (await _ledger(platform, world, "csv")).content.decode("utf-8-sig")
    names = [row[1] for row in csv.reader(io.StringIO(text))][1:]
    assert "'" + FORMULA in names and FORMULA not in names
    assert all(not n.startswith(("=", "+", "-", "@")) for n in names)

    sheet = load_workbook(io.BytesIO((await _ledger(platform, world, "xlsx")).content)).active
    assert sheet is not None
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    hostile = [c for c in cells if c.value == FORMULA]
    assert len(hostile) == 1 and hostile[0].data_type == "s"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f"])
async def test_an_org_name_with_a_control_character_is_422_naming_the_field(platform, world, control):
    reply = await _external_branch(platform, world, f"登封市驻沪{control}党支部{TAG}")
    assert reply.status_code == 422, reply.text
    errors = {e["field"]: e["detail"] for e in reply.json()["errors"]}
    assert errors.get("name") == "不能包含控制字符"


async def test_a_member_name_with_a_control_character_is_422_naming_the_field(platform, world):
    reply = await platform.http.post(f"{BASE}/members", headers=world["h"],
                                     json=member_json(COUNTY, name="李\x08秀英"))
    assert reply.status_code == 422, reply.text
    assert {e["field"]: e["detail"] for e in reply.json()["errors"]}.get("name") == "不能包含控制字符"


async def test_a_control_character_already_stored_no_longer_breaks_the_ledger(platform, world, admin_conn_factory):
    made = await _external_branch(platform, world, f"登封市驻穗党支部{TAG}", city="440100")
    assert made.status_code == 201, made.text
    conn = await admin_conn_factory("organizations")
    # A name saved before the check existed (or by a path that skipped it): BEL and ESC inside it.
    await conn.execute("UPDATE orgs SET name = $1 WHERE id = $2", f"登封市驻穗\x07党支部\x1b{TAG}",
                       uuid.UUID(made.json()["id"]))

    text = (await _ledger(platform, world, "csv")).content.decode("utf-8-sig")
    assert f"登封市驻穗党支部{TAG}" in [row[1] for row in csv.reader(io.StringIO(text))]
    sheet = load_workbook(io.BytesIO((await _ledger(platform, world, "xlsx")).content)).active
    assert sheet is not None
    assert f"登封市驻穗党支部{TAG}" in [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
