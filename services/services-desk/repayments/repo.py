"""Repayments: SQL over ``loan_instalments``, ``loan_repayments``, ``loan_reminders`` and the repayment columns of
``loans`` (disbursed_on … settled_on, status DISBURSED/SETTLED), all keyed by ``uow.tenant``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from jinqiao.desk.loans.models import LOAN_COLUMNS, LoanRow
from jinqiao.desk.repayments.domain import Instalment, Period
from jinqiao.desk.repayments.models import INSTALMENT_COLUMNS, REPAYMENT_COLUMNS, ClaimRow, InstalmentRow, RepaymentRow
from jinqiao.kit.db import UnitOfWork

# The loan columns the repayments concept writes (never the review columns).
_LOAN_MONEY = frozenset({"status", "pending_tier", "step_due_at", "disbursed_on", "disburse_request_id",
                         "outstanding_principal_fen", "overdue_fen", "days_past_due", "next_due_date",
                         "next_due_fen", "settled_on"})


async def update_loan(uow: UnitOfWork, *, loan_id: str, changes: dict[str, Any], at: datetime) -> LoanRow:
    """Write the repayment columns of a loan, bump its version; the row after."""
    unknown = set(changes) - _LOAN_MONEY
    if unknown:
        raise ValueError(f"not a repayment column: {sorted(unknown)}")
    names = list(changes)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    r = await uow.conn.fetchrow(
        f"UPDATE loans SET {sets}, updated_at = ${len(names) + 3}, version = version + 1"
        f" WHERE tenant_id = $1 AND id = $2 RETURNING {LOAN_COLUMNS}",
        uow.tenant, loan_id, *[changes[n] for n in names], at)
    return LoanRow.from_record(r)


async def insert_schedule(uow: UnitOfWork, *, loan_id: str, periods: Sequence[Period]) -> None:
    """Store a loan's schedule (one row a period)."""
    await uow.conn.executemany(
        "INSERT INTO loan_instalments (tenant_id, loan_id, seq, due_date, principal_fen, interest_fen, subsidy_fen,"
        " balance_after_fen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(uow.tenant, loan_id, p.seq, p.due_date, p.principal_fen, p.interest_fen, p.subsidy_fen,
          p.balance_after_fen) for p in periods])


async def instalments(uow: UnitOfWork, *, loan_id: str) -> list[InstalmentRow]:
    """A loan's schedule, in order."""
    rows = await uow.conn.fetch(
        f"SELECT {INSTALMENT_COLUMNS} FROM loan_instalments WHERE tenant_id = $1 AND loan_id = $2 ORDER BY seq",
        uow.tenant, loan_id)
    return [InstalmentRow.from_record(r) for r in rows]


async def save_payments(uow: UnitOfWork, *, loan_id: str, items: Sequence[Instalment]) -> None:
    """Write what has been paid of these instalments."""
    await uow.conn.executemany(
        "UPDATE loan_instalments SET paid_principal_fen = $4, paid_interest_fen = $5, paid_on = $6"
        " WHERE tenant_id = $1 AND loan_id = $2 AND seq = $3",
        [(uow.tenant, loan_id, i.seq, i.paid_principal_fen, i.paid_interest_fen, i.paid_on) for i in items])


async def repayment_by_request(uow: UnitOfWork, *, loan_id: str, request_id: str) -> RepaymentRow | None:
    """The repayment a request already recorded, or None."""
    r = await uow.conn.fetchrow(
        f"SELECT {REPAYMENT_COLUMNS} FROM loan_repayments WHERE tenant_id = $1 AND loan_id = $2 AND request_id = $3",
        uow.tenant, loan_id, request_id)
    return None if r is None else RepaymentRow.from_record(r)


async def insert_repayment(uow: UnitOfWork, *, row: RepaymentRow) -> None:
    """Store a repayment as allocated."""
    await uow.conn.execute(
        "INSERT INTO loan_repayments (tenant_id, id, loan_id, request_id, amount_fen, paid_on, principal_fen,"
        " interest_fen, recorded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        uow.tenant, row.id, row.loan_id, row.request_id, row.amount_fen, row.paid_on, row.principal_fen,
        row.interest_fen, row.recorded_by, row.created_at)


