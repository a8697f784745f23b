"""台账 files read into member fields: headers, encodings, Excel's cell types, per-row errors."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from jinqiao.kit.errors import InvalidArgument
from jinqiao.registry.imports import domain as imports
from jinqiao.registry.imports.domain import FileProblem, ImportFormat, RowError
from jinqiao.registry.members import service
from tests.support import id_number, wrong_check_digit

CSV, XLSX = ImportFormat.CSV, ImportFormat.XLSX
HEADERS = ["序号", "姓名", "性别", "民族", "出生日期", "公民身份号码", "手机号码", "学历", "入党日期", "转正日期",
           "党员类别", "乡镇（街道）", "村（社区）", "户籍地址", "职业"]


def person(number: str = "", **overrides: object) -> dict[str, object]:
    """One valid row's cells by header (birth date and gender agree with the ID number)."""
    number = number or id_number("411524")
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    cells: dict[str, object] = {
        "序号": 1, "姓名": "王德明", "性别": "男" if int(number[16]) % 2 else "女", "民族": "汉族",
        "出生日期": born.isoformat(), "公民身份号码": number, "手机号码": "13812345678", "学历": "高中",
        "入党日期": "2010-07-01", "转正日期": "2011-07-01", "党员类别": "正式党员", "乡镇（街道）": "陈淋子镇",
        "村（社区）": "新庄村", "户籍地址": "河南省固始县陈淋子镇新庄村", "职业": "建筑工人",
    }
    cells.update(overrides)
    return cells


def csv_bytes(rows: list[dict[str, object]], *, headers: list[str] = HEADERS, encoding: str = "utf-8-sig",
              before: list[list[str]] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in before or []:
        writer.writerow(line)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[dict[str, object]], *, headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(h) for h in headers])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def validate(sheet: imports.Sheet, row: imports.SheetRow) -> list[RowError]:
    """What the import's use case does per row (no database)."""
    try:
        service.validate(service.MemberInput(**row.fields), today=date(2025, 6, 1))  # type: ignore[arg-type]
    except InvalidArgument as exc:
        return imports.violation_errors(sheet, row, exc.violations)
    return list(row.errors)


def test_a_utf8_csv_with_bom_maps_every_column() -> None:
    cells = person()
    sheet = imports.read_sheet(csv_bytes([cells]), fmt=CSV)
    [row] = sheet.rows
    assert row.row == 2
    assert row.fields["name"] == "王德明"
    assert row.fields["id_number"] == cells["公民身份号码"]
    assert row.fields["membership_status"] == 2
    assert row.fields["gender"] in (1, 2)
    assert row.fields["township"] == "陈淋子镇" and row.fields["village"] == "新庄村"
    assert row.fields["household_address"] == "河南省固始县陈淋子镇新庄村"
    assert validate(sheet, row) == []


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "gbk", "utf-16"])
def test_csv_encodings_excel_saves(encoding: str) -> None:
    sheet = imports.read_sheet(csv_bytes([person(), person()], encoding=encoding), fmt=CSV)
    assert [r.fields["name"] for r in sheet.rows] == ["王德明", "王德明"]
    assert sheet.headers["township"] == "乡镇（街道）"


def test_header_variants_title_rows_and_blank_rows() -> None:
    headers = ["姓名", "身份证号", "联系电话", "人员类别", "入党时间", "工作岗位", "乡镇", "村"]
    cells = person(**{"身份证号": id_number("411524"), "联系电话": "139 0000 1234", "人员类别": "预备党员",
                      "入党时间": "2024/3/5", "工作岗位": "快递员", "乡镇": "城关镇", "村": "南街社区"})
    data = csv_bytes([cells, {}, cells | {"身份证号": id_number("411524")}], headers=headers,
                     before=[["××县流动党员台账"], []])
    sheet = imports.read_sheet(data, fmt=CSV)
    assert sheet.header_row == 3
    assert [r.row for r in sheet.rows] == [4, 6]
    first = sheet.rows[0].fields
    assert first["membership_status"] == 1 and first["join_date"] == "2024-03-05"
    assert first["occupation"] == "快递员" and first["phone"] == "139 0000 1234"
    assert sheet.column("id_number") == "身份证号"


def test_missing_required_header_is_one_error_on_row_1_naming_it() -> None:
    headers = [h for h in HEADERS if h != "党员类别"]
    with pytest.raises(FileProblem) as caught:
        imports.read_sheet(csv_bytes([person()], headers=headers), fmt=CSV)
    assert caught.value.errors == [RowError(1, "党员类别", "缺少必填列“党员类别”（请使用导入模板的表头）")]


