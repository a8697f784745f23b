"""Members repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.registry.members.domain import FieldChange, MemberChange
from jinqiao.registry.members.models import MEMBER_COLUMNS, MEMBER_FIELDS, MemberRow

_MEMBER_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(MEMBER_FIELDS) + 1))



async def insert_member(uow: UnitOfWork, *, row: MemberRow) -> None:
    """Insert a member; the same ID number twice in one county is refused."""
    try:
        await uow.conn.execute(f"INSERT INTO members ({MEMBER_COLUMNS}) VALUES ({_MEMBER_PLACEHOLDERS})", *row.values())
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "members_id_number_unique":
            raise AlreadyExists("该身份证号已在本县登记") from exc
        raise


async def registered_elsewhere(uow: UnitOfWork, *, bidx: bytes) -> bool:
    """Whether another county of the province holds this person (yes or no, never which county)."""
    return bool(await uow.conn.fetchval("SELECT member_registered_elsewhere_all_tenants($1, $2)", bidx, uow.tenant))


async def id_number_holders(uow: UnitOfWork, *, bidx: bytes) -> tuple[bool, bool]:
    """Whether this county holds the person, and whether another county of the province does (one round trip)."""
    record = await uow.conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM members WHERE id_number_bidx = $1) AS here,"
        " member_registered_elsewhere_all_tenants($1, $2) AS elsewhere", bidx, uow.tenant,
    )
    return bool(record["here"]), bool(record["elsewhere"])


async def get_member(uow: UnitOfWork, *, member_id: str, for_update: bool = False) -> MemberRow | None:
    """One member of the unit of work's county, or None."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(f"SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1{lock}", member_id)
    return MemberRow.from_record(record) if record else None


async def member_by_bidx(uow: UnitOfWork, *, bidx: bytes) -> MemberRow | None:
    """The county's member with this ID number (blind index), if any."""
    record = await uow.conn.fetchrow(f"SELECT {MEMBER_COLUMNS} FROM members WHERE id_number_bidx = $1", bidx)
    return MemberRow.from_record(record) if record else None


async def find_by_request_id(uow: UnitOfWork, *, request_id: str) -> MemberRow | None:
    """The member an earlier request with this idempotency key created, if any."""
    record = await uow.conn.fetchrow(f"SELECT {MEMBER_COLUMNS} FROM members WHERE request_id = $1", request_id)
    return MemberRow.from_record(record) if record else None


async def lock_request_id(uow: UnitOfWork, *, request_id: str) -> None:
    """Serialise concurrent requests carrying the same idempotency key until this transaction ends."""
    await uow.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('registry.request:' || $1 || ':' || $2, 0))",
        uow.tenant, request_id,
    )


async def update_member(uow: UnitOfWork, *, member_id: str, changes: dict[str, object], version: int) -> None:
    """Write changed columns and the new version (the caller checked the old one under a row lock)."""
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    await uow.conn.execute(
        f"UPDATE members SET {assignments}, version = $2, updated_at = now() WHERE id = $1",
        member_id, version, *changes.values(),
    )


async def set_member_flow(uow: UnitOfWork, *, member_id: str, flow_id: str | None, status: int, destination: str,
                          industry: str) -> None:
    """Keep the member's current-flow columns (used by search) in step with the flow."""
    await uow.conn.execute(
        "UPDATE members SET flow_id = $2, flow_status = $3, destination_code = $4, industry = $5, updated_at = now()"
        " WHERE id = $1",
        member_id, flow_id, status, destination, industry,
    )


async def mark_transferred_out(uow: UnitOfWork, *, member_id: str) -> None:
    """The county no longer holds the member; the row stays for the ledgers."""
    await uow.conn.execute(
        "UPDATE members SET record_status = 2, version = version + 1, updated_at = now(),"
        # The day the record ended starts the retention period of its personal fields (member_departed).
        " ended_on = coalesce(ended_on, (now() AT TIME ZONE 'Asia/Shanghai')::date) WHERE id = $1", member_id
    )