async def repayments(uow: UnitOfWork, *, loan_id: str) -> list[RepaymentRow]:
    """A loan's repayments, oldest first."""
    rows = await uow.conn.fetch(
        f"SELECT {REPAYMENT_COLUMNS} FROM loan_repayments WHERE tenant_id = $1 AND loan_id = $2"
        " ORDER BY paid_on, created_at, id", uow.tenant, loan_id)
    return [RepaymentRow.from_record(r) for r in rows]


def new_repayment_id() -> str:
    """A fresh repayment id."""
    return str(uuid.uuid4())


async def repaying_loans(uow: UnitOfWork, *, today: date, horizon_days: int) -> list[str]:
    """The county's loans being repaid (DISBURSED) not yet swept ``today`` whose standing may change or owe a
    reminder: a due date within ``horizon_days`` or passed, an overdue amount, or a standing never computed."""
    rows = await uow.conn.fetch(
        "SELECT id FROM loans WHERE tenant_id = $1 AND status = 6 AND (swept_on IS NULL OR swept_on < $2)"
        " AND (next_due_date IS NULL OR next_due_date <= $2 + $3::integer OR overdue_fen > 0) ORDER BY id",
        uow.tenant, today, horizon_days)
    return [str(r["id"]) for r in rows]


async def mark_swept(uow: UnitOfWork, *, loan_id: str, today: date) -> None:
    """Record that the loan's standing and reminders are done for ``today``."""
    await uow.conn.execute("UPDATE loans SET swept_on = $3 WHERE tenant_id = $1 AND id = $2", uow.tenant, loan_id,
                           today)


async def mark_reminded(uow: UnitOfWork, *, loan_id: str, seq: int, kind: str, at: datetime) -> bool:
    """Claim a reminder (loan, seq, kind); False when it was already sent."""
    status = await uow.conn.execute(
        "INSERT INTO loan_reminders (tenant_id, loan_id, seq, kind, sent_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT DO NOTHING", uow.tenant, loan_id, seq, kind, at)
    return bool(status.endswith(" 1"))


async def claim_lines(uow: UnitOfWork, *, start: date, end: date, programme_id: str | None,
                      bank_code: str | None) -> list[ClaimRow]:
    """The instalments with 贴息 due in [start, end] of disbursed or settled loans, by due date and loan number."""
    rows = await uow.conn.fetch(
        "SELECT l.id AS loan_id, l.number, p.name AS programme_name, p.bank_name, l.member_name,"
        " i.seq, i.due_date, i.interest_fen, i.subsidy_fen, i.principal_fen + i.balance_after_fen AS opening,"
        " (i.paid_principal_fen >= i.principal_fen"
        "  AND i.paid_interest_fen >= i.interest_fen - i.subsidy_fen) AS paid"
        " FROM loan_instalments i"
        " JOIN loans l ON l.tenant_id = i.tenant_id AND l.id = i.loan_id"
        " JOIN loan_programmes p ON p.tenant_id = l.tenant_id AND p.id = l.programme_id"
        " WHERE i.tenant_id = $1 AND i.due_date BETWEEN $2 AND $3 AND i.subsidy_fen > 0 AND l.status IN (6, 7)"
        " AND ($4::uuid IS NULL OR l.programme_id = $4) AND ($5::text IS NULL OR p.bank_code = $5)"
        " ORDER BY i.due_date, l.number, i.seq",
        uow.tenant, start, end, programme_id, bank_code)
    return [ClaimRow(loan_id=str(r["loan_id"]), loan_number=r["number"], programme_name=r["programme_name"],
                     bank_name=r["bank_name"], member_name=r["member_name"], opening_balance_fen=r["opening"],
                     seq=r["seq"], due_date=r["due_date"], interest_fen=r["interest_fen"],
                     subsidy_fen=r["subsidy_fen"], paid=r["paid"]) for r in rows]
