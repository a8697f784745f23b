"""Organisations persistence model: the ``orgs`` row and its mapping to the domain."""

from __future__ import annotations

import asyncpg

from jinqiao.organizations.orgs.domain import FoundingMode, Located, Org, OrgKind, OrgStatus

ORG_COLUMNS = (
    "tenant_id, id, parent_id, path::text AS path, name, kind, city_code, founding_mode, industry, status,"
    " member_count, created_at, version, nlevel(path) AS depth, employer, coverage"
)
# Positions in ORG_COLUMNS: a subtree page maps 200 rows, and reading a record by index skips a name lookup per field.
(_TENANT, _ID, _PARENT, _PATH, _NAME, _KIND, _CITY, _MODE, _INDUSTRY, _STATUS, _MEMBERS, _CREATED, _VERSION, _DEPTH,
 _EMPLOYER, _COVERAGE) = range(16)
# Member lookups by value: calling an Enum class goes through its metaclass, several times dearer than a dict.
_KINDS = {int(k): k for k in OrgKind}
_MODES = {int(m): m for m in FoundingMode}
_STATUSES = {int(s): s for s in OrgStatus}


def label(org_id: str) -> str:
    """The ltree label of an organisation: its uuid without dashes."""
    return org_id.replace("-", "")


def org_from_record(record: asyncpg.Record) -> Org:
    """Map a fetched row (selected with ORG_COLUMNS first; columns after them are the caller's)."""
    parent, mode, kind, status = record[_PARENT], record[_MODE], record[_KIND], record[_STATUS]
    return Org(
        id=str(record[_ID]),
        tenant_id=record[_TENANT],
        parent_id=str(parent) if parent else None,
        name=record[_NAME],
        # A number no member has still fails as the Enum call would (ValueError).
        kind=_KINDS.get(kind) or OrgKind(kind),
        city_code=record[_CITY],
        founding_mode=(_MODES.get(mode) or FoundingMode(mode)) if mode else None,
        industry=record[_INDUSTRY],
        status=_STATUSES.get(status) or OrgStatus(status),
        depth=record[_DEPTH],
        version=record[_VERSION],
        created_at=record[_CREATED],
        employer=record[_EMPLOYER],
        coverage=tuple(record[_COVERAGE]),
    )


def located_from_record(record: asyncpg.Record, *, path_column: str = "path") -> Located:
    """An organisation and its path from a fetched row."""
    return Located(org=org_from_record(record), path=record[path_column])
