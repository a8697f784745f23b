"""The flow read model's merge, filters and figures, without a database."""

from __future__ import annotations

import itertools
import random
from functools import reduce

import pytest

from jinqiao.insights.domain import (
    Coverage,
    FlowFact,
    FlowMatrix,
    FlowState,
    FlowStatus,
    coverage_ratio,
    holds_at_destination,
    is_unorganised,
    matrix_filter,
    month_of,
)
from jinqiao.kit.errors import InvalidArgument

REGISTERED = FlowFact(attempt=1, registered=True, month="2026-03", destination_code="410102", industry="建筑业",
                      authoritative=True)
OFFERED_1 = FlowFact(attempt=1, offered=True, placed=True, destination_code="410102")
CHECKED_IN_1 = FlowFact(attempt=1, checked_in=True)
MEMBERSHIP_CLOSED_1 = FlowFact(attempt=1, membership_closed=True)
REDIRECTED_2 = FlowFact(attempt=2, destination_code="440100", industry="餐饮业", authoritative=True)
OFFERED_2_ONLINE = FlowFact(attempt=2, offered=True, placed=False, destination_code="440100")
OVERDUE = FlowFact(overdue=True, destination_code="410102", industry="建筑业")
CLOSED = FlowFact(closed=True, destination_code="440100", industry="餐饮业")


def fold(facts) -> FlowState:
    return reduce(FlowState.apply, facts, FlowState())


def test_the_sequence_in_order_ends_managed():
    state = fold([REGISTERED, OFFERED_1, CHECKED_IN_1])
    assert state.status is FlowStatus.MANAGED
    assert (state.destination_code, state.month, state.industry) == ("410102", "2026-03", "建筑业")
    assert state.held_at_destination and not state.overdue_pending


@pytest.mark.parametrize("facts", [
    [REGISTERED, OFFERED_1, CHECKED_IN_1, OVERDUE, MEMBERSHIP_CLOSED_1, REDIRECTED_2, OFFERED_2_ONLINE],
    [REGISTERED, OFFERED_1, CHECKED_IN_1, OVERDUE, CLOSED],
    [REGISTERED, FlowFact(attempt=1, refused=True), OFFERED_1, OVERDUE],
])
def test_every_order_and_any_duplicates_give_the_same_state(facts):
    expected = fold(facts)
    for order in itertools.permutations(facts):
        assert fold(order) == expected
    rng = random.Random(7)
    for _ in range(200):
        doubled = facts + rng.sample(facts, k=len(facts) // 2)
        rng.shuffle(doubled)
        assert fold(doubled) == expected


def test_a_check_in_before_its_offer_is_managed_and_offered():
    state = fold([CHECKED_IN_1, REGISTERED])
    assert state.status is FlowStatus.MANAGED and state.offered
    # The offer's rule arrives later and only then says whether an organisation at the destination holds them.
    assert not state.held_at_destination
    assert state.apply(OFFERED_1).held_at_destination


def test_a_newer_attempt_discards_the_answers_of_older_ones():
    state = fold([REGISTERED, OFFERED_1, CHECKED_IN_1, REDIRECTED_2])
    assert state.status is FlowStatus.WAITING
    assert (state.destination_code, state.industry, state.attempt) == ("440100", "餐饮业", 2)
    # An old attempt's answer arriving late changes nothing.
    assert state.apply(CHECKED_IN_1) == state
    assert state.apply(OFFERED_2_ONLINE).status is FlowStatus.OFFERED


def test_facts_before_the_registration_keep_a_row_the_registration_completes():
    early = fold([CLOSED, CHECKED_IN_1])
    assert not early.registered and early.destination_code == "440100"  # a hint, until the origin's word
    full = early.apply(REGISTERED)
    assert full.registered and (full.destination_code, full.month, full.industry) == ("410102", "2026-03", "建筑业")
    assert full.status is FlowStatus.CLOSED


def test_closed_is_terminal():
    state = fold([REGISTERED, CLOSED, REDIRECTED_2, OFFERED_2_ONLINE, FlowFact(attempt=2, checked_in=True)])
    assert state.status is FlowStatus.CLOSED and not state.held_at_destination and not state.overdue_pending


def test_overdue_counts_until_a_check_in_of_the_current_attempt():
    overdue = fold([REGISTERED, OVERDUE])
    assert overdue.overdue_pending
    assert not overdue.apply(CHECKED_IN_1).overdue_pending
    assert not fold([REGISTERED, CHECKED_IN_1, OVERDUE]).overdue_pending


def test_a_refusal_cancels_an_offer_unless_the_member_checked_in():
    refused = fold([REGISTERED, OFFERED_1, FlowFact(attempt=1, refused=True)])
    assert refused.status is FlowStatus.REFUSED and not refused.held_at_destination
    assert refused.apply(CHECKED_IN_1).status is FlowStatus.MANAGED


def test_a_closed_membership_no_longer_holds_the_member():
    state = fold([REGISTERED, OFFERED_1, CHECKED_IN_1, MEMBERSHIP_CLOSED_1])
    assert state.status is FlowStatus.WAITING and not state.held_at_destination


def test_the_online_branch_does_not_hold_a_member_at_the_destination():
    assert not holds_at_destination("ONLINE_BRANCH")
    assert holds_at_destination("EMPLOYER_BRANCH") and holds_at_destination("STATION_TEMPORARY_BRANCH")


def test_month_of_a_start_date():
    assert month_of("2026-03-15") == "2026-03"
    assert month_of("not a date") is None


def test_month_filters_name_the_offending_field():
    with pytest.raises(InvalidArgument) as bad:
        matrix_filter(from_month="2026-13", to_month="2026/01", industry="")
    assert [v.field for v in bad.value.violations] == ["from_month", "to_month"]
    with pytest.raises(InvalidArgument) as reversed_range:
        matrix_filter(from_month="2026-05", to_month="2026-01", industry="")
    assert [v.field for v in reversed_range.value.violations] == ["to_month"]
    with pytest.raises(InvalidArgument) as long_industry:
        matrix_filter(from_month="", to_month="", industry="业" * 101)
    assert [v.field for v in long_industry.value.violations] == ["industry"]


def test_empty_filters_mean_any():
    filters = matrix_filter(from_month=" ", to_month="", industry="  建筑  业 ")
    assert (filters.from_month, filters.to_month, filters.industry) == (None, None, "建筑 业")


def test_unorganised_needs_three_open_flows_and_none_held():
    assert is_unorganised(open_flows=3, any_held=False)
    assert not is_unorganised(open_flows=2, any_held=False)
    assert not is_unorganised(open_flows=5, any_held=True)


def test_coverage_and_totals():
    assert coverage_ratio(managed=0, away=0) == 0.0
    matrix = FlowMatrix(cells=[], unorganised=[], coverage=[
        Coverage("411521", away=4, offered=3, managed=2, overdue_check_ins=1),
        Coverage("411522", away=0, offered=0, managed=0, overdue_check_ins=0),
    ])
    assert [c.coverage for c in matrix.coverage] == [0.5, 0.0]
    assert (matrix.total_away, matrix.total_managed, matrix.total_overdue) == (4, 2, 1)
