"""Page tokens are the caller's input (kit/pagination.py): a token the kit could not have made is refused as an
invalid page_token, never handed to the database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from jinqiao.kit import pagination
from jinqiao.kit.errors import InvalidArgument

KEY = "0b8f3c2e-5d1a-4f6b-9c7d-2e4a6b8c0d1f"


def _token(parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_a_cursor_comes_back_in_utc_with_a_canonical_key():
    at = datetime(2024, 5, 1, 9, tzinfo=timezone(timedelta(hours=8)))
    assert pagination.decode_cursor(pagination.encode_cursor(at, KEY.upper())) == (at.astimezone(UTC), KEY)


@pytest.mark.parametrize("parts", [
    ["2024-01-01T00:00:00", KEY],  # naive
    ["0001-01-01T00:00:00+14:00", KEY],  # before year 1 in UTC
    ["9999-12-31T23:59:59-14:00", KEY],  # after year 9999 in UTC
    ["2024-01-01T00:00:00+00:00", "x"],  # no UUID
    ["2024-01-01T00:00:00+00:00", "\u0000"],
    ["2024-01-01T00:00:00+00:00", 5],
    [5, KEY],
    ["2024-01-01T00:00:00+00:00"],
    {"at": 1},
    "just text",
])
def test_a_cursor_the_kit_could_not_have_made_is_an_invalid_page_token(parts):
    with pytest.raises(InvalidArgument) as caught:
        pagination.decode_cursor(_token(parts))
    assert caught.value.violations[0].field == "page_token"


@pytest.mark.parametrize("token", ["!!!", "////", base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_bytes_that_are_no_token_are_an_invalid_page_token(token):
    for decode in (pagination.decode_cursor, lambda t: pagination.decode_key(t, parts=2)):
        with pytest.raises(InvalidArgument):
            decode(token)


def test_a_keyset_comes_back_as_made():
    assert pagination.decode_key(pagination.encode_key("党支部", KEY), parts=2) == ("党支部", KEY)


@pytest.mark.parametrize("parts", [["a\u0000", KEY], ["\ud800", KEY], ["a"], ["a", 1], [None, KEY]])
def test_a_keyset_no_stored_value_could_be_is_an_invalid_page_token(parts):
    raw = json.dumps(parts).encode()  # "\\ud800" stays an escape, as a forger would send it
    with pytest.raises(InvalidArgument):
        pagination.decode_key(base64.urlsafe_b64encode(raw).decode(), parts=2)


def test_a_dated_keyset_comes_back_checked():
    assert pagination.decode_dated_key(pagination.encode_key("2024-12-01", KEY.upper())) == ("2024-12-01", KEY)
    assert pagination.decode_dated_key("") is None


@pytest.mark.parametrize("parts", [["0001-01-01T00:00:00+14:00", KEY], ["2024-13-01", KEY], ["2024-12-01", "x"]])
def test_a_dated_keyset_with_no_date_or_no_uuid_is_an_invalid_page_token(parts):
    with pytest.raises(InvalidArgument):
        pagination.decode_dated_key(pagination.encode_key(*parts))
