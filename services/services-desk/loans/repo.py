"""Loans: SQL over ``loans`` and ``loan_steps`` (keyed by ``uow.tenant``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from jinqiao.desk.loans.domain import IN_PROGRESS, LoanStatus
from jinqiao.desk.loans.models import ATTACHMENT_META, LOAN_COLUMNS, LoanAttachmentRow, LoanRow, StepRow
from jinqiao.kit.db import UnitOfWork


async def get(uow: UnitOfWork, *, loan_id: str, for_update: bool = False) -> LoanRow | None:
    """CONTRACT: one loan of the county, or None."""
    lock = " FOR UPDATE" if for_update else ""
    r = await uow.conn.fetchrow(f"SELECT {LOAN_COLUMNS} FROM loans WHERE tenant_id = $1 AND id = $2{lock}",
                                uow.tenant, loan_id)
    return None if r is None else LoanRow.from_record(r)


async def add_step(uow: UnitOfWork, *, loan_id: str, at: datetime, action: str, tier: int, actor: str,
                   body: str) -> str:
    """CONTRACT: append one entry to a loan's history; returns its id."""
    step_id = str(uuid.uuid4())
    await uow.conn.execute(
        "INSERT INTO loan_steps (tenant_id, id, loan_id, action, tier, actor, body, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uow.tenant, step_id, loan_id, action, tier, actor, body, at)
    return step_id


_MUTABLE = frozenset({"status", "pending_tier", "step_due_at", "step_overdue_sent", "refused_tier", "refusal_reason",
                      "committed_fen", "granted_amount_fen", "rate_bp", "subsidy_bp"})


async def next_number(uow: UnitOfWork, *, year: int) -> int:
    """The county's next loan sequence number of ``year`` (one row per county and year, bumped atomically)."""
    value: int = await uow.conn.fetchval(
        "INSERT INTO loan_counters (tenant_id, year, last) VALUES ($1, $2, 1)"
        " ON CONFLICT (tenant_id, year) DO UPDATE SET last = loan_counters.last + 1 RETURNING last",
        uow.tenant, year)
    return value


async def lock_request_id(uow: UnitOfWork, *, request_id: str) -> None:
    """Serialise concurrent filings carrying the same idempotency key until this transaction ends."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('desk.loan:' || $1 || ':' || $2, 0))",
                           uow.tenant, request_id)


async def by_request_id(uow: UnitOfWork, *, request_id: str) -> LoanRow | None:
    """The loan an earlier request with this id filed, or None."""
    r = await uow.conn.fetchrow(f"SELECT {LOAN_COLUMNS} FROM loans WHERE tenant_id = $1 AND request_id = $2",
                                uow.tenant, request_id)
    return None if r is None else LoanRow.from_record(r)


async def insert(uow: UnitOfWork, *, values: dict[str, Any]) -> LoanRow:
    """Insert a new loan (``eligibility`` as a list) and return it."""
    data = {"tenant_id": uow.tenant, **values, "eligibility": json.dumps(values["eligibility"], ensure_ascii=False)}
    names = list(data)
    params = ", ".join(f"${i}::jsonb" if n == "eligibility" else f"${i}" for i, n in enumerate(names, start=1))
    r = await uow.conn.fetchrow(
        f"INSERT INTO loans ({', '.join(names)}) VALUES ({params}) RETURNING {LOAN_COLUMNS}", *data.values())
    assert r is not None
    return LoanRow.from_record(r)


async def update(uow: UnitOfWork, *, loan_id: str, at: datetime, changes: dict[str, Any]) -> LoanRow:
    """Apply decision changes to a loan (version + 1, updated_at) and return it."""
    names = sorted(changes)
    if not set(names) <= _MUTABLE:
        raise ValueError(f"not changeable here: {set(names) - _MUTABLE}")
    sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=4))
    r = await uow.conn.fetchrow(
        f"UPDATE loans SET {sets}, updated_at = $3, version = version + 1 WHERE tenant_id = $1 AND id = $2"
        f" RETURNING {LOAN_COLUMNS}", uow.tenant, loan_id, at, *(changes[n] for n in names))
    assert r is not None
    return LoanRow.from_record(r)


async def member_standing(uow: UnitOfWork, *, member_id: str, programme_id: str) -> tuple[bool, int]:
    """Whether the member has an overdue loan in the county, and what they already hold of the programme (open
    applications' amounts plus disbursed loans' outstanding principal)."""
    r = await uow.conn.fetchrow(
        "SELECT coalesce(bool_or(overdue_fen > 0), false) AS overdue,"
        " coalesce(sum(CASE WHEN programme_id = $3 AND status = ANY($4::smallint[]) THEN amount_fen"
        "                   WHEN programme_id = $3 AND status = $5 THEN outstanding_principal_fen ELSE 0 END), 0)"
        " AS borrowed FROM loans WHERE tenant_id = $1 AND member_id = $2",
        uow.tenant, member_id, programme_id, sorted(int(s) for s in IN_PROGRESS), int(LoanStatus.DISBURSED))
    assert r is not None
    return bool(r["overdue"]), int(r["borrowed"])


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_loans(uow: UnitOfWork, *, member_ids: list[str] | None, home_orgs: list[str] | None, bank: str | None,
                     statuses: list[int], programme_id: str | None, pending_tier: int | None, overdue_only: bool,
                     member_id: str | None, query: str, limit: int, offset: int) -> tuple[list[LoanRow], int]:
    """A page of the county's loans matching the filters (reach: member ids, home branches or bank), newest first,
    and the count of all that match."""
    where = ["l.tenant_id = $1"]
    args: list[Any] = [uow.tenant]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if member_ids is not None:
        where.append(f"l.member_id = ANY({arg(member_ids)}::uuid[])")
    if home_orgs is not None:
        where.append(f"l.home_org_id = ANY({arg(home_orgs)}::uuid[])")
    if bank is not None:
        where.append(f"l.programme_id IN (SELECT p.id FROM loan_programmes p WHERE p.tenant_id = l.tenant_id"
                     f" AND p.bank_code = {arg(bank)})")
    if statuses:
        where.append(f"l.status = ANY({arg(statuses)}::smallint[])")
    if programme_id is not None:
        where.append(f"l.programme_id = {arg(programme_id)}")
    if pending_tier is not None:
        where.append(f"l.pending_tier = {arg(pending_tier)}")
    if overdue_only:
        where.append("l.overdue_fen > 0")
    if member_id is not None:
        where.append(f"l.member_id = {arg(member_id)}")
    if query:
        p = arg(_like(query))
        where.append(f"(l.member_name ILIKE {p} OR l.purpose ILIKE {p} OR l.number ILIKE {p})")
    cond = " AND ".join(where)
    total = await uow.conn.fetchval(f"SELECT count(*) FROM loans l WHERE {cond}", *args)
    columns = ", ".join(f"l.{c.strip()}" for c in LOAN_COLUMNS.split(","))
    rows = await uow.conn.fetch(
        f"SELECT {columns} FROM loans l WHERE {cond} ORDER BY l.created_at DESC, l.id"
        f" LIMIT {arg(limit)} OFFSET {arg(offset)}", *args)
    return [LoanRow.from_record(r) for r in rows], int(total or 0)


async def steps(uow: UnitOfWork, *, loan_id: str) -> list[StepRow]:
    """A loan's history, oldest first."""
    rows = await uow.conn.fetch(
        "SELECT id, action, tier, actor, body, created_at FROM loan_steps WHERE tenant_id = $1 AND loan_id = $2"
        " ORDER BY created_at, id", uow.tenant, loan_id)
    return [StepRow(id=str(r["id"]), action=r["action"], tier=int(r["tier"]), actor=r["actor"], body=r["body"],
                    created_at=r["created_at"]) for r in rows]


async def step_overdue_ids(uow: UnitOfWork, *, now: datetime) -> list[str]:
    """The county's loans whose pending step passed its time limit and was not reported yet."""
    rows = await uow.conn.fetch(
        "SELECT id FROM loans WHERE tenant_id = $1 AND pending_tier <> 0 AND NOT step_overdue_sent"
        " AND step_due_at < $2 ORDER BY step_due_at", uow.tenant, now)
    return [str(r["id"]) for r in rows]


async def counties_with_loans_due_all_tenants(conn: asyncpg.Connection[Any]) -> list[str]:
    """Every county with a loan being repaid or a step not yet reported overdue (SECURITY DEFINER; crosses
    tenants by design, returning only county codes)."""
    rows = await conn.fetch("SELECT * FROM counties_with_loans_due_all_tenants()")
    return [r[0] for r in rows]


# ---------------------------------------------------------------- attachments


async def attachment_counts(uow: UnitOfWork, *, loan_ids: list[str]) -> dict[str, int]:
    """How many files each of the loans has."""
    rows = await uow.conn.fetch(
        "SELECT loan_id, count(*) AS n FROM loan_attachments WHERE tenant_id = $1 AND loan_id = ANY($2::uuid[])"
        " GROUP BY loan_id", uow.tenant, loan_ids)
    return {str(r["loan_id"]): int(r["n"]) for r in rows}


async def insert_attachment(uow: UnitOfWork, *, row: LoanAttachmentRow, content_enc: bytes) -> None:
    """Store a file's meta and sealed content."""
    await uow.conn.execute(
        "INSERT INTO loan_attachments (tenant_id, id, loan_id, filename, content_type, size_bytes, sha256,"
        " content_enc, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        uow.tenant, row.id, row.loan_id, row.filename, row.content_type, row.size_bytes, row.sha256, content_enc,
        row.uploaded_by, row.created_at)


async def attachments(uow: UnitOfWork, *, loan_id: str) -> list[LoanAttachmentRow]:
    """A loan's files (meta only), oldest first."""
    rows = await uow.conn.fetch(
        f"SELECT {ATTACHMENT_META} FROM loan_attachments WHERE tenant_id = $1 AND loan_id = $2"
        " ORDER BY created_at, id", uow.tenant, loan_id)
    return [LoanAttachmentRow.from_record(r) for r in rows]


async def attachment(uow: UnitOfWork, *, loan_id: str, attachment_id: str) -> tuple[LoanAttachmentRow, bytes] | None:
    """One file of a loan with its sealed content, or None."""
    r = await uow.conn.fetchrow(
        f"SELECT {ATTACHMENT_META}, content_enc FROM loan_attachments WHERE tenant_id = $1 AND loan_id = $2"
        " AND id = $3", uow.tenant, loan_id, attachment_id)
    return None if r is None else (LoanAttachmentRow.from_record(r), bytes(r["content_enc"]))