def test_a_file_without_any_header_names_each_required_column() -> None:
    with pytest.raises(FileProblem) as caught:
        imports.read_sheet(b"a,b\n1,2\n", fmt=CSV)
    assert [(e.row, e.column) for e in caught.value.errors] == [(1, "姓名"), (1, "公民身份号码"), (1, "党员类别")]


def test_no_data_rows() -> None:
    with pytest.raises(FileProblem, match="没有数据行"):
        imports.read_sheet(csv_bytes([]), fmt=CSV)


def test_too_many_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    with pytest.raises(FileProblem) as caught:
        imports.read_sheet(csv_bytes([person(), person(), person()]), fmt=CSV)
    [error] = caught.value.errors
    assert error.row == 4 and "2 行" in error.reason


def test_xlsx_date_and_number_cells() -> None:
    cells = person()
    born = date.fromisoformat(str(cells["出生日期"]))
    cells.update({"出生日期": datetime(born.year, born.month, born.day), "入党日期": date(2010, 7, 1),
                  "手机号码": 13812345678, "转正日期": 40725.0})
    sheet = imports.read_sheet(xlsx_bytes([cells]), fmt=XLSX)
    [row] = sheet.rows
    assert row.fields["birth_date"] == born.isoformat()
    assert row.fields["join_date"] == "2010-07-01"
    assert row.fields["full_member_date"] == "2011-07-01"  # an Excel serial number in a date column
    assert row.fields["phone"] == "13812345678"
    assert validate(sheet, row) == []


def test_an_id_number_stored_as_a_number_is_reported_as_such() -> None:
    cells = person(**{"公民身份号码": 411524198001011000})
    sheet = imports.read_sheet(xlsx_bytes([cells]), fmt=XLSX)
    errors = validate(sheet, sheet.rows[0])
    assert errors == [RowError(2, "公民身份号码", imports.NUMERIC_ID)]


def test_an_id_number_in_scientific_notation_in_a_csv() -> None:
    sheet = imports.read_sheet(csv_bytes([person(**{"公民身份号码": "4.11524E+17"})]), fmt=CSV)
    assert validate(sheet, sheet.rows[0]) == [RowError(2, "公民身份号码", imports.SCIENTIFIC_ID)]


def test_excel_text_markers_around_an_id_number_are_dropped() -> None:
    number = id_number("411524")
    sheet = imports.read_sheet(csv_bytes([person(number, **{"公民身份号码": f'="{number}"'}),
                                          person(number, **{"公民身份号码": f"'{number.lower()}"})]), fmt=CSV)
    assert sheet.rows[0].fields["id_number"] == number
    assert validate(sheet, sheet.rows[0]) == []


def test_domain_violations_name_the_row_and_the_column_as_the_file_spells_it() -> None:
    good = person()
    bad = person(**{"公民身份号码": wrong_check_digit(id_number("411524")), "手机号码": "12345",
                    "学历": "幼儿园", "党员类别": "群众", "性别": "未知"})
    sheet = imports.read_sheet(csv_bytes([good, bad]), fmt=CSV)
    assert validate(sheet, sheet.rows[0]) == []
    errors = imports.ordered(validate(sheet, sheet.rows[1]), sheet=sheet)
    assert [(e.row, e.column) for e in errors] == [(3, "性别"), (3, "公民身份号码"), (3, "手机号码"), (3, "学历"),
                                                   (3, "党员类别")]
    assert errors[1].reason == "身份证号校验位错误"
    assert errors[4].reason == "应填“正式党员”或“预备党员”"


def test_birth_date_and_gender_must_agree_with_the_id_number() -> None:
    cells = person()
    wrong_gender = "女" if cells["性别"] == "男" else "男"
    cells.update({"性别": wrong_gender, "出生日期": "1950-01-01"})
    sheet = imports.read_sheet(csv_bytes([cells]), fmt=CSV)
    errors = validate(sheet, sheet.rows[0])
    assert {(e.column, e.reason) for e in errors} == {("性别", "性别与身份证号不一致"),
                                                      ("出生日期", "出生日期与身份证号不一致")}


