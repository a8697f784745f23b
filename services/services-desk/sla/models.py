"""Sla's persistence model: the SLA columns of a ``tickets`` row as the clocks need them."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from jinqiao.desk.sla.domain import SlaPolicy, TicketSla

MARKS = "ticket_sla_marks"
# What the sweep reads of a ticket: its SLA columns and what its events name.
SWEEP_COLUMNS = (
    "id, status, category, serving_org_id, assignee, version, escalated, escalated_to_org_id, created_at,"
    " sla_policy, first_response_due, first_response_at, assignment_due, assigned_at, update_due, last_update_at,"
    " resolution_due, resolved_at, closed_at, paused_at, paused_minutes, reopened_count"
)


def sla_from_record(record: asyncpg.Record | Any) -> TicketSla:
    """A ticket's clocks from its row (a ``tickets`` record or a TicketRow)."""
    get = record.__getitem__ if isinstance(record, asyncpg.Record) else lambda k: getattr(record, k)
    policy = get("sla_policy")
    if isinstance(policy, str):
        policy = json.loads(policy)
    return TicketSla(
        policy=SlaPolicy.from_json(policy or {}), opened_at=get("created_at"),
        first_response_due=get("first_response_due"), first_response_at=get("first_response_at"),
        assignment_due=get("assignment_due"), assigned_at=get("assigned_at"), update_due=get("update_due"),
        last_update_at=get("last_update_at"), resolution_due=get("resolution_due"), resolved_at=get("resolved_at"),
        paused_at=get("paused_at"), paused_minutes=get("paused_minutes"), closed=get("closed_at") is not None,
        reopened_count=get("reopened_count"),
    )
