"""Insights persistence model: the per-county member counter and the per-flow facts."""

from __future__ import annotations

from typing import Any

import asyncpg

from jinqiao.insights.domain import CountyCount, FlowState

MEMBER_COUNTS = "member_counts"
FLOW_FACTS = "flow_facts"

# The merged state, in the order ``flow_state_values`` gives them (after tenant_id and flow_id).
FLOW_STATE_COLUMNS = (
    "registered", "month", "destination_code", "industry", "placement_attempt", "placing_tenant_id", "attempt",
    "offered", "placed", "refused", "checked_in", "membership_closed", "overdue", "closed",
)
# Derived from the state by the domain and stored so the aggregates only count.
FLOW_DERIVED_COLUMNS = ("status", "held", "overdue_pending")


def county_count_from_record(record: asyncpg.Record) -> CountyCount:
    """Map a ``member_counts`` row."""
    return CountyCount(tenant_id=record["tenant_id"], members=record["members"], updated_at=record["updated_at"])


def flow_state_from_record(record: asyncpg.Record) -> FlowState:
    """Map a ``flow_facts`` row to the merged state."""
    return FlowState(**{column: record[column] for column in FLOW_STATE_COLUMNS})


def flow_state_values(state: FlowState) -> list[Any]:
    """The row values of a state: the merged columns, then the derived ones."""
    merged = [getattr(state, column) for column in FLOW_STATE_COLUMNS]
    return [*merged, state.status.value, state.held_at_destination, state.overdue_pending]
