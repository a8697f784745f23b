"""Ledger cells are inert: no formula runs in a spreadsheet program, no control character breaks a ledger."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from jinqiao.gateway import sheets

HEADERS = ["序号", "党组织名称", "人数"]
FORMULAS = ['=HYPERLINK("http://127.0.0.1/x","点我")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx_cells(body: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows()]


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_formula_like_csv_cell_is_behind_a_single_quote(formula):
    rows = _csv_rows(sheets.to_csv(HEADERS, [[1, formula, 3]]))
    assert rows[1] == ["1", "'" + formula, "3"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_formula_like_xlsx_cell_is_plain_text(formula):
    cells = _xlsx_cells(sheets.to_xlsx("台账", HEADERS, [[1, formula, 3]]))
    name = cells[1][1]
    # XML reads a carriage return back as a line feed; the text is otherwise what was written
    assert name.data_type == "s" and name.value.replace("\n", "\r") == formula.replace("\n", "\r")
    assert name.quotePrefix


def test_an_excel_error_code_in_xlsx_stays_text():
    cells = _xlsx_cells(sheets.to_xlsx("台账", HEADERS, [[1, "#N/A", 3]]))
    assert cells[1][1].data_type == "s" and cells[1][1].value == "#N/A"


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x9b"])
def test_control_characters_are_removed_so_both_formats_are_written(control):
    name = f"驻沪{control}党支部"
    assert _csv_rows(sheets.to_csv(HEADERS, [[1, name, 2]]))[1][1] == "驻沪党支部"
    assert _xlsx_cells(sheets.to_xlsx("台账", HEADERS, [[1, name, 2]]))[1][1].value == "驻沪党支部"


def test_a_control_character_hiding_a_formula_does_not_unmask_it():
    assert _csv_rows(sheets.to_csv(HEADERS, [[1, "\x01=1+1", 2]]))[1][1] == "'=1+1"


def test_line_breaks_and_tabs_inside_text_are_kept():
    assert _csv_rows(sheets.to_csv(HEADERS, [[1, "一组\n二组\t三组", 2]]))[1][1] == "一组\n二组\t三组"
    assert _xlsx_cells(sheets.to_xlsx("台账", HEADERS, [[1, "一组\n二组", 2]]))[1][1].value == "一组\n二组"


def test_numbers_stay_numbers_and_plain_signed_numbers_keep_their_sign():
    rows = [[1, -5, 2.5, "-3", "+1.5", date(2026, 7, 1), None, "固始县"]]
    headers = ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert _csv_rows(sheets.to_csv(headers, rows))[1] == ["1", "-5", "2.5", "-3", "+1.5", "2026-07-01", "", "固始县"]
    cells = _xlsx_cells(sheets.to_xlsx("台账", headers, rows))[1]
    assert [c.value for c in cells[:5]] == [1, -5, 2.5, "-3", "+1.5"]
    assert [c.data_type for c in cells[:3]] == ["n", "n", "n"]


def test_ordinary_text_is_unchanged():
    assert sheets.csv_cell("中共固始县委员会") == "中共固始县委员会"
    assert sheets.csv_cell("138****1234") == "138****1234"
    assert not sheets.reads_as_formula("a=b")


def test_the_download_of_a_hostile_row_answers_with_an_inert_body():
    row = [[1, '=HYPERLINK("http://127.0.0.1/x","点我")\x00', 2]]
    csv_reply = sheets.download(title="台账", tenant="411525", fmt="csv", headers=HEADERS, rows=row)
    xlsx_reply = sheets.download(title="台账", tenant="411525", fmt="xlsx", headers=HEADERS, rows=row)
    assert _csv_rows(bytes(csv_reply.body))[1][1].startswith("'=")
    assert _xlsx_cells(bytes(xlsx_reply.body))[1][1].data_type == "s"


def test_an_xlsx_with_a_banner_opens_with_title_unit_and_date_above_its_header():
    banner = sheets.Banner(unit="中共固始县委组织部", day=date(2026, 12, 1))
    sheet = load_workbook(io.BytesIO(sheets.to_xlsx("流向台账", HEADERS, [[1, "驻沪党支部", 3]], banner=banner))).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "流向台账"
    assert rows[1][0] == "填报单位：中共固始县委组织部"
    assert rows[2][0] == "填报日期：2026年12月1日"
    assert rows[3] == HEADERS and rows[4] == [1, "驻沪党支部", 3]
    # the banner spans the table, and the header stays in view when scrolling
    assert "A1:C1" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet.freeze_panes == "A5"


def test_the_csv_of_a_ledger_stays_a_plain_table_without_the_banner():
    banner = sheets.Banner(unit="中共固始县委组织部", day=date(2026, 12, 1))
    reply = sheets.download(title="台账", tenant="411525", fmt="csv", headers=HEADERS, rows=[[1, "a", 2]],
                            banner=banner)
    assert _csv_rows(bytes(reply.body))[0] == HEADERS
