"""Inbox repository: the in-app deliveries addressed to a viewer's addresses, with that viewer's marks (RLS scopes
every statement to one county)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.inbox.models import ITEM_COLUMNS, InboxItemRow, InboxSummary

# The in-app rows of a set of addresses ($1); the deliveries_inbox index serves it.
_MINE = "d.channel = 1 AND d.recipient = ANY($1::text[])"
_MARKS = "LEFT JOIN inbox_marks m ON m.tenant_id = d.tenant_id AND m.delivery_id = d.id AND m.viewer = $2"
_FILTERS = {
    "": "m.archived_at IS NULL",
    "unread": "m.read_at IS NULL AND m.archived_at IS NULL",
    "archived": "m.archived_at IS NOT NULL",
}


async def page(uow: UnitOfWork, *, addresses: Sequence[str], viewer: str, filter: str, category: str,
               after: tuple[datetime, str] | None, limit: int) -> list[InboxItemRow]:
    """Up to ``limit`` items newest first, after the keyset position ``after`` (created_at, id)."""
    args: list[object] = [list(addresses), viewer]
    where = [_MINE, _FILTERS[filter]]
    if category:
        args.append(category)
        where.append(f"d.category = ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(d.created_at, d.id) < (${len(args) - 1}, ${len(args)}::uuid)")
    args.append(limit)
    records = await uow.conn.fetch(
        f"SELECT {ITEM_COLUMNS} FROM deliveries d {_MARKS}"
        " LEFT JOIN escalations e ON e.tenant_id = d.tenant_id AND e.id = d.escalation_id"
        f" WHERE {' AND '.join(where)} ORDER BY d.created_at DESC, d.id DESC LIMIT ${len(args)}", *args)
    return [InboxItemRow.from_record(r) for r in records]


async def summary(uow: UnitOfWork, *, addresses: Sequence[str], viewer: str) -> InboxSummary:
    """The bell in one query over the inbox index (archived items left out)."""
    record = await uow.conn.fetchrow(
        "SELECT count(*) FILTER (WHERE m.read_at IS NULL) AS unread,"
        " count(*) FILTER (WHERE m.read_at IS NULL AND d.urgent) AS urgent_unread,"
        " (array_agg(d.id ORDER BY d.created_at DESC, d.id DESC))[1] AS latest_id, max(d.created_at) AS latest_at"
        f" FROM deliveries d {_MARKS} WHERE {_MINE} AND m.archived_at IS NULL", list(addresses), viewer)
    assert record is not None
    return InboxSummary(unread=int(record["unread"]), urgent_unread=int(record["urgent_unread"]),
                        latest_id=str(record["latest_id"]) if record["latest_id"] else "",
                        latest_at=record["latest_at"])


async def mine(uow: UnitOfWork, *, addresses: Sequence[str], ids: Sequence[str]) -> set[str]:
    """Which of these ids are in-app rows addressed to these addresses."""
    records = await uow.conn.fetch(f"SELECT d.id FROM deliveries d WHERE {_MINE} AND d.id = ANY($2::uuid[])",
                                   list(addresses), list(ids))
    return {str(r["id"]) for r in records}


async def all_ids(uow: UnitOfWork, *, addresses: Sequence[str], viewer: str, filter: str) -> list[str]:
    """Every id of the inbox under a filter (for "mark all")."""
    records = await uow.conn.fetch(f"SELECT d.id FROM deliveries d {_MARKS} WHERE {_MINE} AND {_FILTERS[filter]}",
                                   list(addresses), viewer)
    return [str(r["id"]) for r in records]


async def set_read(uow: UnitOfWork, *, viewer: str, ids: Sequence[str], read: bool, at: datetime) -> int:
    """Mark the items read (or unread again) for this viewer; how many changed."""
    if read:
        status = await uow.conn.execute(
            "INSERT INTO inbox_marks (tenant_id, delivery_id, viewer, read_at)"
            " SELECT $1, id, $2, $4 FROM unnest($3::uuid[]) AS id"
            " ON CONFLICT (tenant_id, delivery_id, viewer) DO UPDATE SET read_at = EXCLUDED.read_at"
            " WHERE inbox_marks.read_at IS NULL", uow.tenant, viewer, list(ids), at)
    else:
        status = await uow.conn.execute(
            "UPDATE inbox_marks SET read_at = NULL WHERE viewer = $1 AND delivery_id = ANY($2::uuid[])"
            " AND read_at IS NOT NULL", viewer, list(ids))
    return int(status.rsplit(" ", 1)[-1])


async def set_archived(uow: UnitOfWork, *, viewer: str, ids: Sequence[str], archived: bool, at: datetime) -> int:
    """Archive the items (or take them out of the archive) for this viewer; how many changed."""
    if archived:
        status = await uow.conn.execute(
            "INSERT INTO inbox_marks (tenant_id, delivery_id, viewer, archived_at)"
            " SELECT $1, id, $2, $4 FROM unnest($3::uuid[]) AS id"
            " ON CONFLICT (tenant_id, delivery_id, viewer) DO UPDATE SET archived_at = EXCLUDED.archived_at"
            " WHERE inbox_marks.archived_at IS NULL", uow.tenant, viewer, list(ids), at)
    else:
        status = await uow.conn.execute(
            "UPDATE inbox_marks SET archived_at = NULL WHERE viewer = $1 AND delivery_id = ANY($2::uuid[])"
            " AND archived_at IS NOT NULL", viewer, list(ids))
    return int(status.rsplit(" ", 1)[-1])
