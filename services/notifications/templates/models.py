"""Templates' persistence model: a row of ``templates`` (one county version of one kind × channel)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from jinqiao.notifications.templates.domain import TemplateView

TEMPLATES = "templates"


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """One county version; at most one per kind × channel is active (``templates_one_active``)."""

    tenant_id: str
    kind: str
    channel: int
    version: int
    subject: str
    body: str
    active: bool
    created_by: str
    created_at: datetime

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> TemplateRow:
        """Map a ``SELECT * FROM templates`` row."""
        return cls(tenant_id=record["tenant_id"], kind=record["kind"], channel=int(record["channel"]),
                   version=int(record["version"]), subject=record["subject"], body=record["body"],
                   active=bool(record["active"]), created_by=record["created_by"], created_at=record["created_at"])

    def view(self) -> TemplateView:
        """The county version as the use cases and the wire see it."""
        return TemplateView(kind=self.kind, channel=self.channel, subject=self.subject, body=self.body,
                            version=self.version, overridden=True, active=self.active, updated_at=self.created_at,
                            updated_by=self.created_by)
