"""Templates repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.templates.models import TemplateRow


async def active(uow: UnitOfWork, *, kind: str, channel: int) -> TemplateRow | None:
    """The county's version in use of ``kind`` × ``channel``, or None (the default is used)."""
    record = await uow.conn.fetchrow("SELECT * FROM templates WHERE kind = $1 AND channel = $2 AND active",
                                     kind, channel)
    return TemplateRow.from_record(record) if record else None


async def all_active(uow: UnitOfWork) -> list[TemplateRow]:
    """Every version the county has in use."""
    records = await uow.conn.fetch("SELECT * FROM templates WHERE active ORDER BY kind, channel")
    return [TemplateRow.from_record(r) for r in records]


async def versions(uow: UnitOfWork, *, kind: str, channel: int) -> list[TemplateRow]:
    """The county's versions of ``kind`` × ``channel``, newest first."""
    records = await uow.conn.fetch("SELECT * FROM templates WHERE kind = $1 AND channel = $2 ORDER BY version DESC",
                                   kind, channel)
    return [TemplateRow.from_record(r) for r in records]


async def lock(uow: UnitOfWork, *, kind: str, channel: int) -> None:
    """Serialise saves and resets of one kind × channel in this county until the transaction ends."""
    # Two saves at once would both pick max+1 and the second would die on the primary key.
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           f"notifications.template:{uow.tenant}:{kind}:{channel}")


async def deactivate(uow: UnitOfWork, *, kind: str, channel: int) -> int:
    """Take the county's versions of ``kind`` × ``channel`` out of use (kept as history); how many were active."""
    status = await uow.conn.execute("UPDATE templates SET active = false WHERE kind = $1 AND channel = $2 AND active",
                                    kind, channel)
    return int(status.rsplit(" ", 1)[-1])


async def insert_next(uow: UnitOfWork, *, kind: str, channel: int, subject: str, body: str,
                      created_by: str) -> TemplateRow:
    """Keep a new active version (max + 1) of ``kind`` × ``channel``; call ``deactivate`` first."""
    record = await uow.conn.fetchrow(
        "INSERT INTO templates (tenant_id, kind, channel, version, subject, body, active, created_by)"
        " SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, true, $6"
        " FROM templates WHERE kind = $2 AND channel = $3 RETURNING *",
        uow.tenant, kind, channel, subject, body, created_by)
    assert record is not None
    return TemplateRow.from_record(record)
