"""The inbox's persistence model: an in-app ``deliveries`` row as one viewer sees it (their marks, the escalation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

# The columns an inbox query selects (``d`` deliveries, ``m`` the viewer's marks, ``e`` the escalation).
ITEM_COLUMNS = ("d.id, d.kind, d.category, d.urgent, d.subject, d.body, d.link, d.created_at, d.escalation_id,"
                " d.level, m.read_at, m.archived_at, coalesce(e.state <> 1, false) AS acknowledged")


@dataclass(frozen=True, slots=True)
class InboxItemRow:
    """One message in one viewer's inbox."""

    id: str
    kind: str
    category: str
    urgent: bool
    subject: str
    body: str
    link: str
    created_at: datetime
    escalation_id: str
    level: int
    read_at: datetime | None
    archived_at: datetime | None
    acknowledged: bool

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> InboxItemRow:
        """Map an inbox query's record (uuids as text)."""
        return cls(id=str(record["id"]), kind=record["kind"], category=record["category"], urgent=record["urgent"],
                   subject=record["subject"], body=record["body"], link=record["link"],
                   created_at=record["created_at"],
                   escalation_id=str(record["escalation_id"]) if record["escalation_id"] else "",
                   level=int(record["level"]), read_at=record["read_at"], archived_at=record["archived_at"],
                   acknowledged=bool(record["acknowledged"]))


@dataclass(frozen=True, slots=True)
class InboxSummary:
    """The bell: unread, urgent unread and the newest item (not archived)."""

    unread: int
    urgent_unread: int
    latest_id: str
    latest_at: datetime | None
