"""Registry domain rules, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from jinqiao.kit import pii
from jinqiao.kit.errors import InvalidArgument, PermissionDenied
from jinqiao.registry.members import domain

TODAY = date(2026, 11, 24)


def valid(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "name": " 张  建国 ", "id_number": pii.make_id_number("411525", date(1985, 3, 9), 123),
        "phone": "+86 138-1234-5678",
        "membership_status": 2, "township": "城关镇", "village": "", "occupation": "", "join_date": "2008-07-01",
        "today": TODAY,
    }
    fields.update(overrides)
    return fields


def violated(**overrides: object) -> set[str]:
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_new_member(**valid(**overrides))
    return {v.field for v in caught.value.violations}


def test_valid_member_is_normalised_and_derives_birth_date_and_gender():
    member = domain.validate_new_member(**valid())
    assert member.name == "张 建国"
    assert member.phone == "13812345678"
    assert member.birth_date == date(1985, 3, 9)
    assert member.gender == domain.Gender.MALE  # sequence 123: odd 17th digit
    assert member.membership_status == domain.MembershipStatus.FULL


def test_member_younger_than_eighteen_at_joining_is_refused():
    assert violated(join_date="2002-01-01") == {"join_date"}


def test_join_date_in_the_future_is_refused():
    assert violated(join_date="2027-01-01") == {"join_date"}


def test_malformed_join_date_is_refused():
    assert violated(join_date="2008/07/01") == {"join_date"}


def test_all_violations_are_reported_together():
    assert violated(name="", id_number="123", phone="555", membership_status=7) == {
        "name", "id_number", "phone", "membership_status"
    }


def test_overlong_text_is_refused():
    assert violated(township="镇" * 101) == {"township"}


def test_phone_is_optional():
    assert domain.validate_new_member(**valid(phone="  ")).phone is None


def test_only_county_admins_write_members():
    domain.ensure_may_write_members("county_admin")
    for role in ("province_analyst", "city_analyst", "member", "station_staff"):
        with pytest.raises(PermissionDenied):
            domain.ensure_may_write_members(role)
