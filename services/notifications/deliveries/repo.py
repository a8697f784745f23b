"""Deliveries' SQL: one multi-row insert per notice, the worker's claim and outcome, the log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from datetime import datetime

import asyncpg

from jinqiao.notifications.deliveries.domain import HOLD_DIGEST, Status
from jinqiao.notifications.deliveries.models import (
    INSERT_COLUMNS,
    INSERT_TYPES,
    LOG_COLUMNS,
    Claimed,
    DeliveryRow,
    Held,
    NewDelivery,
)

# One INSERT … SELECT FROM unnest(arrays) per notice: a single round trip however many recipients.
_INSERT = (
    f"INSERT INTO deliveries (tenant_id, {', '.join(INSERT_COLUMNS)}) "
    f"SELECT $1, * FROM unnest({', '.join(f'${i + 2}::{t}[]' for i, t in enumerate(INSERT_TYPES))}) "
    "ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
)


async def insert_many(conn: asyncpg.Connection, *, tenant: str, rows: Sequence[NewDelivery]) -> int:
    """Insert the rows whose idempotency key is new; return how many were inserted."""
    if not rows:
        return 0
    columns = list(zip(*(astuple(row) for row in rows), strict=True))
    status = await conn.execute(_INSERT, tenant, *columns)
    return int(status.rsplit(" ", 1)[-1])


async def held_for_digest(conn: asyncpg.Connection, *, tenant: str, now: datetime, limit: int) -> list[Held]:
    """The queued rows whose digest time has come, locked (a parallel worker skips them)."""
    records = await conn.fetch(
        "SELECT id, channel, recipient, recipient_label, category, destination_enc, destination_masked, subject,"
        " body, created_at, next_attempt_at FROM deliveries WHERE tenant_id = $1 AND status = $2"
        " AND next_attempt_at <= $3 AND hold_reason = $4 ORDER BY next_attempt_at, id LIMIT $5"
        " FOR UPDATE SKIP LOCKED",
        tenant, int(Status.QUEUED), now, HOLD_DIGEST, limit)
    return [Held.from_record(r) for r in records]


async def mark_digested(conn: asyncpg.Connection, *, tenant: str, ids: Sequence[str], digest_id: str) -> None:
    """Fold the rows into the digest row ``digest_id``."""
    await conn.execute(
        "UPDATE deliveries SET status = $2, digest_id = $3, hold_reason = ''"
        " WHERE tenant_id = $1 AND id = ANY($4::uuid[])",
        tenant, int(Status.DIGESTED), digest_id, list(ids))


async def claim_due(conn: asyncpg.Connection, *, tenant: str, now: datetime, limit: int) -> list[Claimed]:
    """Up to ``limit`` due queued rows (not the digest's), oldest due first, locked against a parallel worker."""
    records = await conn.fetch(
        "SELECT id, idempotency_key, channel, recipient, destination_enc, subject, body, attempts FROM deliveries"
        " WHERE tenant_id = $1 AND status = $2 AND next_attempt_at <= $3 AND hold_reason <> $4"
        " ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED",
        tenant, int(Status.QUEUED), now, HOLD_DIGEST, limit)
    return [Claimed.from_record(r) for r in records]


async def sent_since(conn: asyncpg.Connection, *, tenant: str, since: datetime) -> dict[int, tuple[int, datetime]]:
    """Per channel: how many rows were sent after ``since`` and the oldest of those sends."""
    records = await conn.fetch(
        "SELECT channel, count(*) AS n, min(sent_at) AS oldest FROM deliveries"
        " WHERE tenant_id = $1 AND sent_at > $2 AND channel <> 1 GROUP BY channel",
        tenant, since)
    return {int(r["channel"]): (int(r["n"]), r["oldest"]) for r in records}


async def lease(conn: asyncpg.Connection, *, tenant: str, ids: Sequence[str], until: datetime) -> None:
    """Count an attempt and push the rows ahead, so a worker that dies mid-send leaves them to be tried later."""
    await conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $2, hold_reason = ''"
        " WHERE tenant_id = $1 AND id = ANY($3::uuid[])", tenant, until, list(ids))


