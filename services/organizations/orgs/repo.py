"""The tree's persistence: SQL over the unit of work's connection (RLS scopes it to one county)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.organizations.orgs.domain import Located, NewOrg, Org, OrgStatus
from jinqiao.organizations.orgs.models import ORG_COLUMNS, label, located_from_record, org_from_record


async def lock_tree(uow: UnitOfWork) -> None:
    """Serialise structural changes of one county's tree (two crossing moves could otherwise make a cycle)."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('org-tree:' || $1, 0))", uow.tenant)


async def get(uow: UnitOfWork, *, org_id: str) -> Located | None:
    """An organisation and its path, or None."""
    record = await uow.conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1", org_id)
    return located_from_record(record) if record else None


async def insert(uow: UnitOfWork, *, org_id: str, parent_id: str | None, parent_path: str | None, org: NewOrg,
                 created_at: datetime) -> None:
    """Insert an organisation under a parent (or as the county's root)."""
    path = f"{parent_path}.{label(org_id)}" if parent_path else label(org_id)
    try:
        await uow.conn.execute(
            "INSERT INTO orgs (tenant_id, id, parent_id, path, name, kind, city_code, founding_mode, industry,"
            " created_at, employer, coverage) VALUES ($1, $2, $3, $4::ltree, $5, $6, $7, $8, $9, $10, $11, $12)",
            uow.tenant, org_id, parent_id, path, org.name, int(org.kind), org.city_code,
            int(org.founding_mode) if org.founding_mode else None, org.industry, created_at, org.employer,
            list(org.coverage),
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc


def _conflict(exc: asyncpg.UniqueViolationError) -> AlreadyExists:
    if exc.constraint_name == "orgs_one_root":
        return AlreadyExists("本县已有县委根组织")
    return AlreadyExists("同一上级组织下已有同名组织")


async def rename(uow: UnitOfWork, *, org_id: str, name: str) -> None:
    """Change the name, bumping the version."""
    try:
        await uow.conn.execute(
            "UPDATE orgs SET name = $2, version = version + 1, updated_at = now() WHERE id = $1", org_id, name
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc


async def move_subtree(uow: UnitOfWork, *, org_id: str, old_path: str, new_parent_id: str,
                       new_parent_path: str) -> int:
    """Re-root every path under ``old_path`` beneath the new parent; return how many rows moved."""
    moved = await uow.conn.fetchval(
        "WITH moved AS (UPDATE orgs SET path = $2::ltree || subpath(path, nlevel($1::ltree) - 1),"
        " updated_at = now() WHERE path <@ $1::ltree RETURNING 1) SELECT count(*) FROM moved",
        old_path, new_parent_path,
    )
    try:
        await uow.conn.execute(
            "UPDATE orgs SET parent_id = $2, version = version + 1 WHERE id = $1", org_id, new_parent_id
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc
    return int(moved)


async def active_children(uow: UnitOfWork, *, org_id: str) -> int:
    """How many active organisations sit directly under this one."""
    return int(await uow.conn.fetchval(
        "SELECT count(*) FROM orgs WHERE parent_id = $1 AND status = $2", org_id, int(OrgStatus.ACTIVE)
    ))


async def members(uow: UnitOfWork, *, org_id: str) -> int:
    """How many members the organisation holds."""
    return int(await uow.conn.fetchval("SELECT member_count FROM orgs WHERE id = $1", org_id))


async def dissolve(uow: UnitOfWork, *, org_id: str, reason: str) -> None:
    """Mark dissolved; the row stays for the ledgers."""
    await uow.conn.execute(
        "UPDATE orgs SET status = $2, dissolve_reason = $3, version = version + 1, updated_at = now() WHERE id = $1",
        org_id, int(OrgStatus.DISSOLVED), reason,
    )


async def children(uow: UnitOfWork, *, parent_id: str | None, after: tuple[str, ...] | None, limit: int,
                   include_dissolved: bool) -> list[Org]:
    """A page of direct children by name."""
    statuses = [1, 2] if include_dissolved else [1]
    # parent None lists the roots (the county committee); NOT DISTINCT keeps one statement for both.
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS} FROM orgs WHERE parent_id IS NOT DISTINCT FROM $1::uuid"
        " AND status = ANY($2::smallint[]) AND ($3::text IS NULL OR (name, id) > ($3, $4::uuid))"
        " ORDER BY name, id LIMIT $5",
        parent_id, statuses, after[0] if after else None, after[1] if after else None, limit,
    )
    return [org_from_record(r) for r in records]


# $1 tenant, $2 root id, $3 the path a page continues after (NULL: the first), $4 limit. The root's key is an InitPlan
# evaluated once, so the bounds stay index conditions of one btree range scan whose order is the ORDER BY (no sort,
# however large the subtree). The bench's floor runs this same statement.
SUBTREE_PAGE = (
    "WITH root AS MATERIALIZED (SELECT path_key FROM orgs WHERE tenant_id = $1 AND id = $2)"
    f" SELECT {ORG_COLUMNS}, (SELECT path_key FROM root) AS root_key FROM orgs WHERE tenant_id = $1"
    " AND path_key >= (SELECT path_key FROM root) AND path_key < (SELECT path_key FROM root) || '/'"
    " AND path_key > coalesce($3, '') ORDER BY path_key LIMIT $4"
)


async def subtree(uow: UnitOfWork, *, root_id: str, after_path: str | None,
                  limit: int) -> tuple[str | None, list[Located]]:
    """The root's path and a page of its subtree in path order (a parent before its children), in one round trip."""
    # The root's path comes back on the rows only: an empty page says nothing about whether the root exists.
    records = await uow.conn.fetch(SUBTREE_PAGE, uow.tenant, root_id, after_path, limit)
    if not records:
        return None, []
    return records[0]["root_key"], [located_from_record(r) for r in records]


async def ancestors(uow: UnitOfWork, *, path: str) -> list[Org]:
    """Every proper ancestor, root first."""
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS} FROM orgs WHERE path @> $1::ltree AND path <> $1::ltree ORDER BY nlevel(path)", path
    )
    return [org_from_record(r) for r in records]


async def search(uow: UnitOfWork, *, within: str | None, name_contains: str, kinds: list[int], city_code: str,
                 include_dissolved: bool, after_path: str | None, limit: int) -> list[Located]:
    """Organisations matching every given filter, in tree order."""
    pattern = "%" + name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS}, path_key FROM orgs WHERE ($1 = '%%' OR name ILIKE $1)"
        " AND (cardinality($2::smallint[]) = 0 OR kind = ANY($2::smallint[])) AND ($3 = '' OR city_code = $3)"
        " AND ($4 OR status = 1) AND path_key > coalesce($5, '')"
        " AND ($7::text IS NULL OR (path_key >= $7 AND path_key < $7 || '/'))"
        " ORDER BY path_key LIMIT $6",
        pattern, kinds, city_code, include_dissolved, after_path, limit, within,
    )
    return [located_from_record(r, path_column="path_key") for r in records]
