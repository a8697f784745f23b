"""Referrals' persistence model: the row of ``ticket_referrals`` (one on each side) and its mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

REFERRALS = "ticket_referrals"
_UUIDS = ("id", "ticket_id", "origin_ticket_id", "to_org_id", "member_id", "remote_ticket_id")


@dataclass(frozen=True, slots=True)
class ReferralRow:
    """One row of ``ticket_referrals``: the sender's (``incoming`` false) or the receiver's (true)."""

    tenant_id: str
    id: str
    incoming: bool
    # Outgoing: the referred ticket; incoming: the ticket opened here on acceptance (None until then).
    ticket_id: str | None
    origin_ticket_id: str
    from_tenant_id: str
    to_tenant_id: str
    to_org_id: str | None
    direction: int
    status: int
    category: str
    member_home_tenant_id: str
    member_id: str
    member_name: str
    title: str
    summary: str
    form: dict[str, Any]
    reason: str
    decline_reason: str
    respond_by: datetime
    answered_at: datetime | None
    attempt: int
    remote_ticket_id: str | None
    remote_org_name: str
    resolution: str
    request_id: str | None
    # The trace of the referral's first step: every later event of the saga continues it.
    traceparent: str
    created_at: datetime
    version: int

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> ReferralRow:
        """Map a ``SELECT * FROM ticket_referrals`` row (uuids as text, jsonb as a dict)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = record[f.name]
            if f.name in _UUIDS and value is not None:
                value = str(value)
            elif f.name == "form" and isinstance(value, str):
                value = json.loads(value)
            values[f.name] = value
        return cls(**values)

    def values(self) -> tuple[object, ...]:
        """The column values in REFERRAL_FIELDS order (the form as JSON text)."""
        return tuple(json.dumps(self.form, ensure_ascii=False) if name == "form" else getattr(self, name)
                     for name in REFERRAL_FIELDS)


REFERRAL_FIELDS = tuple(f.name for f in fields(ReferralRow))
REFERRAL_COLUMNS = ", ".join(REFERRAL_FIELDS)
