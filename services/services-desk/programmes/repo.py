"""Programmes: SQL over ``loan_programmes`` (keyed by ``uow.tenant``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinqiao.desk.programmes.domain import Programme
from jinqiao.desk.programmes.models import PROGRAMME_COLUMNS, programme_from_record
from jinqiao.kit.db import UnitOfWork


async def get(uow: UnitOfWork, *, programme_id: str, for_update: bool = False) -> Programme | None:
    """CONTRACT: one programme of the county, or None."""
    lock = " FOR UPDATE" if for_update else ""
    r = await uow.conn.fetchrow(
        f"SELECT {PROGRAMME_COLUMNS} FROM loan_programmes WHERE tenant_id = $1 AND id = $2{lock}",
        uow.tenant, programme_id)
    return None if r is None else programme_from_record(r)


async def commit_quota(uow: UnitOfWork, *, programme_id: str, amount_fen: int) -> bool:
    """CONTRACT: commit ``amount_fen`` of the programme's quota; False (nothing changed) when it would overrun.

    One statement: concurrent approvals queue on the row's lock and each re-reads the committed amount, so no
    interleaving passes the quota (and the table's CHECK refuses it even if a caller got this wrong)."""
    done = await uow.conn.fetchval(
        "UPDATE loan_programmes SET committed_fen = committed_fen + $3 WHERE tenant_id = $1 AND id = $2"
        " AND committed_fen + $3 <= total_quota_fen RETURNING true",
        uow.tenant, programme_id, amount_fen)
    return bool(done)


async def release_quota(uow: UnitOfWork, *, programme_id: str, amount_fen: int) -> None:
    """CONTRACT: give ``amount_fen`` back to the programme's quota (a bank's decline, a lower grant, withdrawal)."""
    await uow.conn.execute(
        "UPDATE loan_programmes SET committed_fen = greatest(committed_fen - $3, 0) WHERE tenant_id = $1 AND id = $2",
        uow.tenant, programme_id, amount_fen)


async def by_request_id(uow: UnitOfWork, *, request_id: str) -> Programme | None:
    """The programme a create request with this id made, or None."""
    r = await uow.conn.fetchrow(
        f"SELECT {PROGRAMME_COLUMNS} FROM loan_programmes WHERE tenant_id = $1 AND request_id = $2",
        uow.tenant, request_id)
    return None if r is None else programme_from_record(r)


async def list_all(uow: UnitOfWork, *, bank_code: str | None = None) -> list[Programme]:
    """The county's programmes (only one bank's when ``bank_code`` is given), open ones first, newest first."""
    rows = await uow.conn.fetch(
        f"SELECT {PROGRAMME_COLUMNS} FROM loan_programmes WHERE tenant_id = $1"
        " AND ($2::text IS NULL OR bank_code = $2) ORDER BY active DESC, window_start DESC, created_at DESC, id",
        uow.tenant, bank_code)
    return [programme_from_record(r) for r in rows]


_TERM_COLUMNS = (
    "name", "description", "product", "sponsor", "shared_code", "bank_code", "bank_name", "cap_per_person_fen",
    "min_amount_fen", "max_term_months", "methods", "rate_bp", "subsidy_bp", "total_quota_fen", "window_start",
    "window_end", "rules", "township_final_up_to_fen", "review_days", "bank_days", "active",
)


def _term_values(terms: Mapping[str, Any]) -> list[Any]:
    return [terms[c] for c in _TERM_COLUMNS]


async def insert(uow: UnitOfWork, *, programme_id: str, terms: Mapping[str, Any], request_id: str | None,
                 created_by: str, at: datetime) -> Programme | None:
    """Insert a programme; None when a concurrent create with the same request id got there first."""
    names = ", ".join(_TERM_COLUMNS)
    params = ", ".join(f"${i}" + ("::jsonb" if c == "rules" else "")
                       for i, c in enumerate(_TERM_COLUMNS, start=6))
    r = await uow.conn.fetchrow(
        f"INSERT INTO loan_programmes (tenant_id, id, request_id, created_by, created_at, updated_at, {names})"
        f" VALUES ($1, $2, $3, $4, $5, $5, {params})"
        f" ON CONFLICT (tenant_id, request_id) DO NOTHING RETURNING {PROGRAMME_COLUMNS}",
        uow.tenant, programme_id, request_id, created_by, at, *_term_values(terms))
    return None if r is None else programme_from_record(r)


async def replace_terms(uow: UnitOfWork, *, programme_id: str, terms: Mapping[str, Any], at: datetime) -> Programme:
    """Replace a programme's terms (the caller holds its row lock and checked the version); version + 1."""
    sets = ", ".join(f"{c} = ${i}" + ("::jsonb" if c == "rules" else "")
                     for i, c in enumerate(_TERM_COLUMNS, start=4))
    r = await uow.conn.fetchrow(
        f"UPDATE loan_programmes SET {sets}, updated_at = $3, version = version + 1"
        f" WHERE tenant_id = $1 AND id = $2 RETURNING {PROGRAMME_COLUMNS}",
        uow.tenant, programme_id, at, *_term_values(terms))
    assert r is not None
    return programme_from_record(r)
