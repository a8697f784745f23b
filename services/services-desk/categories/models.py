"""Categories' persistence: the ``ticket_categories`` row and its mapping to the domain."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from jinqiao.desk.categories.domain import Category, FormField
from jinqiao.desk.sla.domain import SlaPolicy


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def category_from_record(record: asyncpg.Record) -> Category:
    """Map a ``SELECT * FROM ticket_categories`` row."""
    return Category(
        code=record["code"], name=record["name"], group=record["grp"],
        fields=tuple(FormField.from_json(f) for f in _json(record["fields"])),
        default_queue=record["default_queue"], priority=record["priority"],
        sla=SlaPolicy.from_json(_json(record["sla"])), enabled=record["enabled"],
        reopen_days=record["reopen_days"], position=record["position"], version=record["version"],
    )


def fields_json(category: Category) -> str:
    """The ``fields`` column's text."""
    return json.dumps([f.to_json() for f in category.fields], ensure_ascii=False)


def sla_json(category: Category) -> str:
    """The ``sla`` column's text."""
    return json.dumps(category.sla.to_json())
