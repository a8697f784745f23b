"""Escalations' persistence model: a row of ``escalations`` (with its org's name joined) as the domain's
Escalation."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from jinqiao.notifications.escalations.domain import COUNTY_OFFICE_LABEL, Escalation, EscalationState

ESCALATIONS = "escalations"
# The columns a read selects: the row and the name of the org its office sits at ('' for the county seat).
SELECT = ("SELECT e.*, coalesce(o.name, '') AS org_name FROM escalations e"
          " LEFT JOIN dir_orgs o ON o.tenant_id = e.tenant_id AND o.id = e.org_id")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def from_record(record: asyncpg.Record) -> Escalation:
    """Map a row selected with ``SELECT`` (uuids as text, jsonb as a dict)."""
    facts = record["facts"]
    # The county seat sits at no org of the tree: it is the county department.
    org_name = record["org_name"] or (COUNTY_OFFICE_LABEL if record["org_id"] is None else "")
    if isinstance(facts, str):
        facts = json.loads(facts)
    return Escalation(
        id=str(record["id"]), kind=record["kind"], subject_type=record["subject_type"],
        subject_id=record["subject_id"], member_id=_text(record["member_id"]),
        state=EscalationState(record["state"]), level=record["level"], audience=record["audience"],
        start_org_id=_text(record["start_org_id"]), org_id=_text(record["org_id"]), org_name=org_name,
        facts={str(k): str(v) for k, v in (facts or {}).items()}, opened_at=record["opened_at"],
        next_escalation_at=record["next_escalation_at"], acknowledged_at=record["acknowledged_at"],
        acknowledged_by=record["acknowledged_by"], note=record["note"], resolved_at=record["resolved_at"],
        version=record["version"])
