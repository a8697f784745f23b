"""Tickets: SQL over the unit of work's connection."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from jinqiao.desk.tickets.models import TICKETS, TicketRow
from jinqiao.kit.db import UnitOfWork

_JSON_COLUMNS = frozenset({"form", "sla_policy"})


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One entry of ``ticket_history``."""

    id: str
    ticket_id: str
    at: datetime
    actor: str
    actor_name: str
    action: str
    from_status: int
    to_status: int
    comment_kind: int
    body: str


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """ListTickets' filters, already checked (None: no such filter)."""

    reach: frozenset[str] | None
    member: tuple[str, str] | None = None
    statuses: tuple[int, ...] = ()
    category: str = ""
    queue: str | None = None  # "county" or an org id
    assignee: str | None = None  # a login, or "" for unassigned
    sla_state: str = ""  # WARNED, BREACHED or PAUSED
    member_id: str | None = None
    query: str = ""
    referred_only: bool = False


def _args(values: dict[str, Any]) -> tuple[list[str], list[str], list[Any]]:
    columns, params, args = [], [], []
    for i, (name, value) in enumerate(values.items(), start=1):
        columns.append(name)
        if name in _JSON_COLUMNS:
            params.append(f"${i}::jsonb")
            args.append(json.dumps(value, ensure_ascii=False))
        else:
            params.append(f"${i}")
            args.append(value)
    return columns, params, args


async def next_sequence(uow: UnitOfWork, *, day: date) -> int:
    """The county's next ticket number of a (Beijing) day."""
    value: int = await uow.conn.fetchval(
        "INSERT INTO ticket_counters (tenant_id, day, last) VALUES ($1, $2, 1)"
        " ON CONFLICT (tenant_id, day) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last",
        uow.tenant, day)
    return value


async def insert_filed(uow: UnitOfWork, *, values: dict[str, Any], actor: str, actor_name: str,
                       to_status: int) -> TicketRow | None:
    """Insert a ticket and its history's first entry ("filed") in one statement; None (and no entry) when its request
    id was already used (the first ticket stands)."""
    columns, params, args = _args({"tenant_id": uow.tenant, **values})
    n = len(args)
    record = await uow.conn.fetchrow(
        f"WITH filed AS (INSERT INTO {TICKETS} ({', '.join(columns)}) VALUES ({', '.join(params)})"
        " ON CONFLICT (tenant_id, request_id) DO NOTHING RETURNING *),"
        " entry AS (INSERT INTO ticket_history (tenant_id, id, ticket_id, at, actor, actor_name, action, from_status,"
        f" to_status, comment_kind, body) SELECT filed.tenant_id, ${n + 1}, filed.id, filed.created_at, ${n + 2},"
        f" ${n + 3}, 'filed', 0, ${n + 4}, 0, '' FROM filed)"
        " SELECT * FROM filed", *args, str(uuid.uuid4()), actor, actor_name, to_status)
    return TicketRow.from_record(record) if record else None


async def by_request_id(uow: UnitOfWork, *, request_id: str) -> TicketRow | None:
    """The ticket filed under a request id, or None."""
    record = await uow.conn.fetchrow(f"SELECT * FROM {TICKETS} WHERE request_id = $1", request_id)
    return TicketRow.from_record(record) if record else None


async def get(uow: UnitOfWork, *, ticket_id: str, for_update: bool = False) -> TicketRow | None:
    """One ticket of the county, or None."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(f"SELECT * FROM {TICKETS} WHERE id = $1{lock}", ticket_id)
    return TicketRow.from_record(record) if record else None


async def update(uow: UnitOfWork, *, ticket_id: str, changes: dict[str, Any]) -> TicketRow:
    """Change a ticket's columns; the version goes up by one."""
    columns, params, args = _args(changes)
    sets = ", ".join(f"{c} = {p}" for c, p in zip(columns, params, strict=True))
    n = len(args) + 1
    record = await uow.conn.fetchrow(
        f"UPDATE {TICKETS} SET {sets}{', ' if sets else ''}version = version + 1 WHERE id = ${n} RETURNING *",
        *args, ticket_id)
    return TicketRow.from_record(record)