def test_year_and_month_of_birth_is_compared_with_the_id_number() -> None:
    number = id_number("411524")
    ok = person(number, **{"出生年月": f"{number[6:10]}.{number[10:12]}"})
    wrong = person(number, **{"出生年月": "1901年1月"})
    sheet = imports.read_sheet(csv_bytes([ok, wrong], headers=[*HEADERS[:4], "出生年月", *HEADERS[5:]]), fmt=CSV)
    assert validate(sheet, sheet.rows[0]) == []
    assert validate(sheet, sheet.rows[1]) == [RowError(3, "出生年月", "出生年月与身份证号不一致")]


def test_common_spellings_of_education_and_ethnicity() -> None:
    sheet = imports.read_sheet(csv_bytes([person(**{"学历": "本科", "民族": "回"})]), fmt=CSV)
    assert sheet.rows[0].fields["education"] == "大学本科"
    assert sheet.rows[0].fields["ethnicity"] == "回族"


def test_duplicates_name_every_row_involved() -> None:
    errors = imports.duplicates([(2, "A"), (3, "B"), (5, "A"), (9, "A")], column="身份证号")
    assert errors == [RowError(2, "身份证号", "身份证号与第 5、9 行重复"),
                      RowError(5, "身份证号", "身份证号与第 2、9 行重复"),
                      RowError(9, "身份证号", "身份证号与第 2、5 行重复")]


def test_unreadable_files() -> None:
    with pytest.raises(FileProblem, match="xls"):
        imports.read_sheet(b"\xd0\xcf\x11\xe0" + b"\x00" * 100, fmt=XLSX)
    with pytest.raises(FileProblem, match="无法读取"):
        imports.read_sheet(b"not a zip", fmt=XLSX)
    with pytest.raises(FileProblem, match="编码"):
        imports.read_sheet(b"\xff\xfe\x00"[1:] + b"\x81\x20\x81", fmt=CSV)


def test_the_request_is_checked_field_by_field() -> None:
    assert imports.check_request(file_name="C:\\fakepath\\台账.xlsx", fmt=0, content=b"x", request_id="") == (
        "台账.xlsx", XLSX)
    assert imports.check_request(file_name="a.txt", fmt=1, content=b"x", request_id="")[1] is CSV
    with pytest.raises(InvalidArgument) as caught:
        imports.check_request(file_name="", fmt=0, content=b"", request_id="r" * 101)
    assert [v.field for v in caught.value.violations] == ["file_name", "format", "content", "request_id"]
    with pytest.raises(InvalidArgument, match="xls"):
        imports.check_request(file_name="旧台账.xls", fmt=0, content=b"x", request_id="")
    with pytest.raises(InvalidArgument, match="20 MB"):
        imports.check_request(file_name="a.csv", fmt=0, content=b"x" * (imports.MAX_FILE_BYTES + 1), request_id="")


def test_errors_are_capped() -> None:
    errors = [RowError(i, "姓名", "必填") for i in range(imports.MAX_ERRORS + 5, 1, -1)]
    listed, truncated = imports.capped(imports.ordered(errors))
    assert len(listed) == imports.MAX_ERRORS and truncated and listed[0].row == 2


def test_the_template_headers_are_read_back() -> None:
    sheet = imports.read_sheet(csv_bytes([], headers=list(imports.TEMPLATE_HEADERS)) + "张三,,,,,,,,,,,,,,\n".encode(),
                               fmt=CSV)
    assert set(sheet.headers) == {c.field for c in imports.COLUMNS}


@pytest.mark.parametrize(("state", "total", "processed", "errors", "phase"), [
    (imports.ImportState.RUNNING, 0, 0, 0, imports.ImportPhase.READING),
    (imports.ImportState.RUNNING, 30, 10, 0, imports.ImportPhase.VALIDATING),
    (imports.ImportState.RUNNING, 30, 10, 2, imports.ImportPhase.VALIDATING),
    (imports.ImportState.RUNNING, 30, 30, 1, imports.ImportPhase.LISTING_ERRORS),
    (imports.ImportState.RUNNING, 30, 30, 0, imports.ImportPhase.WRITING),
    (imports.ImportState.FAILED, 30, 30, 1, imports.ImportPhase.FINISHED),
    (imports.ImportState.SUCCEEDED, 30, 30, 0, imports.ImportPhase.FINISHED),
])
def test_an_import_says_it_is_writing_only_when_every_row_was_checked_and_none_was_wrong(state, total, processed,
                                                                                          errors, phase):
    found = imports.MemberImport(id="i", file_name="台账.csv", state=state, total_rows=total,
                                 processed_rows=processed, imported_rows=0, error_count=errors)
    assert found.phase is phase
