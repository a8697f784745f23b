"""Escalations repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.escalations.domain import Escalation, EscalationState
from jinqiao.notifications.escalations.models import SELECT, from_record


async def get(uow: UnitOfWork, *, escalation_id: str, for_update: bool = False) -> Escalation | None:
    """One escalation of the county, or None."""
    lock = " FOR UPDATE OF e" if for_update else ""
    record = await uow.conn.fetchrow(f"{SELECT} WHERE e.id = $1{lock}", escalation_id)
    return from_record(record) if record else None


async def by_subject(uow: UnitOfWork, *, kind: str, subject_id: str, for_update: bool = False) -> Escalation | None:
    """The county's escalation of this kind for the matter, or None."""
    lock = " FOR UPDATE OF e" if for_update else ""
    record = await uow.conn.fetchrow(f"{SELECT} WHERE e.kind = $1 AND e.subject_id = $2{lock}", kind, subject_id)
    return from_record(record) if record else None


async def insert(uow: UnitOfWork, *, escalation_id: str, kind: str, subject_type: str, subject_id: str,
                 member_id: str | None, level: int, audience: str, start_org_id: str | None, org_id: str | None,
                 facts: Mapping[str, str], opened_at: datetime, next_escalation_at: datetime | None) -> bool:
    """Open an escalation; False when the matter already has one of this kind (a concurrent or repeated call)."""
    status = await uow.conn.execute(
        "INSERT INTO escalations (tenant_id, id, kind, subject_type, subject_id, member_id, state, level, audience,"
        " start_org_id, org_id, facts, opened_at, next_escalation_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14)"
        " ON CONFLICT (tenant_id, kind, subject_id) DO NOTHING",
        uow.tenant, escalation_id, kind, subject_type, subject_id, member_id, int(EscalationState.OPEN), level,
        audience, start_org_id, org_id, json.dumps(dict(facts), ensure_ascii=False), opened_at, next_escalation_at)
    return bool(status.endswith(" 1"))


async def move(uow: UnitOfWork, *, escalation_id: str, level: int, audience: str, org_id: str | None,
               facts: Mapping[str, str], next_escalation_at: datetime | None) -> None:
    """Record that the escalation reached ``level`` at the office of ``org_id`` (None: the county seat)."""
    await uow.conn.execute(
        "UPDATE escalations SET level = $2, audience = $3, org_id = $4, facts = $5::jsonb, next_escalation_at = $6,"
        " version = version + 1 WHERE id = $1",
        escalation_id, level, audience, org_id, json.dumps(dict(facts), ensure_ascii=False), next_escalation_at)


async def acknowledge(uow: UnitOfWork, *, escalation_id: str, by: str, note: str, at: datetime) -> None:
    """OPEN → ACKNOWLEDGED: it stops climbing."""
    await uow.conn.execute(
        "UPDATE escalations SET state = $2, acknowledged_by = $3, note = $4, acknowledged_at = $5,"
        " next_escalation_at = NULL, version = version + 1 WHERE id = $1",
        escalation_id, int(EscalationState.ACKNOWLEDGED), by, note, at)


async def resolve(uow: UnitOfWork, *, escalation_id: str, at: datetime) -> None:
    """→ RESOLVED: the matter itself ended; nobody needs telling any more."""
    await uow.conn.execute(
        "UPDATE escalations SET state = $2, resolved_at = $3, next_escalation_at = NULL, version = version + 1"
        " WHERE id = $1", escalation_id, int(EscalationState.RESOLVED), at)


async def due(uow: UnitOfWork, *, now: datetime, limit: int) -> list[str]:
    """The county's OPEN escalations whose wait ran out, oldest wait first."""
    rows = await uow.conn.fetch(
        "SELECT id FROM escalations WHERE state = $1 AND next_escalation_at <= $2 ORDER BY next_escalation_at, id"
        " LIMIT $3", int(EscalationState.OPEN), now, limit)
    return [str(r["id"]) for r in rows]


async def told(uow: UnitOfWork, *, escalation_id: str, addresses: Sequence[str]) -> bool:
    """Whether an in-app message of this escalation went to one of ``addresses``."""
    return bool(await uow.conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE escalation_id = $1 AND channel = $2"
        " AND recipient = ANY($3::text[]))", escalation_id, int(Channel.IN_APP), list(addresses)))


async def page(uow: UnitOfWork, *, state: int, kind: str, after: tuple[datetime, str] | None,
               limit: int) -> list[Escalation]:
    """A page of the county's escalations, newest opened first (keyset on opened_at, id)."""
    where: list[str] = []
    args: list[object] = []
    if state:
        args.append(state)
        where.append(f"e.state = ${len(args)}")
    if kind:
        args.append(kind)
        where.append(f"e.kind = ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(e.opened_at, e.id) < (${len(args) - 1}, ${len(args)}::uuid)")
    args.append(limit)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = await uow.conn.fetch(f"{SELECT}{clause} ORDER BY e.opened_at DESC, e.id DESC LIMIT ${len(args)}", *args)
    return [from_record(r) for r in rows]


async def counties_with_escalations_due_all_tenants(conn: asyncpg.Connection, *, now: datetime) -> list[str]:
    """Counties with an OPEN escalation whose wait ran out; crosses tenants through the SECURITY DEFINER function
    of migration 0004, which names counties and nothing else."""
    return [r[0] for r in await conn.fetch("SELECT * FROM counties_with_escalations_due_all_tenants($1)", now)]
