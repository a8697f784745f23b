"""Opaque keyset cursors for list RPCs and page-size rules shared by every service."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime

from jinqiao.kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(value: int) -> int:
    """0 means the default; negative is refused; large values are capped."""
    if value < 0:
        raise InvalidArgument.field("page_size", "不能为负数")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_cursor(at: datetime, key: str) -> str:
    """Token for the position after (at, key): an aware instant and the row's id (a UUID)."""
    raw = json.dumps([at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, str] | None:
    """The (at, key) position of a token; '' means the first page. A token is the caller's input: one the kit could
    not have made (a naive or unrepresentable instant, a key that is no UUID) is refused, never sent to the database.
    """
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at_text, key = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("naive instant")
        return at.astimezone(UTC), str(uuid.UUID(key))
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc


def encode_key(*parts: str) -> str:
    """Token for the position after a keyset of strings (e.g. name and id, or a tree path)."""
    raw = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_key(token: str, *, parts: int) -> tuple[str, ...] | None:
    """The keyset of a token made by ``encode_key``; '' means the first page. Parts that no stored value could be
    (text with NUL or a lone surrogate) are refused like any malformed token."""
    if not token:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc
    if not isinstance(values, list) or len(values) != parts or not all(_storable(v) for v in values):
        raise InvalidArgument.field("page_token", "分页标记无效")
    return tuple(values)


def decode_dated_key(token: str) -> tuple[str, str] | None:
    """The (date, id) keyset of a token made by ``encode_key(day.isoformat(), id)``, both checked; '' means the
    first page."""
    after = decode_key(token, parts=2)
    if after is None:
        return None
    try:
        return date.fromisoformat(after[0]).isoformat(), str(uuid.UUID(after[1]))
    except ValueError as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc


def _storable(value: object) -> bool:
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape
        return False
    return True
