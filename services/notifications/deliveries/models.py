"""Deliveries' persistence model: a row of ``deliveries`` (the address sealed) and the sealed column's declaration
for the key rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn

DELIVERIES = "deliveries"
# The opened address (e-mail, phone) is sealed bound to (tenant, "deliveries", "destination_enc", delivery id).
DESTINATION_BINDING = "destination_enc"
ENCRYPTED_COLUMNS = (EncryptedColumn(table=DELIVERIES, column="destination_enc", bound_as=DESTINATION_BINDING),)
# Every column but the sealed address: what the log shows.
LOG_COLUMNS = ("id, kind, category, urgent, channel, recipient, recipient_label, destination_masked, subject, link,"
               " status, hold_reason, attempts, next_attempt_at, last_error, event_id, created_at, sent_at,"
               " delivered_at")
# The columns one inserted row carries, in the order of ``NewDelivery``.
INSERT_COLUMNS = ("id", "idempotency_key", "source_key", "event_id", "kind", "category", "urgent", "channel",
                  "recipient", "recipient_label", "destination_enc", "destination_masked", "subject", "body", "link",
                  "escalation_id", "level", "status", "hold_reason", "next_attempt_at", "created_at", "sent_at",
                  "delivered_at")
INSERT_TYPES = ("uuid", "text", "text", "text", "text", "text", "boolean", "smallint", "text", "text", "bytea", "text",
                "text", "text", "text", "uuid", "integer", "smallint", "text", "timestamptz", "timestamptz",
                "timestamptz", "timestamptz")


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """One row to insert (the address already sealed with this row's id)."""

    id: str
    idempotency_key: str
    source_key: str
    event_id: str
    kind: str
    category: str
    urgent: bool
    channel: int
    recipient: str
    recipient_label: str
    destination_enc: bytes | None
    destination_masked: str
    subject: str
    body: str
    link: str
    escalation_id: str | None
    level: int
    status: int
    hold_reason: str
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery as the log shows it (never the address)."""

    id: str
    kind: str
    category: str
    urgent: bool
    channel: int
    recipient: str
    recipient_label: str
    destination_masked: str
    subject: str
    link: str
    status: int
    hold_reason: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    event_id: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> DeliveryRow:
        """Map the log columns (uuid as text)."""
        return cls(id=str(record["id"]), kind=record["kind"], category=record["category"], urgent=record["urgent"],
                   channel=int(record["channel"]), recipient=record["recipient"],
                   recipient_label=record["recipient_label"], destination_masked=record["destination_masked"],
                   subject=record["subject"], link=record["link"], status=int(record["status"]),
                   hold_reason=record["hold_reason"], attempts=int(record["attempts"]),
                   next_attempt_at=record["next_attempt_at"], last_error=record["last_error"],
                   event_id=record["event_id"], created_at=record["created_at"], sent_at=record["sent_at"],
                   delivered_at=record["delivered_at"])


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row the worker leased to send: what it needs to build the message (the address still sealed)."""

    id: str
    idempotency_key: str
    channel: int
    recipient: str
    destination_enc: bytes | None
    subject: str
    body: str
    attempts: int

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Claimed:
        """Map a claimed row."""
        return cls(id=str(record["id"]), idempotency_key=record["idempotency_key"], channel=int(record["channel"]),
                   recipient=record["recipient"], destination_enc=record["destination_enc"],
                   subject=record["subject"], body=record["body"], attempts=int(record["attempts"]))


@dataclass(frozen=True, slots=True)
class Held:
    """A row waiting for the digest (to be folded)."""

    id: str
    channel: int
    recipient: str
    recipient_label: str
    category: str
    destination_enc: bytes | None
    destination_masked: str
    subject: str
    body: str
    created_at: datetime
    next_attempt_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Held:
        """Map a held row."""
        return cls(id=str(record["id"]), channel=int(record["channel"]), recipient=record["recipient"],
                   recipient_label=record["recipient_label"], category=record["category"],
                   destination_enc=record["destination_enc"], destination_masked=record["destination_masked"],
                   subject=record["subject"], body=record["body"], created_at=record["created_at"],
                   next_attempt_at=record["next_attempt_at"])
