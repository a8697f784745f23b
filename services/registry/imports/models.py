"""Imports persistence model: a ``member_imports`` row and how it maps to the domain."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from jinqiao.registry.imports.domain import ImportState, MemberImport, RowError

MEMBER_IMPORTS = "member_imports"


def errors_json(errors: Sequence[RowError]) -> str:
    """The errors as the ``errors`` jsonb column keeps them."""
    return json.dumps([{"row": e.row, "column": e.column, "reason": e.reason} for e in errors], ensure_ascii=False)


def to_import(record: asyncpg.Record) -> MemberImport:
    """The domain view of a member_imports row; a failure of the whole file shows as an error of row 0."""
    errors = [RowError(int(e["row"]), e["column"], e["reason"]) for e in json.loads(record["errors"])]
    if record["failure_reason"]:
        errors.insert(0, RowError(0, "", record["failure_reason"]))
    return MemberImport(
        id=str(record["id"]), file_name=record["file_name"], state=ImportState(record["state"]),
        total_rows=record["total_rows"], processed_rows=record["processed_rows"],
        imported_rows=record["imported_rows"], errors=tuple(errors), errors_truncated=record["errors_truncated"],
        error_count=max(record["error_count"], len(errors)),
    )
