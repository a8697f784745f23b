"""Tickets' persistence model: the row of ``tickets`` (columns as migration 0004 made them) and its mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

TICKETS = "tickets"


@dataclass(frozen=True, slots=True)
class TicketRow:
    """One row of ``tickets`` (CONTRACT, issue 13: every concept reads tickets through this)."""

    tenant_id: str
    id: str
    number: str
    category: str
    category_name: str
    category_group: str
    status: int
    priority: int
    channel: int
    member_home_tenant_id: str
    member_id: str
    member_name: str
    serving_org_id: str | None
    title: str
    description: str
    form: dict[str, Any]
    assignee: str
    assignee_name: str
    filed_by: str
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: str
    close_reason: str
    rating: int | None
    rating_comment: str
    rated_at: datetime | None
    reopen_until: datetime | None
    reopened_count: int
    sla_policy: dict[str, Any]
    first_response_due: datetime | None
    first_response_at: datetime | None
    assignment_due: datetime | None
    assigned_at: datetime | None
    update_due: datetime | None
    last_update_at: datetime | None
    resolution_due: datetime | None
    paused_at: datetime | None
    paused_minutes: int
    next_sla_check: datetime | None
    escalated: bool
    escalated_to_org_id: str | None
    incoming_referral_id: str | None
    referred_from_tenant_id: str
    outgoing_referral_id: str | None
    outgoing_referral_status: str
    version: int

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> TicketRow:
        """Map a ``SELECT * FROM tickets`` row (uuids as text, jsonb as dicts)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = record[f.name]
            if f.name in ("id", "member_id", "serving_org_id", "escalated_to_org_id", "incoming_referral_id",
                          "outgoing_referral_id") and value is not None:
                value = str(value)
            elif f.name in ("form", "sla_policy") and isinstance(value, str):
                value = json.loads(value)
            values[f.name] = value
        return cls(**values)
