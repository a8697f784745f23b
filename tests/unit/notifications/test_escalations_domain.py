"""Escalations' pure rules: which office a registry level names, who may still acknowledge, the facts told."""

from __future__ import annotations

import pytest

from jinqiao.kit.errors import InvalidArgument
from jinqiao.notifications.directory.domain import Audience
from jinqiao.notifications.escalations import domain
from jinqiao.notifications.escalations.domain import LADDERS, EscalationState


def test_check_in_overdue_levels_name_village_township_and_county_offices() -> None:
    assert domain.level_audience("check_in_overdue", 1) is Audience.CONTACT
    assert domain.level_audience("check_in_overdue", 2) is Audience.TOWNSHIP
    assert domain.level_audience("check_in_overdue", 3) is Audience.COUNTY


def test_check_in_overdue_levels_beyond_three_stay_at_the_county() -> None:
    assert domain.level_audience("check_in_overdue", 7) is Audience.COUNTY


@pytest.mark.parametrize("kind", ["ticket_sla_breached", "loan_step_overdue"])
def test_other_kinds_count_steps_instead_of_naming_an_office(kind: str) -> None:
    assert domain.level_audience(kind, 1) is None
    assert domain.level_audience(kind, 3) is None


def test_every_ladder_starts_with_its_own_template() -> None:
    assert {ladder.template for ladder in LADDERS.values()} == set(LADDERS)


def test_only_an_open_escalation_can_be_acknowledged() -> None:
    assert domain.refusal_to_acknowledge(EscalationState.OPEN) is None
    assert domain.refusal_to_acknowledge(EscalationState.ACKNOWLEDGED) == "该逐级提醒已确认"
    assert "已办结" in (domain.refusal_to_acknowledge(EscalationState.RESOLVED) or "")


def test_a_note_of_500_characters_is_kept_and_one_more_is_refused() -> None:
    assert domain.validate_note("  已电话联系  ") == "已电话联系"
    assert domain.validate_note("备" * 500) == "备" * 500
    with pytest.raises(InvalidArgument) as refused:
        domain.validate_note("备" * 501)
    assert [v.field for v in refused.value.violations] == ["note"]


def test_check_in_facts_name_the_office_told_and_its_level() -> None:
    facts = domain.level_facts("check_in_overdue", {"member_name": "张三", "org_name": "某村党支部"}, level=2,
                               label="乡镇党委", org_name="段集镇党委")
    assert facts == {"member_name": "张三", "org_name": "段集镇党委", "level": "2", "level_label": "乡镇党委"}


def test_ticket_facts_keep_the_station_that_serves_the_ticket() -> None:
    facts = domain.level_facts("ticket_sla_breached", {"org_name": "城南工作站"}, level=3, label="县委组织部",
                               org_name="县委组织部")
    assert facts["org_name"] == "城南工作站"
    assert facts["level"] == "3" and facts["level_label"] == "县委组织部"
