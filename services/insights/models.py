"""Insights persistence model: the per-county member counter and the per-flow facts."""

from __future__ import annotations

from typing import Any

import asyncpg

from jinqiao.insights.domain import CountyCount, FlowState, LoanFacts, LoanFigures

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


# ------------------------------------------------------------------------------------------------ loans

LOAN_FACTS = "loan_facts"
# The merged facts, in the order ``loan_facts_values`` gives them (after tenant_id and loan_id).
LOAN_FACT_COLUMNS = (
    "programme_id", "product", "shared_code", "programme_name", "applied", "approved", "refused", "withdrawn",
    "disbursed", "settled", "amount_fen", "subsidy_fen", "outstanding_fen", "overdue_fen", "overdue", "figures_at",
)
# Derived from the facts by the domain and stored so the aggregates only group and add.
LOAN_DERIVED_COLUMNS = ("programme_key", "state", "known", "outstanding_now_fen", "overdue_now_fen")


def loan_facts_from_record(record: asyncpg.Record) -> LoanFacts:
    """Map a ``loan_facts`` row to the merged facts (no figures until an event gave some)."""
    figures = None
    if record["figures_at"] is not None:
        figures = LoanFigures(at=record["figures_at"], outstanding_fen=record["outstanding_fen"],
                              overdue_fen=record["overdue_fen"], overdue=record["overdue"])
    return LoanFacts(**{c: record[c] for c in LOAN_FACT_COLUMNS[:12]}, figures=figures)


def loan_facts_values(facts: LoanFacts) -> list[Any]:
    """The row values of merged facts: the merged columns, then the derived ones."""
    plain = [getattr(facts, c) for c in LOAN_FACT_COLUMNS[:12]]
    figures = facts.figures
    raw: list[Any] = [0, 0, False, None]
    if figures is not None:
        raw = [figures.outstanding_fen, figures.overdue_fen, figures.overdue, figures.at]
    return [*plain, *raw, facts.programme_key, facts.state.value, facts.known, facts.outstanding_fen,
            facts.overdue_fen]
