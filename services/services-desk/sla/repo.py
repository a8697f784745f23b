"""Sla repository: set-based SQL for the sweep (one statement per batch, never one per ticket)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from jinqiao.desk.sla.models import SWEEP_COLUMNS
from jinqiao.kit.audit import GENESIS, AuditEntry, chain_hash
from jinqiao.kit.db import UnitOfWork


async def counties_with_sla_due_all_tenants(conn: asyncpg.Connection, *, at: datetime) -> list[str]:
    """The counties with a ticket to look at by ``at`` (a SECURITY DEFINER function: nothing but their codes)."""
    return [r[0] for r in await conn.fetch("SELECT * FROM counties_with_sla_due_all_tenants($1)", at)]


async def due_batch(uow: UnitOfWork, *, at: datetime, limit: int) -> list[asyncpg.Record]:
    """Tickets due a look by ``at``, locked; rows another sweep holds are skipped, not waited for."""
    rows: list[asyncpg.Record] = await uow.conn.fetch(
        f"SELECT {SWEEP_COLUMNS} FROM tickets WHERE next_sla_check <= $1 ORDER BY next_sla_check"
        " LIMIT $2 FOR UPDATE SKIP LOCKED", at, limit)
    return rows


async def insert_marks(uow: UnitOfWork, *, ticket_ids: list[str], clocks: list[str], kinds: list[str],
                       cycles: list[int], at: datetime) -> set[tuple[str, str, str, int]]:
    """Insert marks once; returns those inserted now (the others were marked before, their events sent)."""
    records = await uow.conn.fetch(
        "INSERT INTO ticket_sla_marks (tenant_id, ticket_id, clock, kind, cycle, at)"
        " SELECT $1, t, c, k, n, $6 FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[]) AS u(t, c, k, n)"
        " ON CONFLICT DO NOTHING RETURNING ticket_id, clock, kind, cycle",
        uow.tenant, ticket_ids, clocks, kinds, cycles, at)
    return {(str(r["ticket_id"]), r["clock"], r["kind"], r["cycle"]) for r in records}


async def set_next_checks(uow: UnitOfWork, *, ticket_ids: list[str], checks: list[datetime | None]) -> None:
    """Store each ticket's next look."""
    await uow.conn.execute(
        "UPDATE tickets SET next_sla_check = u.c FROM unnest($2::uuid[], $3::timestamptz[]) AS u(t, c)"
        " WHERE tickets.tenant_id = $1 AND tickets.id = u.t", uow.tenant, ticket_ids, checks)


async def escalate(uow: UnitOfWork, *, ticket_ids: list[str], targets: list[str | None], at: datetime) -> None:
    """Mark tickets escalated to an organisation (NULL: the county department)."""
    await uow.conn.execute(
        "UPDATE tickets SET escalated = true, escalated_to_org_id = u.o, updated_at = $4"
        " FROM unnest($2::uuid[], $3::uuid[]) AS u(t, o) WHERE tickets.tenant_id = $1 AND tickets.id = u.t",
        uow.tenant, ticket_ids, targets, at)


async def add_history(uow: UnitOfWork, *, ids: list[str], ticket_ids: list[str], actions: list[str],
                      bodies: list[str], at: datetime, status: list[int]) -> None:
    """Append the system's history entries in one statement (the columns tickets.service.add_history writes)."""
    await uow.conn.execute(
        "INSERT INTO ticket_history (tenant_id, id, ticket_id, at, actor, actor_name, action, from_status,"
        " to_status, body) SELECT $1, i, t, $2, 'system', '系统', a, s, s, b"
        " FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::smallint[]) AS u(i, t, a, b, s)",
        uow.tenant, at, ids, ticket_ids, actions, bodies, status)


async def append_audit(uow: UnitOfWork, entries: list[AuditEntry]) -> None:
    """Append the sweep's audit rows in one statement, chained exactly as ``kit.audit.record`` chains one (the
    tenant's chain lock is taken by reading its head, held until commit)."""
    if not entries:
        return
    last = await uow.conn.fetchrow("SELECT * FROM audit_chain_head($1)", uow.tenant)
    seq = (last["seq"] + 1) if last and last["seq"] else 1
    prev = bytes(last["hash"]) if last and last["hash"] else GENESIS
    at = datetime.now(UTC)
    rows = []
    for entry in entries:
        digest = chain_hash(prev_hash=prev, tenant_id=uow.tenant, seq=seq, at=at, entry=entry)
        rows.append((uow.tenant, seq, at, entry.actor, entry.role, entry.action, entry.object_type, entry.object_id,
                     entry.reason, entry.trace_id, prev, digest))
        prev = digest
        seq += 1
    columns = list(zip(*rows, strict=True))
    await uow.conn.execute(
        "INSERT INTO audit_log (tenant_id, seq, at, actor, role, action, object_type, object_id, reason,"
        " trace_id, prev_hash, hash) SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[],"
        " $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::bytea[])",
        *[list(c) for c in columns])
