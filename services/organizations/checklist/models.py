"""The checklist's persistence model: a ``checklist_items`` row and its mapping."""

from __future__ import annotations

import asyncpg

from jinqiao.organizations.checklist.domain import Entry, Item


def entry_from_record(record: asyncpg.Record) -> Entry:
    """Map a row with item, done, evidence and updated_at."""
    return Entry(item=Item(record["item"]), done=record["done"], evidence=record["evidence"],
                 updated_at=record["updated_at"])