async def add_history(uow: UnitOfWork, *, ticket_id: str, at: datetime, actor: str, actor_name: str, action: str,
                      from_status: int, to_status: int, comment_kind: int, body: str) -> HistoryRow:
    """Append one entry to a ticket's history."""
    entry_id = str(uuid.uuid4())
    await uow.conn.execute(
        "INSERT INTO ticket_history (tenant_id, id, ticket_id, at, actor, actor_name, action, from_status,"
        " to_status, comment_kind, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        uow.tenant, entry_id, ticket_id, at, actor, actor_name, action, from_status, to_status, comment_kind, body)
    return HistoryRow(id=entry_id, ticket_id=ticket_id, at=at, actor=actor, actor_name=actor_name, action=action,
                      from_status=from_status, to_status=to_status, comment_kind=comment_kind, body=body)


def _history(r: asyncpg.Record) -> HistoryRow:
    return HistoryRow(id=str(r["id"]), ticket_id=str(r["ticket_id"]), at=r["at"], actor=r["actor"],
                      actor_name=r["actor_name"], action=r["action"], from_status=r["from_status"],
                      to_status=r["to_status"], comment_kind=r["comment_kind"], body=r["body"])


async def history(uow: UnitOfWork, *, ticket_id: str) -> list[HistoryRow]:
    """A ticket's history, oldest first."""
    return [_history(r) for r in await uow.conn.fetch(
        "SELECT * FROM ticket_history WHERE ticket_id = $1 ORDER BY at, id LIMIT 2000", ticket_id)]


async def member_has_ticket(uow: UnitOfWork, *, member_id: str, reach: frozenset[str] | None) -> bool:
    """Whether the county serves the member in a ticket of a queue within ``reach`` (None: any queue)."""
    return bool(await uow.conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM tickets WHERE member_id = $1"
        " AND ($2::uuid[] IS NULL OR serving_org_id = ANY($2::uuid[])))",
        member_id, None if reach is None else sorted(reach)))


async def attachment_counts(uow: UnitOfWork, *, ticket_ids: list[str]) -> dict[str, int]:
    """How many files each ticket has."""
    if not ticket_ids:
        return {}
    records = await uow.conn.fetch(
        "SELECT ticket_id, count(*) AS n FROM ticket_attachments WHERE ticket_id = ANY($1::uuid[])"
        " GROUP BY ticket_id", ticket_ids)
    return {str(r["ticket_id"]): r["n"] for r in records}


async def view_facts(uow: UnitOfWork, *, ticket_id: str, org_id: str | None) -> tuple[str | None, int]:
    """The replica's name of the ticket's queue organisation (None when unknown) and how many files the ticket
    has, in one round trip."""
    record = await uow.conn.fetchrow(
        "SELECT (SELECT name FROM desk_orgs WHERE id = $1) AS org_name,"
        " (SELECT count(*) FROM ticket_attachments WHERE ticket_id = $2) AS files", org_id, ticket_id)
    return record["org_name"], int(record["files"])


async def org_names(uow: UnitOfWork, *, org_ids: list[str]) -> dict[str, str]:
    """The replica's names of organisations of the county."""
    if not org_ids:
        return {}
    records = await uow.conn.fetch("SELECT id, name FROM desk_orgs WHERE id = ANY($1::uuid[])", org_ids)
    return {str(r["id"]): r["name"] for r in records}


def _where(f: TicketFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.reach is not None:
        clauses.append(f"t.serving_org_id = ANY({arg(list(f.reach))}::uuid[])")
    if f.member is not None:
        clauses.append(f"t.member_home_tenant_id = {arg(f.member[0])} AND t.member_id = {arg(f.member[1])}::uuid")
    if f.statuses:
        clauses.append(f"t.status = ANY({arg(list(f.statuses))}::smallint[])")
    if f.category:
        clauses.append(f"t.category = {arg(f.category)}")
    if f.queue == "county":
        clauses.append("t.serving_org_id IS NULL")
    elif f.queue is not None:
        clauses.append(f"t.serving_org_id = {arg(f.queue)}::uuid")
    if f.assignee is not None:
        clauses.append(f"t.assignee = {arg(f.assignee)}")
    if f.sla_state == "PAUSED":
        clauses.append("t.paused_at IS NOT NULL")
    elif f.sla_state in ("WARNED", "BREACHED"):
        # A clock warned (breached) in its current cycle and not yet done: the marks say so.
        kind = arg(f.sla_state.lower())
        clauses.append(f"t.status IN (1, 2, 3, 4) AND EXISTS (SELECT 1 FROM ticket_sla_marks m"
                       f" WHERE m.ticket_id = t.id AND lower(m.kind) = {kind})")
    if f.member_id is not None:
        clauses.append(f"t.member_id = {arg(f.member_id)}::uuid")
    if f.query:
        like = arg("%" + f.query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        clauses.append(f"(t.title ILIKE {like} OR t.number ILIKE {like} OR t.member_name ILIKE {like})")
    if f.referred_only:
        clauses.append("t.incoming_referral_id IS NOT NULL")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


async def page(uow: UnitOfWork, *, filter_: TicketFilter, offset: int, limit: int) -> tuple[list[TicketRow], int]:
    """A page of the tickets that match, newest first, and how many match."""
    where, args = _where(filter_)
    total: int = await uow.conn.fetchval(f"SELECT count(*) FROM {TICKETS} t{where}", *args)
    n = len(args)
    records = await uow.conn.fetch(
        f"SELECT t.* FROM {TICKETS} t{where} ORDER BY t.created_at DESC, t.id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        *args, limit, offset)
    return [TicketRow.from_record(r) for r in records], total
