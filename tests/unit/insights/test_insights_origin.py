"""Only the county placing a flow's attempt may answer for it (issue 9): the insights read model's rule."""

from __future__ import annotations

import pytest

from jinqiao.insights.domain import FlowFact, FlowState, PlacementNotKnownYet, placing_county
from jinqiao.kit.errors import DomainError, ForgedEvent

ORIGIN, ZHENGZHOU, OTHER, GUANGZHOU = "411521", "410102", "410104", "440100"
REGISTERED = FlowFact(attempt=1, registered=True, month="2026-03", destination_code=ZHENGZHOU, industry="建筑业",
                      authoritative=True, placing_tenant_id=ZHENGZHOU)
REDIRECTED_2 = FlowFact(attempt=2, destination_code=GUANGZHOU, industry="餐饮业", authoritative=True,
                        placing_tenant_id=ORIGIN)


def test_the_placing_county_is_the_named_one_else_the_destination_in_the_province_else_the_origin():
    assert placing_county(origin=ORIGIN, destination_code=ZHENGZHOU, named="") == ZHENGZHOU
    assert placing_county(origin=ORIGIN, destination_code=GUANGZHOU, named="") == ORIGIN
    assert placing_county(origin=ORIGIN, destination_code=ZHENGZHOU, named=OTHER) == OTHER
    assert placing_county(origin=ORIGIN, destination_code="", named="") == ""


def test_the_merge_keeps_the_placing_county_of_the_latest_attempt_in_any_order():
    for facts in ([REGISTERED, REDIRECTED_2], [REDIRECTED_2, REGISTERED]):
        state = FlowState()
        for fact in facts:
            state = state.apply(fact)
        assert (state.placement_attempt, state.placing_tenant_id) == (2, ORIGIN)
    # Hints (answers, timers, closures) never name or change it.
    hinted = FlowState().apply(REGISTERED).apply(FlowFact(attempt=1, offered=True, destination_code=OTHER))
    assert hinted.placing_tenant_id == ZHENGZHOU


def test_an_answer_from_the_placing_county_passes_and_one_from_another_county_is_forged():
    state = FlowState().apply(REGISTERED)
    state.ensure_answer_origin(attempt=1, answered_by=ZHENGZHOU)
    with pytest.raises(ForgedEvent, match=f"答复来自 {OTHER}.*由 {ZHENGZHOU} 负责"):
        state.ensure_answer_origin(attempt=1, answered_by=OTHER)
    with pytest.raises(ForgedEvent, match="未指明安置次数"):
        state.ensure_answer_origin(attempt=0, answered_by=ZHENGZHOU)
    redirected = state.apply(REDIRECTED_2)
    with pytest.raises(ForgedEvent):
        redirected.ensure_answer_origin(attempt=2, answered_by=ZHENGZHOU)  # the first attempt's county
    redirected.ensure_answer_origin(attempt=2, answered_by=ORIGIN)


def test_an_answer_that_overtook_its_attempt_waits_and_an_older_attempts_answer_passes_to_the_merge():
    for state, attempt in ((FlowState(), 1), (FlowState().apply(REGISTERED), 2),
                           # a fact that came first (a timer) does not tell who places the flow
                           (FlowState().apply(FlowFact(overdue=True, destination_code=ZHENGZHOU)), 1)):
        with pytest.raises(PlacementNotKnownYet) as raised:
            state.ensure_answer_origin(attempt=attempt, answered_by=ZHENGZHOU)
        assert not isinstance(raised.value, DomainError)  # retried by the broker, not dead-lettered
    redirected = FlowState().apply(REDIRECTED_2)
    redirected.ensure_answer_origin(attempt=1, answered_by=OTHER)  # superseded: the merge ignores it
    late = FlowFact(attempt=1, checked_in=True)
    assert redirected.apply(late) == redirected
