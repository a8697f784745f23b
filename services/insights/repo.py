"""Insights repository."""

from __future__ import annotations

from jinqiao.insights.domain import CountyCount
from jinqiao.insights.models import county_count_from_record
from jinqiao.kit.db import UnitOfWork


async def add_members(uow: UnitOfWork, *, count: int) -> None:
    """Add to the unit of work's county counter."""
    await uow.conn.execute(
        "INSERT INTO member_counts (tenant_id, members, updated_at) VALUES ($1, $2, now())"
        " ON CONFLICT (tenant_id) DO UPDATE SET members = member_counts.members + EXCLUDED.members,"
        " updated_at = now()",
        uow.tenant, count,
    )


async def member_counts(uow: UnitOfWork) -> list[CountyCount]:
    """Every county counter the scope's RLS lets through, by county code."""
    records = await uow.conn.fetch("SELECT tenant_id, members, updated_at FROM member_counts ORDER BY tenant_id")
    return [county_count_from_record(r) for r in records]
