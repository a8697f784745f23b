"""台账 imports end to end: gateway → registry → PostgreSQL (RLS, COPY, outbox, audit), all rows or none."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, timedelta

import asyncpg
import pytest
from openpyxl import load_workbook

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import pii
from jinqiao.registry.imports import domain as imports
from tests.integration.conftest import bearer, eventually
from tests.support import member_request, wrong_check_digit

COUNTY = "411524"  # 商城县: the importing county of this module
OTHER = "410104"  # 管城回族区: holds a person the import must not take
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REGISTERED = registry_events_pb2.MemberRegistered.DESCRIPTOR.full_name
HEADERS = ["姓名", "性别", "出生日期", "公民身份号码", "手机号码", "党员类别", "入党日期", "乡镇（街道）", "村（社区）",
           "职业"]


_serial = itertools.count()


def id_number(county: str = COUNTY) -> str:
    """An ID number no other test of the session uses: random ones collide (the birthday problem) over thousands."""
    n = next(_serial)
    # 济源 (419001) is no test's county; births from 1960, so every join date used here follows the 18th birthday.
    return pii.make_id_number("419001", date(1960, 1, 1) + timedelta(days=n // 1000), n % 1000)


def row(number: str = "", **overrides: object) -> dict[str, object]:
    """One valid 台账 row by header; birth date and gender agree with the ID number."""
    number = number or id_number(COUNTY)
    cells: dict[str, object] = {
        "姓名": "周国庆", "性别": "男" if int(number[16]) % 2 else "女",
        "出生日期": f"{number[6:10]}-{number[10:12]}-{number[12:14]}", "公民身份号码": number,
        "手机号码": "13812345678", "党员类别": "正式党员", "入党日期": "2012-07-01", "乡镇（街道）": "城关镇",
        "村（社区）": "北街社区", "职业": "外卖骑手",
    }
    cells.update(overrides)
    return cells


def to_csv(rows: list[dict[str, object]], *, headers: list[str] = HEADERS, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([r.get(h, "") for h in headers] for r in rows)
    return out.getvalue().encode(encoding)


def auth(county_token, county: str = COUNTY) -> dict[str, str]:
    return {"Authorization": f"Bearer {county_token(county)}"}


async def start(platform, county_token, content: bytes, *, name: str = "台账.csv", media: str = "text/csv",
                county: str = COUNTY, key: str = "") -> dict:
    headers = {**auth(county_token, county), "Content-Type": media}
    if key:
        headers["Idempotency-Key"] = key
    reply = await platform.http.post(f"/api/v1/tenants/{county}/imports", params={"file_name": name},
                                     content=content, headers=headers)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert reply.headers["location"] == f"/api/v1/tenants/{county}/imports/{body['id']}"
    return body


async def settled(platform, county_token, import_id: str, *, county: str = COUNTY) -> dict:
    async def check() -> dict | None:
        reply = await platform.http.get(f"/api/v1/tenants/{county}/imports/{import_id}",
                                        headers=auth(county_token, county))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        return None if body["state"] == "running" else body

    return await eventually(check, timeout=60)  # type: ignore[return-value]


@pytest.fixture
async def db(admin_conn_factory) -> asyncpg.Connection:
    return await admin_conn_factory("registry")


async def counts(db: asyncpg.Connection, county: str = COUNTY) -> tuple[int, int]:
    """Members of the county, and its MemberRegistered outbox rows (seen by the superuser, past RLS)."""
    members = await db.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1", county)
    events = await db.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type = $2", county,
                               REGISTERED)
    return members, events


async def test_a_csv_of_valid_rows_is_imported_entirely_with_progress_events_and_audit(platform, county_token, db):
    before = await counts(db)
    rows = [row(**{"姓名": f"党员{i:04d}"}) for i in range(2500)]
    started = await start(platform, county_token, to_csv(rows), name="商城县党员台账.csv", key="csv-2500")
    assert started["state"] == "running" and started["file_name"] == "商城县党员台账.csv"
    done = await settled(platform, county_token, started["id"])
    assert done["state"] == "succeeded", done["errors"][:5]
    assert done["total_rows"] == done["processed_rows"] == done["imported_rows"] == 2500
    assert done["errors"] == [] and not done["errors_truncated"]
    after = await counts(db)
    assert (after[0] - before[0], after[1] - before[1]) == (2500, 2500)
    # PII stays encrypted and masked; the imported rows are ordinary members.
    sample = await db.fetchrow("SELECT * FROM members WHERE tenant_id = $1 AND name = '党员0007'", COUNTY)
    assert sample["id_number_masked"].startswith("4190") and "*" in sample["id_number_masked"]
    assert rows[7]["公民身份号码"].encode() not in bytes(sample["id_number_enc"])
    assert sample["phone_masked"] == "138****5678" and sample["township"] == "城关镇"
    audit = await db.fetch("SELECT action, object_type, reason FROM audit_log WHERE tenant_id = $1 AND object_id = $2",
                           COUNTY, started["id"])
    assert [tuple(a) for a in audit] == [("member.import", "member_import", "2500 rows")]
    # The relay publishes them: every outbox row of the import is sent eventually.
    member_ids = [str(r["id"]) for r in await db.fetch(
        "SELECT id FROM members WHERE tenant_id = $1 AND name LIKE '党员%' ORDER BY name", COUNTY)]
    assert len(member_ids) >= 2500

    async def all_sent() -> bool:
        return not await db.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type = $2 AND sent_at IS NULL", COUNTY,
            REGISTERED)

    await eventually(all_sent, timeout=60)
    # The same Idempotency-Key gives back the first answer (the gateway replays it), without importing again.
    again = await start(platform, county_token, to_csv(rows), name="商城县党员台账.csv", key="csv-2500")
    assert again == started
    assert (await counts(db))[0] == after[0]


async def test_the_xlsx_template_filled_in_with_excel_cell_types_is_imported(platform, county_token, db):
    reply = await platform.http.get(f"/api/v1/tenants/{COUNTY}/imports/template.xlsx", headers=auth(county_token))
    assert reply.status_code == 200 and reply.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(reply.content))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[:5] == ["姓名*", "性别", "民族", "出生日期", "公民身份号码*"]
    numbers = [id_number(COUNTY) for _ in range(40)]
    for i, number in enumerate(numbers):
        cells = {"姓名*": f"表格党员{i}", "公民身份号码*": number, "党员类别*": "预备党员" if i % 2 else "正式党员",
                 "出生日期": date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                 "入党日期": date(2020, 7, 1), "手机号码": 13900001234, "学历": "本科", "民族": "汉"}
        sheet.append([cells.get(h) for h in headers])
    out = io.BytesIO()
    book.save(out)
    before = await counts(db)
    started = await start(platform, county_token, out.getvalue(), name="模板.xlsx", media=XLSX)
    done = await settled(platform, county_token, started["id"])
    assert done["state"] == "succeeded", done["errors"]
    assert done["imported_rows"] == done["total_rows"] == 40
    after = await counts(db)
    assert (after[0] - before[0], after[1] - before[1]) == (40, 40)
    stored = await db.fetchrow("SELECT education, ethnicity, membership_status FROM members WHERE tenant_id = $1"
                               " AND name = '表格党员1'", COUNTY)
    assert tuple(stored) == ("大学本科", "汉族", 1)


async def test_one_bad_row_among_many_fails_the_file_and_imports_nothing(platform, county_token, db):
    rows = [row() for _ in range(1500)]
    rows[1233]["公民身份号码"] = wrong_check_digit(str(rows[1233]["公民身份号码"]))
    before = await counts(db)
    done = await settled(platform, county_token, (await start(platform, county_token, to_csv(rows)))["id"])
    assert done["state"] == "failed"
    assert done["errors"] == [{"row": 1235, "column": "公民身份号码", "reason": "身份证号校验位错误"}]
    assert done["total_rows"] == done["processed_rows"] == 1500 and done["imported_rows"] == 0
    assert await counts(db) == before


async def test_duplicates_in_the_file_name_both_rows(platform, county_token, db):
    twice = id_number(COUNTY)
    rows = [row(), row(twice), row(), row(twice, **{"姓名": "周国强"})]
    before = await counts(db)
    done = await settled(platform, county_token, (await start(platform, county_token, to_csv(rows)))["id"])
    assert done["state"] == "failed"
    assert done["errors"] == [{"row": 3, "column": "公民身份号码", "reason": "身份证号与第 5 行重复"},
                              {"row": 5, "column": "公民身份号码", "reason": "身份证号与第 3 行重复"}]
    assert await counts(db) == before


async def test_people_already_in_this_county_or_in_another_are_refused_without_naming_it(platform, county_token, db):
    here = member_request(COUNTY)
    elsewhere = member_request(OTHER, id_number=id_number(COUNTY))
    await platform.registry_stub.CreateMember(here, metadata=bearer(county_token(COUNTY)))
    await platform.registry_stub.CreateMember(elsewhere, metadata=bearer(county_token(OTHER)))
    rows = [row(), row(here.id_number), row(), row(elsewhere.id_number)]
    before = await counts(db)
    done = await settled(platform, county_token, (await start(platform, county_token, to_csv(rows)))["id"])
    assert done["state"] == "failed"
    assert done["errors"] == [{"row": 3, "column": "公民身份号码", "reason": imports.IN_COUNTY},
                              {"row": 5, "column": "公民身份号码", "reason": imports.ELSEWHERE}]
    assert OTHER not in str(done) and "管城" not in str(done)
    assert await counts(db) == before


async def test_a_gbk_csv_as_excel_on_chinese_windows_saves_it(platform, county_token, db):
    rows = [row(**{"姓名": "欧阳明", "乡镇（街道）": "鄢岗镇"}) for _ in range(3)]
    before = await counts(db)
    started = await start(platform, county_token, to_csv(rows, encoding="gbk"), name="台账(GBK).csv")
    done = await settled(platform, county_token, started["id"])
    assert done["state"] == "succeeded", done["errors"]
    assert (await counts(db))[0] - before[0] == 3
    assert await db.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1 AND name = '欧阳明'"
                             " AND township = '鄢岗镇'", COUNTY) >= 3


async def test_a_missing_header_is_an_error_of_row_1_naming_the_column(platform, county_token, db):
    headers = [h for h in HEADERS if h != "党员类别"]
    done = await settled(platform, county_token,
                         (await start(platform, county_token, to_csv([row()], headers=headers)))["id"])
    assert done["state"] == "failed" and done["imported_rows"] == 0
    reason = "缺少必填列“党员类别”（请使用导入模板的表头）"
    assert done["errors"] == [{"row": 1, "column": "党员类别", "reason": reason}]


async def test_another_countys_import_is_not_found(platform, county_token):
    started = await start(platform, county_token, to_csv([row()]))
    theirs = await platform.http.get(f"/api/v1/tenants/{OTHER}/imports/{started['id']}",
                                     headers=auth(county_token, OTHER))
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    outside = await platform.http.get(f"/api/v1/tenants/{COUNTY}/imports/{started['id']}",
                                      headers=auth(county_token, OTHER))
    assert outside.status_code == 404
    assert (await platform.http.get(f"/api/v1/tenants/{COUNTY}/imports/not-a-uuid",
                                    headers=auth(county_token))).status_code == 404
    await settled(platform, county_token, started["id"])


async def test_bad_requests_are_problems_naming_the_field(platform, county_token):
    url = f"/api/v1/tenants/{COUNTY}/imports"
    empty = await platform.http.post(url, params={"file_name": "a.csv"}, content=b"",
                                     headers={**auth(county_token), "Content-Type": "text/csv"})
    assert empty.status_code == 422
    assert {"field": "content", "detail": "文件为空"} in empty.json()["errors"]
    old = await platform.http.post(url, params={"file_name": "旧台账.xls"}, content=b"\xd0\xcf\x11\xe0",
                                   headers={**auth(county_token), "Content-Type": "application/vnd.ms-excel"})
    assert old.status_code == 422 and old.json()["errors"][0]["field"] == "format"
    huge = await platform.http.post(url, params={"file_name": "a.csv"}, content=b"x" * (imports.MAX_FILE_BYTES + 1),
                                    headers={**auth(county_token), "Content-Type": "text/csv"})
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")


async def test_the_csv_template_has_the_headers(platform, county_token):
    reply = await platform.http.get(f"/api/v1/tenants/{COUNTY}/imports/template.csv", headers=auth(county_token))
    assert reply.status_code == 200
    assert reply.content.decode("utf-8-sig").strip() == ",".join(imports.TEMPLATE_HEADERS)


async def test_copy_into_a_table_under_rls_is_refused_for_the_app_role(settings_for):
    # Why the import stages its rows in a temporary table: PostgreSQL has no COPY FROM under row-level security.
    conn = await asyncpg.connect(settings_for("registry").database_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant', $1, true)", COUNTY)
            with pytest.raises(asyncpg.FeatureNotSupportedError):
                await conn.copy_records_to_table("outbox", records=[], columns=["tenant_id"])
    finally:
        await conn.close()


async def test_the_set_based_elsewhere_check_answers_only_with_blind_indexes(settings_for, db):
    bidx = await db.fetchval("SELECT id_number_bidx FROM members WHERE tenant_id = $1 LIMIT 1", OTHER)
    assert bidx is not None
    conn = await asyncpg.connect(settings_for("registry").database_url)
    try:
        found = await conn.fetch("SELECT * FROM members_registered_elsewhere_all_tenants($1::bytea[], $2)",
                                 [bidx, b"\x00" * 32], COUNTY)
        assert [bytes(r[0]) for r in found] == [bytes(bidx)]
        assert await conn.fetch("SELECT * FROM members_registered_elsewhere_all_tenants($1::bytea[], $2)",
                                [bidx], OTHER) == []
    finally:
        await conn.close()
