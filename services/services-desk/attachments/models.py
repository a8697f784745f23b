"""Attachments' persistence model: a row of ``ticket_attachments`` (meta; the sealed content stays in SQL) and the
sealed column's declaration for the key rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn

TICKET_ATTACHMENTS = "ticket_attachments"
# The content is sealed bound to (tenant, "ticket_attachments", "content", attachment id).
CONTENT_BINDING = "content"
ENCRYPTED_COLUMNS = (EncryptedColumn(table=TICKET_ATTACHMENTS, column="content_enc", bound_as=CONTENT_BINDING,
                                     binary=True),)
META_COLUMNS = "id, ticket_id, filename, content_type, size_bytes, sha256, uploaded_by, created_at"


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    """A file attached to a ticket, without its content."""

    id: str
    ticket_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    created_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> AttachmentRow:
        """Map the meta columns (uuids as text)."""
        return cls(id=str(record["id"]), ticket_id=str(record["ticket_id"]), filename=record["filename"],
                   content_type=record["content_type"], size_bytes=int(record["size_bytes"]),
                   sha256=record["sha256"], uploaded_by=record["uploaded_by"], created_at=record["created_at"])
