"""ID numbers and phones: GB 11643 validation, masking and log scrubbing."""

from __future__ import annotations

from datetime import date

import pytest

from jinqiao.kit import pii
from jinqiao.kit.auth import Role
from jinqiao.kit.authz import TABLE, Permission
from jinqiao.kit.errors import InvalidArgument

KNOWN_VALID = "11010519491231002X"  # 北京市朝阳区, 1949-12-31, female; check character hand-verified


def violation(value: str, **kwargs: object) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        pii.validate_id_number(value, **kwargs)
    [only] = caught.value.violations
    return only.field, only.description


def test_hand_verified_id_number_is_valid_and_decodes():
    assert pii.validate_id_number(KNOWN_VALID) == KNOWN_VALID
    assert pii.id_number_birth_date(KNOWN_VALID) == date(1949, 12, 31)
    assert pii.id_number_gender(KNOWN_VALID) == "female"


def test_lowercase_check_character_and_surrounding_space_are_normalised():
    assert pii.validate_id_number(" 11010519491231002x ") == KNOWN_VALID


def test_built_id_number_is_valid_and_carries_region_birth_and_sequence():
    number = pii.make_id_number("411525", date(1985, 3, 9), 123)
    assert number[:17] == "41152519850309123"
    assert pii.validate_id_number(number) == number
    assert pii.id_number_birth_date(number) == date(1985, 3, 9)
    assert pii.id_number_gender(number) == "male"
    assert pii.id_number_gender(pii.make_id_number("411525", date(1985, 3, 9), 124)) == "female"


def test_built_id_numbers_are_valid_for_every_check_character():
    numbers = [
        pii.make_id_number("110105", date(1990, 2, day), seq) for day in range(1, 29) for seq in (0, 7, 999)
    ]
    assert {n[17] for n in numbers} == set("0123456789X")
    assert all(pii.validate_id_number(n) == n for n in numbers)


def test_wrong_check_digit_names_the_field_and_says_check_digit():
    wrong = KNOWN_VALID[:17] + "1"
    field, description = violation(wrong)
    assert field == "id_number"
    assert "校验位" in description


def test_violation_names_the_requested_field():
    field, _ = violation(KNOWN_VALID[:17] + "1", field="spouse_id_number")
    assert field == "spouse_id_number"


def test_february_thirtieth_is_refused_as_a_birth_date():
    first17 = "110105" + "19900230" + "123"
    # Whatever the check character, the date is what is refused.
    for check in "0123456789X":
        field, description = violation(first17 + check)
        assert field == "id_number"
        assert "出生日期" in description


def test_birth_date_in_the_future_is_refused():
    number = pii.make_id_number("110105", date(2030, 1, 1), 1)
    _, description = violation(number, today=date(2026, 11, 24))
    assert "出生日期" in description


def test_birth_year_before_1900_is_refused():
    first17 = "110105" + "18991231" + "001"
    for check in "0123456789X":
        assert "出生日期" in violation(first17 + check)[1]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "长度"),
        ("11010519491231002X1", "长度"),
        ("", "长度"),
        ("1101051949123100XX", "格式"),
        ("A1010519491231002X", "格式"),
        ("１１０１０５１９４９１２３１００２Ｘ", "格式"),
        ("010105" + "19491231" + "002X", "格式"),
        ("910105" + "19491231" + "002X", "格式"),
    ],
)
def test_malformed_id_numbers_say_why(value, reason):
    field, description = violation(value)
    assert field == "id_number"
    assert reason in description


@pytest.mark.parametrize(
    ("region", "sequence"), [("011525", 1), ("41152", 1), ("411525", 1000), ("411525", -1)]
)
def test_make_id_number_refuses_impossible_parts(region, sequence):
    with pytest.raises(ValueError):
        pii.make_id_number(region, date(1985, 3, 9), sequence)


@pytest.mark.parametrize(
    "value",
    ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138-1234-5678", "+8613812345678", "8613812345678"],
)
def test_mobile_numbers_are_normalised(value):
    assert pii.validate_phone(value) == "13812345678"


@pytest.mark.parametrize(
    "value",
    ["12812345678", "1381234567", "138123456789", "555", "", "+1 138 1234 5678", "１３８１２３４５６７８"],
)
def test_bad_mobile_numbers_are_refused_naming_the_field(value):
    with pytest.raises(InvalidArgument) as caught:
        pii.validate_phone(value, field="contact_phone")
    assert [v.field for v in caught.value.violations] == ["contact_phone"]


def test_id_number_mask_shows_four_and_four():
    assert pii.mask_id_number("41152519850309123X") == "4115**********123X"
    assert pii.mask_id_number(KNOWN_VALID) == "1101**********002X"


@pytest.mark.parametrize("value", ["4115251985", "41152519850309123X99", "123"])
def test_malformed_id_number_is_masked_entirely(value):
    masked = pii.mask_id_number(value)
    assert set(masked) == {"*"}


def test_phone_mask_shows_three_and_four():
    assert pii.mask_phone("13812341234") == "138****1234"
    assert pii.mask_phone("+86 138-1234-1234") == "138****1234"
    assert set(pii.mask_phone("1381234")) == {"*"}


def test_scrub_masks_both_shapes_inside_a_sentence():
    text = f"党员{KNOWN_VALID}登记，电话13812345678，备用 138-1234-5678，国际 +8613912345678。"
    expected = "党员1101**********002X登记，电话138****5678，备用 138****5678，国际 +86139****5678。"
    assert pii.scrub(text) == expected


def test_scrub_masks_lowercase_x_id_numbers():
    assert pii.scrub("id=11010519491231002x") == "id=1101**********002X"


@pytest.mark.parametrize("text", ["order 12345678901234567890 done", "card 138123456789", "n=913812345678"])
def test_scrub_leaves_longer_digit_runs_alone(text):
    assert pii.scrub(text) == text


def test_scrub_leaves_text_without_pii_unchanged():
    assert pii.scrub("county 411525 has 30 members") == "county 411525 has 30 members"


@pytest.mark.parametrize("role", [r for r in Role if r not in TABLE[Permission.MEMBERS_REVEAL]])
def test_a_birth_date_is_hidden_from_every_role_without_the_reveal_permission(role):
    assert not pii.may_see_birth_date(role)
    assert pii.visible_birth_date(date(1985, 3, 9), role=role) == ""


def test_the_reveal_permission_and_the_person_themself_see_the_birth_date():
    assert all(pii.may_see_birth_date(r) for r in TABLE[Permission.MEMBERS_REVEAL])
    assert pii.visible_birth_date(date(1985, 3, 9), role=Role.COUNTY_ADMIN) == "1985-03-09"
    assert pii.visible_birth_date(date(1985, 3, 9), role=Role.MEMBER, own_record=True) == "1985-03-09"
    assert pii.visible_birth_date(None, role=Role.COUNTY_ADMIN) == ""


def test_an_unknown_role_sees_no_birth_date():
    assert pii.visible_birth_date(date(1985, 3, 9), role="auditor") == ""
