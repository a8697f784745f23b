"""Opaque keyset cursors for list RPCs and page-size rules shared by every service."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from jinqiao.kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(value: int) -> int:
    """0 means the default; negative is refused; large values are capped."""
    if value < 0:
        raise InvalidArgument.field("page_size", "不能为负数")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_cursor(at: datetime, key: str) -> str:
    """Token for the position after (at, key)."""
    raw = json.dumps([at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, str] | None:
    """The (at, key) position of a token; '' means the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at, key = json.loads(raw)
        return datetime.fromisoformat(at), str(key)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc


def encode_key(*parts: str) -> str:
    """Token for the position after a keyset of strings (e.g. name and id, or a tree path)."""
    raw = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_key(token: str, *, parts: int) -> tuple[str, ...] | None:
    """The keyset of a token made by ``encode_key``; '' means the first page."""
    if not token:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc
    if not isinstance(values, list) or len(values) != parts or not all(isinstance(v, str) for v in values):
        raise InvalidArgument.field("page_token", "分页标记无效")
    return tuple(values)
