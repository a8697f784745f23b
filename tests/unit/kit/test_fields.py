"""Field checks that collect every violation of a request instead of stopping at the first."""

from __future__ import annotations

from datetime import date

from jinqiao.kit import fields, pii
from jinqiao.kit.errors import FieldViolation


def test_text_collapses_white_space_and_reports_an_empty_required_field():
    violations: list[FieldViolation] = []
    assert fields.text("  张  三 ", field="name", limit=10, required=True, violations=violations) == "张 三"
    assert fields.text("   ", field="name", limit=10, required=True, violations=violations) == ""
    assert violations == [FieldViolation("name", "必填")]


def test_text_longer_than_its_limit_names_the_limit():
    violations: list[FieldViolation] = []
    fields.text("长" * 11, field="village", limit=10, required=False, violations=violations)
    assert violations == [FieldViolation("village", "不能超过 10 个字符")]


def test_bad_id_number_and_phone_are_both_reported():
    violations: list[FieldViolation] = []
    assert fields.id_number("411525", violations=violations) is None
    assert fields.optional_phone("12345", violations=violations) is None
    assert [v.field for v in violations] == ["id_number", "phone"]


def test_a_blank_phone_is_no_phone_and_no_violation():
    violations: list[FieldViolation] = []
    assert fields.optional_phone("  ", violations=violations) is None
    assert violations == []


def test_an_id_number_born_after_today_is_refused():
    violations: list[FieldViolation] = []
    number = pii.make_id_number("411525", date(2026, 12, 2), 5)
    assert fields.id_number(number, violations=violations, today=date(2026, 12, 1)) is None
    assert fields.id_number(number, violations=[], today=date(2026, 12, 2)) == number
    assert violations[0].field == "id_number"


def test_text_with_a_control_character_is_refused_naming_the_field():
    violations: list[FieldViolation] = []
    for value in ("党\x00支部", "党\x07支部", "党支部\x1b[31m", "党\x7f支部", "党\x9b支部"):
        fields.text(value, field="name", limit=100, required=True, violations=violations)
    assert violations == [FieldViolation("name", "不能包含控制字符")] * 5


def test_text_keeps_tabs_and_line_breaks_as_white_space():
    violations: list[FieldViolation] = []
    assert fields.text("第一\t党支部\r\n二组", field="name", limit=100, required=True,
                       violations=violations) == "第一 党支部 二组"
    assert violations == []


def test_text_that_looks_like_a_formula_is_kept_as_written():
    violations: list[FieldViolation] = []
    name = '=HYPERLINK("http://127.0.0.1/x","点我")'
    assert fields.text(name, field="name", limit=100, required=True, violations=violations) == name
    assert violations == []
