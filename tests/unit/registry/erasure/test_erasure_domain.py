"""Erasure rules without a database: departures, reasons, when the law allows erasure and when it is due."""

from __future__ import annotations

from datetime import date

import pytest

from jinqiao.kit.errors import FailedPrecondition, InvalidArgument
from jinqiao.registry.erasure import domain, service
from jinqiao.registry.members.domain import DEPARTURE_NAMES, Departure, RecordStatus

TODAY = date(2026, 12, 2)


def test_a_death_ends_the_record_as_deceased():
    """去世 maps to the DECEASED record status, with the day and the folded reason."""
    entry = domain.validate_departure(departure=1, on="2026-11-30", reason="  家属  报告去世 ", today=TODAY)
    assert (entry.record_status, entry.ended_on, entry.reason) == (RecordStatus.DECEASED, date(2026, 11, 30),
                                                                  "家属 报告去世")


@pytest.mark.parametrize("form", [Departure.WITHDREW, Departure.STRUCK_OFF, Departure.EXPELLED])
def test_every_form_of_leaving_the_party_ends_the_record_as_left_party(form):
    """退党、除名、开除党籍 are all 出党."""
    entry = domain.validate_departure(departure=int(form), on="2026-01-05", reason="支部大会决定", today=TODAY)
    assert entry.record_status is RecordStatus.LEFT_PARTY
    assert domain.departure_summary(entry).startswith(DEPARTURE_NAMES[form] + "（2026-01-05）")


def test_a_bad_departure_names_every_field_at_once():
    """No form, a future date and a too-short reason are reported together."""
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_departure(departure=0, on="2027-01-01", reason="无", today=TODAY)
    assert {v.field for v in caught.value.violations} == {"departure", "date", "reason"}


def test_an_erasure_reason_is_required():
    """A blank reason is refused naming ``reason`` in Chinese."""
    with pytest.raises(InvalidArgument) as caught:
        domain.clean_reason("   ")
    [violation] = caught.value.violations
    assert violation.field == "reason" and "理由" in violation.description


@pytest.mark.parametrize(("status", "open_flow", "refused"), [
    (RecordStatus.ACTIVE, False, True), (RecordStatus.DECEASED, True, True), (RecordStatus.DECEASED, False, False),
    (RecordStatus.TRANSFERRED_OUT, False, False), (RecordStatus.LEFT_PARTY, False, False)])
def test_erasure_is_allowed_only_for_an_ended_record_with_no_open_flow(status, open_flow, refused):
    """An active record or a member still away is refused (FAILED_PRECONDITION)."""
    if refused:
        with pytest.raises(FailedPrecondition):
            domain.ensure_may_erase(record_status=status, open_flow=open_flow)
    else:
        domain.ensure_may_erase(record_status=status, open_flow=open_flow)


def test_a_record_ends_once():
    """A second departure of an ended record is refused."""
    with pytest.raises(FailedPrecondition):
        domain.ensure_may_end(record_status=RecordStatus.DECEASED, open_flow=False)


def test_records_ended_on_or_before_the_period_are_due():
    """With a 365-day period, a record ended exactly 365 days ago is due today; one a day later is not."""
    assert domain.erasure_due_by(today=date(2026, 12, 2), period_days=365) == date(2025, 12, 2)


def test_the_period_is_the_policys_member_departed(tmp_path, monkeypatch):
    """The period comes from the province's policy file (JINQIAO_RETENTION_POLICY_FILE points elsewhere)."""
    from jinqiao.kit import lifecycle

    text = lifecycle.DEFAULT_FILE.read_text(encoding="utf-8")
    policy = tmp_path / "retention.toml"
    policy.write_text(text.replace("[kinds.member_departed]\ndays = 1095", "[kinds.member_departed]\ndays = 1500"),
                      encoding="utf-8")
    monkeypatch.setenv(lifecycle.ENV_FILE, str(policy))
    assert service.departed_period_days() == 1500
