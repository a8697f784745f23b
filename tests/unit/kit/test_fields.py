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
