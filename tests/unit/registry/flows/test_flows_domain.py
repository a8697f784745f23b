"""Flow rules without a database: outflow validation, certificates, the saga's state rules, timers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from jinqiao.kit.errors import FailedPrecondition, ForgedEvent, InvalidArgument
from jinqiao.registry.flows import domain as flows
from jinqiao.registry.flows.domain import Flow, FlowStatus, Policy

TODAY = date(2026, 11, 24)


def outflow(**overrides: object) -> flows.Outflow:
    fields: dict[str, object] = {"origin": "411525", "destination_code": "410105", "address": "金水区经八路 1 号",
                                 "employer": "宇通客车", "industry": "制造", "start_date": "2026-11-20",
                                 "expected_months": 6, "contact_phone": "", "today": TODAY}
    fields.update(overrides)
    return flows.validate_outflow(**fields)  # type: ignore[arg-type]


def violations(**overrides: object) -> set[str]:
    with pytest.raises(InvalidArgument) as caught:
        outflow(**overrides)
    return {v.field for v in caught.value.violations}


def test_an_in_province_destination_places_the_member_there():
    flow = outflow()
    assert (flow.placing_tenant_id, flow.out_of_province) == ("410105", False)


def test_outside_the_province_the_origin_places_the_member_in_its_own_orgs():
    flow = outflow(destination_code="110000")
    assert (flow.placing_tenant_id, flow.out_of_province) == ("411525", True)


def test_every_bad_field_is_named_at_once():
    assert violations(destination_code="41152", address="", industry=" ", start_date="2026-02-30",
                      expected_months=0, contact_phone="123") == {
        "destination_code", "address", "industry", "start_date", "expected_months", "contact_phone"}


def test_the_own_county_is_no_destination():
    assert violations(destination_code="411525") == {"destination_code"}


def test_a_start_far_in_the_future_is_refused():
    assert violations(start_date=(TODAY + timedelta(days=91)).isoformat()) == {"start_date"}


def test_certificate_serial_and_validity():
    assert flows.certificate_serial(tenant="411525", year=2026, number=17) == "411525-2026-00017"
    policy = Policy()
    assert flows.certificate_validity(start=date(2026, 1, 31), expected_months=1, policy=policy) == date(2026, 2, 27)
    # Longer stays are capped at the policy's validity (a certificate serves at most a year by default).
    assert flows.certificate_validity(start=date(2026, 3, 1), expected_months=36, policy=policy) == date(2027, 2, 28)


def test_the_letter_introduces_the_member_with_the_masked_id_only():
    letter = flows.introduction_letter(origin="411525", member_name="张建国", id_number_masked="4115**********123X",
                                       flow=outflow(), serial="411525-2026-00001", valid_until=date(2027, 5, 19),
                                       issued=TODAY)
    assert "金水区党组织" in letter and "4115**********123X" in letter and "411525-2026-00001" in letter
    assert "固始县" in letter


def test_answers_count_only_for_the_current_attempt_of_an_open_flow():
    assert flows.accepts_answer(status=FlowStatus.REGISTERED, attempt=2, answered_attempt=2)
    assert not flows.accepts_answer(status=FlowStatus.REGISTERED, attempt=2, answered_attempt=1)
    assert not flows.accepts_answer(status=FlowStatus.RETURNED, attempt=1, answered_attempt=1)


def test_a_check_in_that_overtook_its_offer_is_not_undone():
    assert flows.after_offer(FlowStatus.REGISTERED) is FlowStatus.OFFERED
    assert flows.after_offer(FlowStatus.MANAGED) is FlowStatus.MANAGED
    assert flows.after_refusal(FlowStatus.OFFERED) is FlowStatus.REFUSED
    assert flows.after_refusal(FlowStatus.MANAGED) is FlowStatus.MANAGED


def a_flow(**overrides: object) -> Flow:
    fields: dict[str, object] = dict(
        id="f", tenant_id="411525", member_id="m", member_name="张", attempt=1, status=FlowStatus.OFFERED,
        destination_code="410105", placing_tenant_id="410105", out_of_province=False, address="", employer="",
        industry="制造", start_date=date(2026, 1, 10), destination_since=date(2026, 1, 10), expected_months=12,
        contact_phone_masked="", certificate_serial="s", certificate_valid_until=date(2027, 1, 9),
        membership_id=None, org_id=None, org_name="", placement_rule="", placement_reason="", refusal_reason="",
        refusal_advice="", offered_at=None, checked_in_at=None, check_in_method="", last_report_date=None,
        closed_on=None, created_at=datetime(2026, 1, 10, tzinfo=UTC), version=1)
    fields.update(overrides)
    return Flow(**fields)  # type: ignore[arg-type]


def timers_on(flow: Flow, day: date, policy: Policy | None = None) -> list[tuple[str, int]]:
    return [(d.timer, d.level) for d in flows.due_timers(flow, policy=policy or Policy(), today=day)]


def test_check_in_overdue_levels_fall_due_in_turn():
    flow = a_flow()
    assert timers_on(flow, date(2026, 2, 8)) == []
    assert timers_on(flow, date(2026, 2, 9)) == [("CHECK_IN_OVERDUE", 1)]
    assert timers_on(flow, date(2026, 2, 24)) == [("CHECK_IN_OVERDUE", 1), ("CHECK_IN_OVERDUE", 2)]
    assert len(timers_on(flow, date(2026, 3, 11))) == 3


def test_a_managed_flow_is_never_overdue_and_its_transfer_falls_due_after_six_months():
    flow = a_flow(status=FlowStatus.MANAGED)
    assert timers_on(flow, date(2026, 7, 9)) == []
    assert timers_on(flow, date(2026, 7, 10)) == [("TRANSFER_DUE", 1)]
    moved = replace(flow, destination_since=date(2026, 5, 1))
    assert timers_on(moved, date(2026, 7, 10)) == []


def test_closed_flows_have_no_timers():
    assert timers_on(a_flow(status=FlowStatus.RETURNED), date(2030, 1, 1)) == []


def test_report_back_counts_from_the_last_report():
    flow = a_flow(status=FlowStatus.MANAGED, destination_since=date(2026, 12, 1),
                  certificate_valid_until=date(2030, 1, 1))
    assert ("REPORT_BACK_DUE", 1) in timers_on(flow, date(2027, 1, 10))
    assert timers_on(replace(flow, last_report_date=date(2026, 12, 20)), date(2027, 1, 10)) == []


def test_placement_times_out_only_while_nobody_answered():
    policy = Policy(placement_timeout_hours=72)
    at = datetime(2026, 1, 10, 8, tzinfo=UTC)
    waiting = a_flow(status=FlowStatus.REGISTERED)
    assert not flows.placement_timed_out(waiting, requested_at=at, policy=policy, now=at + timedelta(hours=71))
    assert flows.placement_timed_out(waiting, requested_at=at, policy=policy, now=at + timedelta(hours=72))
    assert not flows.placement_timed_out(a_flow(), requested_at=at, policy=policy, now=at + timedelta(days=9))


def test_policy_bounds_name_the_field():
    with pytest.raises(InvalidArgument) as caught:
        flows.validate_policy({"check_in_days": 0, "escalate_township_days": 1, "escalate_county_days": 1,
                               "certificate_months": 99, "report_back_months": 12, "transfer_due_months": 6,
                               "placement_timeout_hours": 48})
    assert {v.field for v in caught.value.violations} == {"policy.check_in_days", "policy.certificate_months"}


def test_a_closed_flow_changes_no_more():
    with pytest.raises(FailedPrecondition):
        flows.ensure_open(a_flow(status=FlowStatus.TRANSFERRED))


def test_only_the_placing_county_answers_and_only_about_the_current_attempt():
    flows.ensure_answer_origin(placing_tenant_id="410102", attempt=2, answered_by="410102", answered_attempt=2)
    with pytest.raises(ForgedEvent, match="410104"):
        flows.ensure_answer_origin(placing_tenant_id="410102", attempt=2, answered_by="410104", answered_attempt=2)
    for never in (0, 3):
        with pytest.raises(ForgedEvent):
            flows.ensure_answer_origin(placing_tenant_id="410102", attempt=2, answered_by="410102",
                                       answered_attempt=never)
    with pytest.raises(FailedPrecondition, match="已被取代"):
        flows.ensure_answer_origin(placing_tenant_id="410102", attempt=2, answered_by="410102", answered_attempt=1)


def test_a_check_in_names_the_place_that_was_offered():
    flows.ensure_same_placement(offered_membership=None, offered_org=None, membership_id="m", org_id="o")
    flows.ensure_same_placement(offered_membership="m", offered_org="o", membership_id="m", org_id="o")
    with pytest.raises(ForgedEvent):
        flows.ensure_same_placement(offered_membership="m", offered_org="o", membership_id="m", org_id="x")
    with pytest.raises(ForgedEvent):
        flows.ensure_same_placement(offered_membership="m", offered_org="o", membership_id="x", org_id="o")
