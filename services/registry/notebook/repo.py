"""Notebook repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from datetime import date

from jinqiao.kit.db import UnitOfWork
from jinqiao.registry.notebook.domain import Activity, Evaluation
from jinqiao.registry.notebook.models import activity_from_record, evaluation_from_record

# ------------------------------------------------------------------------------------------------ 活动记事本


async def insert_activity(uow: UnitOfWork, *, activity_id: str, member_id: str, flow_id: str | None,
                          occurred_on: date, title: str, note: str, org_name: str, source: str) -> None:
    """Add a 活动记事本 entry checked by the organisation that reported it (idempotent by id)."""
    await uow.conn.execute(
        "INSERT INTO activities (tenant_id, id, member_id, flow_id, occurred_on, title, note, org_name, source,"
        " verified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true) ON CONFLICT DO NOTHING",
        uow.tenant, activity_id, member_id, flow_id, occurred_on, title, note, org_name, source,
    )


async def activities(uow: UnitOfWork, *, member_id: str) -> list[Activity]:
    """A member's 活动记事本, newest first."""
    records = await uow.conn.fetch(
        "SELECT * FROM activities WHERE member_id = $1 ORDER BY occurred_on DESC, created_at DESC", member_id
    )
    return [activity_from_record(r) for r in records]


# ------------------------------------------------------------------------------------------------ 双向评议


async def save_destination_assessment(uow: UnitOfWork, *, member_id: str, year: int, grade: int, comment: str,
                                      org_name: str) -> None:
    """The destination's side of a yearly evaluation."""
    await uow.conn.execute(
        "INSERT INTO evaluations (tenant_id, member_id, year, destination_grade, destination_comment,"
        " destination_org_name) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, member_id, year) DO UPDATE"
        " SET destination_grade = $4, destination_comment = $5, destination_org_name = $6, updated_at = now()",
        uow.tenant, member_id, year, grade, comment, org_name,
    )


async def save_home_assessment(uow: UnitOfWork, *, member_id: str, year: int, grade: int, comment: str) -> None:
    """The home branch's side of a yearly evaluation."""
    await uow.conn.execute(
        "INSERT INTO evaluations (tenant_id, member_id, year, home_grade, home_comment) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id, member_id, year) DO UPDATE SET home_grade = $4, home_comment = $5,"
        " updated_at = now()",
        uow.tenant, member_id, year, grade, comment,
    )


async def evaluations(uow: UnitOfWork, *, member_id: str) -> list[Evaluation]:
    """A member's yearly evaluations, newest first."""
    records = await uow.conn.fetch("SELECT * FROM evaluations WHERE member_id = $1 ORDER BY year DESC", member_id)
    return [evaluation_from_record(r) for r in records]
