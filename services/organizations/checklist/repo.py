"""The 七有 checklist's persistence."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.organizations.checklist.domain import Entry, Item
from jinqiao.organizations.checklist.models import entry_from_record


async def entries(uow: UnitOfWork, *, org_id: str) -> dict[Item, Entry]:
    """The recorded 七有 items of a branch."""
    records = await uow.conn.fetch(
        "SELECT item, done, evidence, updated_at FROM checklist_items WHERE org_id = $1", org_id
    )
    found = [entry_from_record(r) for r in records]
    return {entry.item: entry for entry in found}


async def set_item(uow: UnitOfWork, *, org_id: str, item: Item, done: bool, evidence: str, actor: str) -> None:
    """Record one item's state."""
    await uow.conn.execute(
        "INSERT INTO checklist_items (tenant_id, org_id, item, done, evidence, updated_by) VALUES ($1, $2, $3, $4,"
        " $5, $6) ON CONFLICT (tenant_id, org_id, item) DO UPDATE SET done = EXCLUDED.done,"
        " evidence = EXCLUDED.evidence, updated_by = EXCLUDED.updated_by, updated_at = now()",
        uow.tenant, org_id, int(item), done, evidence, actor,
    )
