"""Referral (转办) rules without I/O: where a referral may go, which way, and who may answer it."""

from __future__ import annotations

import pytest

from jinqiao.desk.referrals import domain as d
from jinqiao.desk.referrals.domain import Direction, ReferralStatus
from jinqiao.kit.errors import FailedPrecondition, ForgedEvent, InvalidArgument

HOME, STATION, OTHER = "650441", "650440", "650442"


def _fields(err: InvalidArgument) -> list[str]:
    return [v.field for v in err.violations]


@pytest.mark.parametrize("value", ["", "65044", "6504400", "abcdef", "050440"])
def test_a_target_that_is_not_a_county_code_names_the_field(value):
    with pytest.raises(InvalidArgument) as err:
        d.target_county(origin=STATION, to_tenant_id=value)
    assert _fields(err.value) == ["to_tenant_id"]


def test_a_county_cannot_refer_to_itself():
    with pytest.raises(InvalidArgument) as err:
        d.target_county(origin=STATION, to_tenant_id=f" {STATION} ")
    assert _fields(err.value) == ["to_tenant_id"]
    assert d.target_county(origin=STATION, to_tenant_id=f" {HOME}") == HOME


def test_a_station_refers_to_the_members_home_county():
    assert d.direction_for(origin=STATION, to_tenant_id=HOME, member_home_tenant_id=HOME,
                           placing_tenant_id=None) is Direction.TO_HOME


def test_the_home_county_refers_only_to_the_county_where_the_member_is_placed():
    assert d.direction_for(origin=HOME, to_tenant_id=STATION, member_home_tenant_id=HOME,
                           placing_tenant_id=STATION) is Direction.TO_STATION
    for placing in (OTHER, None):
        with pytest.raises(InvalidArgument) as err:
            d.direction_for(origin=HOME, to_tenant_id=STATION, member_home_tenant_id=HOME, placing_tenant_id=placing)
        assert _fields(err.value) == ["to_tenant_id"] and "该党员不在该县（区）" in err.value.violations[0].description


def test_a_station_cannot_refer_a_guest_to_a_third_county():
    with pytest.raises(InvalidArgument):
        d.direction_for(origin=STATION, to_tenant_id=OTHER, member_home_tenant_id=HOME, placing_tenant_id=OTHER)


@pytest.mark.parametrize("reason", ["", " ", "好", "x" * 501])
def test_a_reason_outside_2_to_500_characters_names_the_field(reason):
    with pytest.raises(InvalidArgument) as err:
        d.clean_reason(reason)
    assert _fields(err.value) == ["reason"]


def test_a_reason_is_kept_with_its_whitespace_collapsed():
    assert d.clean_reason("  需要户籍地\n 出具证明 ") == "需要户籍地 出具证明"


def test_the_summary_is_the_description_trimmed_to_500_characters():
    assert d.summary_of("  拖欠工资三个月  ") == "拖欠工资三个月"
    long = d.summary_of("欠" * 800)
    assert len(long) == d.SUMMARY_MAX and long.endswith("…")


def test_only_an_open_ticket_without_a_pending_referral_may_be_referred():
    d.ensure_referable(ticket_open=True, pending=False)
    with pytest.raises(FailedPrecondition):
        d.ensure_referable(ticket_open=False, pending=False)
    with pytest.raises(FailedPrecondition):
        d.ensure_referable(ticket_open=True, pending=True)


def test_only_a_pending_referral_may_be_answered():
    d.ensure_answerable(ReferralStatus.PENDING)
    for status in (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN,
                   ReferralStatus.RESOLVED):
        with pytest.raises(FailedPrecondition):
            d.ensure_answerable(status)


def test_an_answer_from_another_county_than_the_receiver_is_forged():
    d.ensure_answer_origin(to_tenant_id=HOME, attempt=2, answered_by=HOME, answered_attempt=2)
    with pytest.raises(ForgedEvent, match=OTHER):
        d.ensure_answer_origin(to_tenant_id=HOME, attempt=2, answered_by=OTHER, answered_attempt=2)
    with pytest.raises(ForgedEvent, match="第 1 次"):
        d.ensure_answer_origin(to_tenant_id=HOME, attempt=2, answered_by=HOME, answered_attempt=1)


def test_a_referral_addressed_to_its_own_publisher_is_forged():
    d.ensure_referral_origin(to_tenant_id=HOME, published_by=STATION)
    with pytest.raises(ForgedEvent):
        d.ensure_referral_origin(to_tenant_id=STATION, published_by=STATION)


def test_only_the_sender_may_withdraw():
    d.ensure_withdrawal_origin(from_tenant_id=STATION, published_by=STATION)
    with pytest.raises(ForgedEvent):
        d.ensure_withdrawal_origin(from_tenant_id=STATION, published_by=OTHER)


def test_a_late_answer_after_the_withdrawal_is_ignored_but_a_resolution_may_overtake_the_acceptance():
    assert d.accepts_answer(ReferralStatus.PENDING)
    assert not d.accepts_answer(ReferralStatus.WITHDRAWN)
    assert d.accepts_resolution(ReferralStatus.PENDING) and d.accepts_resolution(ReferralStatus.ACCEPTED)
    assert not d.accepts_resolution(ReferralStatus.WITHDRAWN)


def test_unknown_statuses_name_the_filter_field():
    assert d.parse_statuses([1, 5]) == [1, 5]
    with pytest.raises(InvalidArgument) as err:
        d.parse_statuses([9])
    assert _fields(err.value) == ["statuses"]


def test_the_origins_resolution_says_it_came_from_the_referral():
    assert d.resolution_text(" 已协调企业支付欠薪 ") == "（转办办结）已协调企业支付欠薪"
