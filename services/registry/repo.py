"""Registry repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.registry.models import MEMBER_COLUMNS, MemberRow


async def insert_member(uow: UnitOfWork, *, row: MemberRow) -> None:
    """Insert a member; the same ID number twice in one county is refused."""
    try:
        await uow.conn.execute(
            f"INSERT INTO members ({MEMBER_COLUMNS}) VALUES"
            " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            row.tenant_id, row.id, row.name, row.gender, row.birth_date, row.id_number_enc, row.id_number_bidx,
            row.id_number_masked, row.phone_enc, row.phone_masked, row.membership_status, row.township,
            row.village, row.occupation, row.join_date, row.request_id, row.created_at, row.version,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "members_id_number_unique":
            raise AlreadyExists("该身份证号已在本县登记") from exc
        raise


async def get_member(uow: UnitOfWork, *, member_id: str) -> MemberRow | None:
    """One member of the unit of work's county, or None."""
    record = await uow.conn.fetchrow(f"SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1", member_id)
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


async def list_members(
    uow: UnitOfWork, *, after: tuple[datetime, str] | None, limit: int
) -> list[MemberRow]:
    """A page of members, newest first, after the keyset cursor."""
    if after is None:
        records = await uow.conn.fetch(
            f"SELECT {MEMBER_COLUMNS} FROM members ORDER BY created_at DESC, id DESC LIMIT $1", limit
        )
    else:
        records = await uow.conn.fetch(
            f"SELECT {MEMBER_COLUMNS} FROM members WHERE (created_at, id) < ($1, $2::uuid)"
            " ORDER BY created_at DESC, id DESC LIMIT $3",
            after[0], after[1], limit,
        )
    return [MemberRow.from_record(r) for r in records]
