"""Categories: SQL over the unit of work's connection."""

from __future__ import annotations

from jinqiao.desk.categories.domain import DEFAULTS, Category
from jinqiao.desk.categories.models import category_from_record, fields_json, sla_json
from jinqiao.kit.db import UnitOfWork

_INSERT = (
    "INSERT INTO ticket_categories (tenant_id, code, name, grp, fields, default_queue, priority, sla, enabled,"
    " reopen_days, position) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9, $10, $11)"
    " ON CONFLICT (tenant_id, code) DO NOTHING"
)


async def ensure_defaults(uow: UnitOfWork) -> None:
    """Write the default categories for the county on its first use (a county's own changes are kept)."""
    if await uow.conn.fetchval("SELECT count(*) FROM ticket_categories") >= len(DEFAULTS):
        return
    await uow.conn.executemany(_INSERT, [
        (uow.tenant, c.code, c.name, c.group, fields_json(c), c.default_queue, c.priority, sla_json(c), c.enabled,
         c.reopen_days, c.position) for c in DEFAULTS])


async def categories(uow: UnitOfWork, *, include_disabled: bool) -> list[Category]:
    """The county's categories in their order."""
    where = "" if include_disabled else " WHERE enabled"
    return [category_from_record(r) for r in await uow.conn.fetch(
        f"SELECT * FROM ticket_categories{where} ORDER BY position, code")]


async def category(uow: UnitOfWork, *, code: str, for_update: bool = False) -> Category | None:
    """One category of the county, or None."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(f"SELECT * FROM ticket_categories WHERE code = $1{lock}", code)
    return category_from_record(record) if record else None


async def update(uow: UnitOfWork, *, category: Category) -> Category:
    """Store a changed category (version + 1)."""
    record = await uow.conn.fetchrow(
        "UPDATE ticket_categories SET name = $2, fields = $3::jsonb, default_queue = $4, priority = $5,"
        " sla = $6::jsonb, enabled = $7, reopen_days = $8, version = version + 1, updated_at = now()"
        " WHERE code = $1 RETURNING *",
        category.code, category.name, fields_json(category), category.default_queue, category.priority,
        sla_json(category), category.enabled, category.reopen_days)
    return category_from_record(record)
