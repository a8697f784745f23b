"""Preferences' pure rules: times, e-mail syntax and masking, and which category/channel choices are allowed."""

from __future__ import annotations

from datetime import time

import pytest

from jinqiao.kit.errors import InvalidArgument
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.preferences.domain import (
    DEFAULT_CHANNELS,
    Category,
    CategoryInput,
    check_categories,
    format_hhmm,
    mask_email,
    parse_hhmm,
    validate_email,
)


def fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in exc.value.violations}


@pytest.mark.parametrize("text,expected", [("22:00", time(22, 0)), ("07:05", time(7, 5)), (" 00:00 ", time(0, 0)),
                                           ("23:59", time(23, 59))])
def test_hhmm_accepts_wall_clock_times(text: str, expected: time) -> None:
    assert parse_hhmm(text, field="quiet_start") == expected
    assert format_hhmm(expected) == text.strip()


@pytest.mark.parametrize("text", ["24:00", "7:00", "07:60", "0700", "07:00:00", "", "２２:００"])
def test_hhmm_refuses_anything_else_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_hhmm(text, field="digest_time")
    assert fields(exc) == {"digest_time"}


def test_email_is_trimmed_and_its_domain_lower_cased() -> None:
    assert validate_email("  Li.Ming@Example.COM ") == "Li.Ming@example.com"


@pytest.mark.parametrize("text", ["no-at-sign", "a@b", "a@@b.cn", "a..b@example.com", "@example.com",
                                  "a b@example.com", "x" * 250 + "@ex.cn"])
def test_bad_email_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        validate_email(text)
    assert fields(exc) == {"email"}


def test_email_mask_keeps_only_first_character_and_domain() -> None:
    assert mask_email("liming@example.com") == "l***@example.com"
    assert "liming" not in mask_email("liming@example.com")


def test_a_category_left_out_keeps_its_defaults_and_meetings_stay_digested() -> None:
    channels, digest = check_categories([CategoryInput("loan", ((int(Channel.SMS), False),), False)])
    assert channels[Category.LOAN] == frozenset({Channel.IN_APP, Channel.EMAIL})
    assert channels[Category.FLOW] == DEFAULT_CHANNELS
    assert digest == frozenset({Category.MEETING})


def test_webhook_can_be_chosen_and_a_low_priority_category_digested() -> None:
    channels, digest = check_categories([CategoryInput("reminder", ((4, True),), True),
                                         CategoryInput("meeting", (), False)])
    assert Channel.WEBHOOK in channels[Category.REMINDER]
    assert digest == frozenset({Category.REMINDER})


def test_the_inbox_cannot_be_turned_off() -> None:
    with pytest.raises(InvalidArgument) as exc:
        check_categories([CategoryInput("flow", ((1, False),), False)])
    assert fields(exc) == {"categories[0].channels[0].enabled"}


def test_urgent_categories_cannot_be_digested() -> None:
    with pytest.raises(InvalidArgument) as exc:
        check_categories([CategoryInput("meeting", (), True), CategoryInput("overdue", (), True),
                          CategoryInput("sla", (), True)])
    assert fields(exc) == {"categories[1].digest", "categories[2].digest"}


def test_unknown_categories_and_channels_are_all_named() -> None:
    with pytest.raises(InvalidArgument) as exc:
        check_categories([CategoryInput("gossip", (), False), CategoryInput("loan", ((0, True), (9, True)), False),
                          CategoryInput("loan", (), False)])
    assert fields(exc) == {"categories[0].category", "categories[1].channels[0].channel",
                           "categories[1].channels[1].channel", "categories[2].category"}
