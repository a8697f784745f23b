"""预警 cases in the domain: notes, the two transitions an office makes, and the list's filters."""

from __future__ import annotations

import pytest

from jinqiao.kit.errors import FailedPrecondition, InvalidArgument
from jinqiao.registry.flows.domain import (
    AlertState,
    alert_filters,
    alert_note,
    ensure_may_acknowledge,
    ensure_may_close,
)


def test_a_close_needs_a_note_and_an_acknowledgement_does_not():
    assert alert_note("  ", required=False) == ""
    assert alert_note("  已联系本人 ", required=True) == "已联系本人"
    with pytest.raises(InvalidArgument) as caught:
        alert_note(" ", required=True)
    assert [v.field for v in caught.value.violations] == ["note"]
    with pytest.raises(InvalidArgument):
        alert_note("字" * 501, required=False)
    assert alert_note("字" * 500, required=True) == "字" * 500


def test_only_an_open_case_is_acknowledged_and_a_closed_one_is_not_closed_again():
    ensure_may_acknowledge(AlertState.OPEN)
    for state in (AlertState.ACKNOWLEDGED, AlertState.CLOSED):
        with pytest.raises(FailedPrecondition):
            ensure_may_acknowledge(state)
    ensure_may_close(AlertState.OPEN)
    ensure_may_close(AlertState.ACKNOWLEDGED)
    with pytest.raises(FailedPrecondition):
        ensure_may_close(AlertState.CLOSED)


def test_filters_name_the_bad_field():
    assert alert_filters(timer="check_in_overdue", level=3) == ("CHECK_IN_OVERDUE", 3)
    assert alert_filters(timer="", level=0) == ("", 0)
    with pytest.raises(InvalidArgument) as caught:
        alert_filters(timer="nonsense", level=0)
    assert [v.field for v in caught.value.violations] == ["timer"]
    with pytest.raises(InvalidArgument) as caught:
        alert_filters(timer="", level=4)
    assert [v.field for v in caught.value.violations] == ["level"]
