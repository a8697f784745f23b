"""Organisations persistence model: the ``orgs`` row and its mapping to the domain."""

from __future__ import annotations

import asyncpg

from jinqiao.organizations.orgs.domain import FoundingMode, Located, Org, OrgKind, OrgStatus

ORG_COLUMNS = (
    "tenant_id, id, parent_id, path::text AS path, name, kind, city_code, founding_mode, industry, status,"
    " member_count, created_at, version, nlevel(path) AS depth, employer, coverage"
)


def label(org_id: str) -> str:
    """The ltree label of an organisation: its uuid without dashes."""
    return org_id.replace("-", "")


def org_from_record(record: asyncpg.Record) -> Org:
    """Map a fetched row (selected with ORG_COLUMNS)."""
    return Org(
        id=str(record["id"]),
        tenant_id=record["tenant_id"],
        parent_id=str(record["parent_id"]) if record["parent_id"] else None,
        name=record["name"],
        kind=OrgKind(record["kind"]),
        city_code=record["city_code"],
        founding_mode=FoundingMode(record["founding_mode"]) if record["founding_mode"] else None,
        industry=record["industry"],
        status=OrgStatus(record["status"]),
        depth=record["depth"],
        version=record["version"],
        created_at=record["created_at"],
        employer=record["employer"],
        coverage=tuple(record["coverage"]),
    )


def located_from_record(record: asyncpg.Record, *, path_column: str = "path") -> Located:
    """An organisation and its path from a fetched row."""
    return Located(org=org_from_record(record), path=record[path_column])
