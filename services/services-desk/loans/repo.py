"""Loans: SQL over ``loans`` and ``loan_steps`` (keyed by ``uow.tenant``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from jinqiao.desk.loans.models import LOAN_COLUMNS, LoanRow
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
