"""Categories: the defaults, a county's change to one, and a ticket's form checked against its category."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jinqiao.desk.categories.domain import (
    DAY,
    DEFAULT_CODES,
    DEFAULTS,
    FieldType,
    FormField,
    default,
    validate_form,
    validate_update,
)
from jinqiao.kit.errors import InvalidArgument, describe


def _violations(exc: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: describe(v) for v in exc.value.violations}


def test_there_are_ten_default_categories_with_unique_codes():
    assert len(DEFAULTS) == 10 == len(DEFAULT_CODES)
    assert {"legal_wages", "legal_labor", "legal_injury", "employment", "training", "insurance", "civil_relief",
            "schooling", "family_care", "other"} == DEFAULT_CODES


def test_wages_is_the_urgent_green_channel_with_a_lawyer_within_three_working_days():
    wages = default("legal_wages")
    assert wages is not None
    assert wages.priority == 4 and wages.group == "法律援助"
    assert wages.sla.same_day_first_response
    assert wages.sla.assignment_minutes == 3 * DAY


def test_labor_and_injury_decide_within_seven_working_days():
    for code in ("legal_labor", "legal_injury"):
        found = default(code)
        assert found is not None and found.sla.first_response_minutes == 7 * DAY


def test_unpaid_amount_must_be_whole_fen_and_is_named_in_chinese():
    wages = default("legal_wages")
    assert wages is not None
    with pytest.raises(InvalidArgument) as exc:
        validate_form(wages.fields, {"employer": "某建筑公司", "unpaid_amount_fen": 1234.5})
    message = _violations(exc)["form.unpaid_amount_fen"]
    assert message.startswith("拖欠金额") and "整数" in message


def test_unpaid_amount_below_one_fen_is_refused():
    wages = default("legal_wages")
    assert wages is not None
    with pytest.raises(InvalidArgument) as exc:
        validate_form(wages.fields, {"employer": "某建筑公司", "unpaid_amount_fen": 0})
    assert "form.unpaid_amount_fen" in _violations(exc)


def test_required_fields_and_unknown_keys_are_refused_together():
    wages = default("legal_wages")
    assert wages is not None
    with pytest.raises(InvalidArgument) as exc:
        validate_form(wages.fields, {"unpaid_amount_fen": 100, "salary": 3})
    found = _violations(exc)
    assert set(found) == {"form.employer", "form.salary"}
    assert "必填" in found["form.employer"]


def test_a_valid_wages_form_keeps_integers_and_masks_the_phone():
    wages = default("legal_wages")
    assert wages is not None
    clean = validate_form(wages.fields, {"employer": " 某建筑公司 ", "unpaid_amount_fen": "1200000",
                                         "unpaid_months": 3, "has_contract": "无",
                                         "contact_phone": "138 1234 5678"})
    assert clean == {"employer": "某建筑公司", "unpaid_amount_fen": 1200000, "unpaid_months": 3,
                     "has_contract": "无", "contact_phone": "138****5678"}


def test_integer_bounds_choices_and_dates_are_checked():
    injury = default("legal_injury")
    wages = default("legal_wages")
    assert injury is not None and wages is not None
    with pytest.raises(InvalidArgument) as exc:
        validate_form(injury.fields, {"injury_date": "2026-02-30", "employer": "厂", "treatment": "休养"})
    assert set(_violations(exc)) == {"form.injury_date", "form.treatment"}
    with pytest.raises(InvalidArgument) as exc:
        validate_form(wages.fields, {"employer": "厂", "unpaid_amount_fen": 1, "unpaid_months": 61})
    assert set(_violations(exc)) == {"form.unpaid_months"}


def test_a_boolean_is_not_an_integer():
    with pytest.raises(InvalidArgument):
        validate_form((FormField("n", "人数", FieldType.INTEGER),), {"n": True})


def test_a_form_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidArgument) as exc:
        validate_form((), ["x"])
    assert "form" in _violations(exc)


def _update(**changes: object):
    current = default("employment")
    assert current is not None
    values: dict[str, object] = {"name": current.name, "fields": list(current.fields),
                                 "default_queue": current.default_queue, "priority": current.priority,
                                 "sla": current.sla, "enabled": current.enabled, "reopen_days": current.reopen_days}
    values.update(changes)
    return validate_update(current, **values)  # type: ignore[arg-type]


def test_an_update_within_bounds_keeps_code_and_group():
    changed = _update(name="就业岗位推荐", enabled=False, reopen_days=30)
    assert changed.code == "employment" and changed.group == "就业"
    assert not changed.enabled and changed.reopen_days == 30


def test_warn_percent_reopen_days_and_sla_minutes_are_bounded():
    current = default("employment")
    assert current is not None
    with pytest.raises(InvalidArgument) as exc:
        _update(sla=replace(current.sla, warn_percent=40, resolution_minutes=-1), reopen_days=91)
    assert set(_violations(exc)) == {"category.sla.warn_percent", "category.sla.resolution_minutes",
                                     "category.reopen_days"}


def test_field_keys_must_be_unique_lowercase():
    fields = [FormField("skills", "技能", FieldType.TEXT), FormField("skills", "技能2", FieldType.TEXT),
              FormField("Bad-Key", "坏", FieldType.TEXT), FormField("pick", "选择", FieldType.CHOICE)]
    with pytest.raises(InvalidArgument) as exc:
        _update(fields=fields)
    assert set(_violations(exc)) == {"category.fields.1.key", "category.fields.2.key", "category.fields.3.choices"}


def test_default_queue_must_be_station_or_county():
    with pytest.raises(InvalidArgument) as exc:
        _update(default_queue="TOWNSHIP")
    assert "category.default_queue" in _violations(exc)