async def insert_change(uow: UnitOfWork, *, member_id: str, version: int, actor: str,
                        fields: list[dict[str, str]]) -> None:
    """Keep one history entry (old and new values, PII masked)."""
    await uow.conn.execute(
        "INSERT INTO member_changes (tenant_id, member_id, version, actor, fields) VALUES ($1, $2, $3, $4, $5::jsonb)",
        uow.tenant, member_id, version, actor, json.dumps(fields, ensure_ascii=False),
    )


async def changes(uow: UnitOfWork, *, member_id: str) -> list[MemberChange]:
    """A member's history, newest first."""
    records = await uow.conn.fetch(
        "SELECT version, changed_at, actor, fields FROM member_changes WHERE member_id = $1 ORDER BY version DESC",
        member_id,
    )
    return [MemberChange(version=r["version"], actor=r["actor"], changed_at=r["changed_at"],
                         fields=tuple(FieldChange(field=f["field"], old=f["old"], new=f["new"])
                                      for f in json.loads(r["fields"]))) for r in records]


def _member_filters(
    *, name_contains: str = "", id_bidx: bytes | None = None, township: str = "", membership_status: int = 0,
    flow_status: int = 0, destination_code: str = "", industry: str = "", away_only: bool = False,
    home_orgs: Sequence[str] | None = None,
) -> tuple[list[str], list[object]]:
    """The WHERE conditions and their arguments of a member search (``home_orgs``: a confined caller's reach)."""
    where, args = ["record_status = 1"], []

    def add(condition: str, value: object) -> None:
        args.append(value)
        where.append(condition.replace("?", f"${len(args)}"))

    if name_contains:
        add("name ILIKE ?", "%" + name_contains.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%")
    if id_bidx is not None:
        add("id_number_bidx = ?", id_bidx)
    if township:
        add("township = ?", township)
    if membership_status:
        add("membership_status = ?", membership_status)
    if flow_status:
        add("flow_status = ?", flow_status)
    if destination_code:
        add("destination_code = ?", destination_code)
    if industry:
        add("industry LIKE ?", "%" + industry.replace("%", r"\%").replace("_", r"\_") + "%")
    if away_only:
        where.append("flow_id IS NOT NULL")
    if home_orgs is not None:
        # A member with no home branch is the county department's alone: NULL is never in the list.
        add("home_branch_id = ANY(?::uuid[])", list(home_orgs))
    return where, args


async def list_members(
    uow: UnitOfWork, *, after: tuple[datetime, str] | None, limit: int, name_contains: str = "",
    id_bidx: bytes | None = None, township: str = "", membership_status: int = 0, flow_status: int = 0,
    destination_code: str = "", industry: str = "", away_only: bool = False,
    home_orgs: Sequence[str] | None = None, order: str = "created_at DESC, id DESC", offset: int = 0,
) -> list[MemberRow]:
    """A page of members in ``order`` (a whitelisted ORDER BY), after the keyset cursor (newest-first order only)
    or from ``offset``; every filter is optional."""
    where, args = _member_filters(
        name_contains=name_contains, id_bidx=id_bidx, township=township, membership_status=membership_status,
        flow_status=flow_status, destination_code=destination_code, industry=industry, away_only=away_only,
        home_orgs=home_orgs)
    if after is not None:
        args += [after[0], after[1]]
        where.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)}::uuid)")
    args += [limit, offset]
    records = await uow.conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM members WHERE {' AND '.join(where)}"
        f" ORDER BY {order} LIMIT ${len(args) - 1} OFFSET ${len(args)}", *args,
    )
    return [MemberRow.from_record(r) for r in records]


