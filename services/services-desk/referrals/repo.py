"""Referrals repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from jinqiao.desk.referrals.domain import ReferralStatus
from jinqiao.desk.referrals.models import REFERRAL_COLUMNS, REFERRAL_FIELDS, ReferralRow
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.kit.db import UnitOfWork

_PLACEHOLDERS = ", ".join(f"${i}::jsonb" if name == "form" else f"${i}"
                          for i, name in enumerate(REFERRAL_FIELDS, start=1))
_MUTABLE = frozenset({"ticket_id", "status", "decline_reason", "answered_at", "remote_ticket_id", "remote_org_name",
                      "resolution"})


async def insert(uow: UnitOfWork, *, row: ReferralRow) -> bool:
    """Insert a referral row; False when the county already holds it (a redelivered event)."""
    status = await uow.conn.execute(
        f"INSERT INTO ticket_referrals ({REFERRAL_COLUMNS}) VALUES ({_PLACEHOLDERS})"
        " ON CONFLICT (tenant_id, id) DO NOTHING", *row.values())
    return bool(status.endswith(" 1"))


async def get(uow: UnitOfWork, *, referral_id: str, for_update: bool = False) -> ReferralRow | None:
    """One referral row of the county (either side), or None."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(f"SELECT * FROM ticket_referrals WHERE id = $1{lock}", referral_id)
    return ReferralRow.from_record(record) if record else None


async def lock_request_id(uow: UnitOfWork, *, request_id: str) -> None:
    """Serialise concurrent referrals carrying the same idempotency key until this transaction ends."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('desk.referral:' || $1 || ':' || $2, 0))",
                           uow.tenant, request_id)


async def by_request_id(uow: UnitOfWork, *, request_id: str) -> ReferralRow | None:
    """The referral an earlier request with this id made, or None."""
    record = await uow.conn.fetchrow("SELECT * FROM ticket_referrals WHERE request_id = $1", request_id)
    return ReferralRow.from_record(record) if record else None


async def attempts_of(uow: UnitOfWork, *, ticket_id: str) -> tuple[int, bool]:
    """How many times the ticket was referred, and whether one of them still waits for an answer."""
    record = await uow.conn.fetchrow(
        "SELECT coalesce(max(attempt), 0) AS attempts, coalesce(bool_or(status = $2), false) AS pending"
        " FROM ticket_referrals WHERE NOT incoming AND origin_ticket_id = $1", ticket_id, int(ReferralStatus.PENDING))
    assert record is not None
    return int(record["attempts"]), bool(record["pending"])


async def update(uow: UnitOfWork, *, referral_id: str, changes: dict[str, object]) -> ReferralRow:
    """Apply changes to a referral row (version + 1) and return it."""
    names = sorted(changes)
    if not set(names) <= _MUTABLE:
        raise ValueError(f"not a mutable referral column: {set(names) - _MUTABLE}")
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    record = await uow.conn.fetchrow(
        f"UPDATE ticket_referrals SET {sets}, version = version + 1 WHERE id = $1 RETURNING *",
        referral_id, *(changes[name] for name in names))
    assert record is not None
    return ReferralRow.from_record(record)


async def list_referrals(uow: UnitOfWork, *, incoming: bool, statuses: Sequence[int], reach: Sequence[str] | None,
                         limit: int, offset: int) -> tuple[list[ReferralRow], int]:
    """A page of the county's sent or received referrals, newest first, and how many match.

    ``reach`` (a station's organisations) keeps a received referral suggested to one of them, and a sent one whose
    ticket one of them serves; None keeps all.
    """
    where = ["incoming = $1"]
    args: list[object] = [incoming]
    if statuses:
        args.append(list(statuses))
        where.append(f"status = ANY(${len(args)}::smallint[])")
    if reach is not None:
        args.append(list(reach))
        if incoming:
            where.append(f"to_org_id::text = ANY(${len(args)}::text[])")
        else:
            where.append(f"origin_ticket_id IN (SELECT t.id FROM tickets t WHERE t.serving_org_id::text ="
                         f" ANY(${len(args)}::text[]))")
    clause = " AND ".join(where)
    total = int(await uow.conn.fetchval(f"SELECT count(*) FROM ticket_referrals WHERE {clause}", *args))
    records = await uow.conn.fetch(
        f"SELECT * FROM ticket_referrals WHERE {clause} ORDER BY created_at DESC, id"
        f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}", *args, limit, offset)
    return [ReferralRow.from_record(r) for r in records], total


async def due_outgoing(uow: UnitOfWork, *, now: datetime) -> list[str]:
    """The county's sent referrals still unanswered past their respond-by time."""
    records = await uow.conn.fetch(
        "SELECT id FROM ticket_referrals WHERE status = $1 AND NOT incoming AND respond_by <= $2"
        " ORDER BY respond_by, id", int(ReferralStatus.PENDING), now)
    return [str(r["id"]) for r in records]


async def counties_with_referrals_due_all_tenants(conn: asyncpg.Connection, *, now: datetime) -> list[str]:
    """Counties with a sent referral past its respond-by time; crosses tenants through the SECURITY DEFINER
    function of migration 0004, which names counties and nothing else."""
    return [r[0] for r in await conn.fetch("SELECT * FROM counties_with_referrals_due_all_tenants($1)", now)]


async def ticket_row(uow: UnitOfWork, *, ticket_id: str, for_update: bool = False) -> TicketRow | None:
    """The county's ticket a referral names (for the platform's own steps, which act for no caller)."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(f"SELECT * FROM tickets WHERE id = $1{lock}", ticket_id)
    return TicketRow.from_record(record) if record else None


async def saga_trace_of(uow: UnitOfWork, *, referral_id: str) -> str:
    """The traceparent of a referral's first step, or '' (for the tickets concept's ReferralResolved: its event
    continues the referral's trace)."""
    value = await uow.conn.fetchval("SELECT traceparent FROM ticket_referrals WHERE id = $1", referral_id)
    return str(value or "")
