"""Attachments' SQL (RLS scopes it to one county)."""

from __future__ import annotations

from jinqiao.desk.attachments.models import META_COLUMNS, AttachmentRow
from jinqiao.kit.db import UnitOfWork


async def count_for_ticket(uow: UnitOfWork, *, ticket_id: str) -> int:
    """How many files a ticket has."""
    value: int = await uow.conn.fetchval(
        "SELECT count(*) FROM ticket_attachments WHERE tenant_id = $1 AND ticket_id = $2", uow.tenant, ticket_id)
    return int(value)


async def counts(uow: UnitOfWork, *, ticket_ids: list[str]) -> dict[str, int]:
    """Files per ticket, for the tickets that have any."""
    rows = await uow.conn.fetch(
        "SELECT ticket_id::text AS ticket_id, count(*) AS n FROM ticket_attachments WHERE tenant_id = $1"
        " AND ticket_id = ANY($2::uuid[]) GROUP BY ticket_id", uow.tenant, ticket_ids)
    return {r["ticket_id"]: int(r["n"]) for r in rows}


async def insert(uow: UnitOfWork, *, row: AttachmentRow, content_enc: bytes) -> None:
    """Store a file's meta and sealed content."""
    await uow.conn.execute(
        "INSERT INTO ticket_attachments (tenant_id, id, ticket_id, filename, content_type, size_bytes, sha256,"
        " content_enc, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        uow.tenant, row.id, row.ticket_id, row.filename, row.content_type, row.size_bytes, row.sha256, content_enc,
        row.uploaded_by, row.created_at)


async def get(uow: UnitOfWork, *, ticket_id: str, attachment_id: str) -> tuple[AttachmentRow, bytes] | None:
    """A ticket's file with its sealed content, or None."""
    record = await uow.conn.fetchrow(
        f"SELECT {META_COLUMNS}, content_enc FROM ticket_attachments WHERE tenant_id = $1 AND id = $2"
        " AND ticket_id = $3", uow.tenant, attachment_id, ticket_id)
    if record is None:
        return None
    return AttachmentRow.from_record(record), bytes(record["content_enc"])


async def list_for_ticket(uow: UnitOfWork, *, ticket_id: str) -> list[AttachmentRow]:
    """A ticket's files, oldest first (meta only)."""
    rows = await uow.conn.fetch(
        f"SELECT {META_COLUMNS} FROM ticket_attachments WHERE tenant_id = $1 AND ticket_id = $2"
        " ORDER BY created_at, id", uow.tenant, ticket_id)
    return [AttachmentRow.from_record(r) for r in rows]