async def count_members(
    uow: UnitOfWork, *, name_contains: str = "", id_bidx: bytes | None = None, township: str = "",
    membership_status: int = 0, flow_status: int = 0, destination_code: str = "", industry: str = "",
    away_only: bool = False, home_orgs: Sequence[str] | None = None,
) -> int:
    """How many members a search matches, over every page."""
    where, args = _member_filters(
        name_contains=name_contains, id_bidx=id_bidx, township=township, membership_status=membership_status,
        flow_status=flow_status, destination_code=destination_code, industry=industry, away_only=away_only,
        home_orgs=home_orgs)
    return int(await uow.conn.fetchval(f"SELECT count(*) FROM members WHERE {' AND '.join(where)}", *args))


async def known_org(uow: UnitOfWork, *, org_id: str) -> bool:
    """Whether the county has this (active) organisation, as the registry's replica knows it."""
    return bool(await uow.conn.fetchval("SELECT NOT dissolved FROM org_replica WHERE id = $1", org_id))


async def set_org_parent(uow: UnitOfWork, *, org_id: str, parent_id: str | None, version: int) -> None:
    """Record an organisation's parent as of its ``version``; an older event (a replay) never undoes a newer one."""
    await uow.conn.execute(
        "INSERT INTO org_replica (tenant_id, id, name, kind, parent_id, parent_version) VALUES ($1, $2, '', '', $3, $4)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET parent_id = $3, parent_version = $4"
        " WHERE org_replica.parent_version < $4",
        uow.tenant, org_id, parent_id, version,
    )


async def org_subtree(uow: UnitOfWork, *, root_id: str) -> list[str]:
    """The organisation and every one below it, as the replica's parent chain knows them."""
    # UNION (not UNION ALL) stops on a cycle, should a corrupted replica ever hold one.
    records = await uow.conn.fetch(
        "WITH RECURSIVE down(id) AS (SELECT id FROM org_replica WHERE id = $1"
        " UNION SELECT o.id FROM org_replica o JOIN down d ON o.parent_id = d.id) SELECT id FROM down", root_id,
    )
    return [str(r["id"]) for r in records]


async def upsert_org(uow: UnitOfWork, *, org_id: str, name: str | None = None, kind: str | None = None,
                     dissolved: bool = False) -> None:
    """Keep the replica of the county's organisations (fed by the organizations service's events)."""
    await uow.conn.execute(
        "INSERT INTO org_replica (tenant_id, id, name, kind, dissolved) VALUES ($1, $2, coalesce($3, ''),"
        " coalesce($4, ''), $5) ON CONFLICT (tenant_id, id) DO UPDATE SET"
        " name = coalesce($3, org_replica.name), kind = coalesce($4, org_replica.kind),"
        " dissolved = org_replica.dissolved OR $5",
        uow.tenant, org_id, name, kind, dissolved,
    )


# ---- the facts other services decide on (MemberProfileChanged)


async def member_facts(uow: UnitOfWork, *, member_id: str,
                       open_statuses: Sequence[int]) -> tuple[tuple[int, int, int] | None, int | None]:
    """In one round trip: (year, destination grade, home grade) of the member's latest 双向评议 with both sides in
    (or None), and the status of their open flow if any, else of the flow closed last (None when never away)."""
    # At most one flow is open (flows_one_open); among closed ones the latest closing day, then the latest created.
    record = await uow.conn.fetchrow(
        "SELECT (SELECT ARRAY[year::int, destination_grade::int, home_grade::int] FROM evaluations"
        " WHERE member_id = $1 AND destination_grade > 0 AND home_grade > 0 ORDER BY year DESC LIMIT 1) AS evaluation,"
        " (SELECT status FROM flows WHERE member_id = $1 ORDER BY (status = ANY($2::smallint[])) DESC,"
        " closed_on DESC NULLS LAST, created_at DESC, id DESC LIMIT 1) AS flow_status",
        member_id, list(open_statuses),
    )
    evaluation = record["evaluation"]
    return (None if evaluation is None else (evaluation[0], evaluation[1], evaluation[2])), record["flow_status"]
