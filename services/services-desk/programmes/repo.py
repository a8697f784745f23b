"""Programmes: SQL over ``loan_programmes`` (keyed by ``uow.tenant``)."""

from __future__ import annotations

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