async def hold(conn: asyncpg.Connection, *, tenant: str, ids: Sequence[str], until: datetime, reason: str) -> None:
    """Leave the rows queued until ``until`` with ``reason`` shown in the log."""
    await conn.execute(
        "UPDATE deliveries SET next_attempt_at = $2, hold_reason = $3 WHERE tenant_id = $1 AND id = ANY($4::uuid[])",
        tenant, until, reason, list(ids))


async def record(conn: asyncpg.Connection, *, tenant: str, now: datetime,
                 outcomes: Sequence[tuple[str, int, datetime | None, str, str]]) -> None:
    """Record each tried row's outcome: (id, status, next attempt or None, hold reason, last error)."""
    if not outcomes:
        return
    ids, statuses, nexts, reasons, errors = (list(c) for c in zip(*outcomes, strict=True))
    await conn.execute(
        "UPDATE deliveries d SET status = u.status, next_attempt_at = coalesce(u.next_at, d.next_attempt_at),"
        " hold_reason = u.reason, last_error = u.error,"
        " sent_at = CASE WHEN u.status IN (2, 3) THEN $2 ELSE d.sent_at END,"
        " delivered_at = CASE WHEN u.status = 3 THEN $2 ELSE d.delivered_at END"
        " FROM unnest($3::uuid[], $4::smallint[], $5::timestamptz[], $6::text[], $7::text[])"
        " AS u(id, status, next_at, reason, error) WHERE d.tenant_id = $1 AND d.id = u.id",
        tenant, now, ids, statuses, nexts, reasons, errors)


async def list_log(conn: asyncpg.Connection, *, tenant: str, status: int, channel: int, kind: str,
                   after: tuple[datetime, str] | None, limit: int) -> list[DeliveryRow]:
    """The county's log newest first, filtered (0/"" = any), after a keyset position."""
    clauses: list[str] = ["tenant_id = $1"]
    args: list[object] = [tenant]
    for column, value in (("status", status), ("channel", channel)):
        if value:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    if kind:
        args.append(kind)
        clauses.append(f"kind = ${len(args)}")
    if after is not None:
        args += [after[0], after[1]]
        clauses.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)}::uuid)")
    args.append(limit)
    records = await conn.fetch(
        f"SELECT {LOG_COLUMNS} FROM deliveries WHERE {' AND '.join(clauses)}"
        f" ORDER BY created_at DESC, id DESC LIMIT ${len(args)}", *args)
    return [DeliveryRow.from_record(r) for r in records]


async def totals(conn: asyncpg.Connection, *, tenant: str) -> list[tuple[int, int]]:
    """The county's deliveries counted by status."""
    records = await conn.fetch(
        "SELECT status, count(*) AS n FROM deliveries WHERE tenant_id = $1 GROUP BY status ORDER BY status", tenant)
    return [(int(r["status"]), int(r["n"])) for r in records]


async def get_for_update(conn: asyncpg.Connection, *, tenant: str, delivery_id: str) -> DeliveryRow | None:
    """One delivery, locked, or None (another county's is invisible under RLS anyway)."""
    found = await conn.fetchrow(
        f"SELECT {LOG_COLUMNS} FROM deliveries WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant, delivery_id)
    return DeliveryRow.from_record(found) if found is not None else None


async def requeue(conn: asyncpg.Connection, *, tenant: str, delivery_id: str, now: datetime) -> DeliveryRow:
    """Queue a dead letter again now, its attempts reset."""
    found = await conn.fetchrow(
        f"UPDATE deliveries SET status = $3, attempts = 0, next_attempt_at = $4, hold_reason = '', last_error = ''"
        f" WHERE tenant_id = $1 AND id = $2 RETURNING {LOG_COLUMNS}",
        tenant, delivery_id, int(Status.QUEUED), now)
    return DeliveryRow.from_record(found)


async def counties_due_all_tenants(conn: asyncpg.Connection, *, at: datetime) -> list[str]:
    """The counties with queued rows due (SECURITY DEFINER: names counties, nothing more)."""
    records = await conn.fetch("SELECT * FROM counties_with_deliveries_due_all_tenants($1)", at)
    return [r[0] for r in records]
