"""The demo loans' plan: three programmes (one closed last month), loans in every state, moves the tiers accept,
disbursements in the past, money in whole 分 only."""

from __future__ import annotations

from datetime import date

import pytest

from jinqiao.demo import loans
from jinqiao.desk.v1 import loans_pb2
from jinqiao.kit.auth import Role

TODAY = date(2026, 12, 2)


def test_every_demo_county_has_a_loan_in_every_state():
    plan = loans.demo_plan()
    for county in loans.LOAN_COUNTIES:
        assert {p.state for p in plan if p.county == county and not p.own} == set(loans.STATES), county


def test_the_demo_member_has_one_disbursed_loan_and_one_pending_application_at_the_bank_county():
    own = [p for p in loans.demo_plan() if p.own]
    assert {p.county for p in own} == {loans.BANK_COUNTY}
    assert sorted(p.state for p in own) == ["disbursed", "submitted"]
    disbursed = next(p for p in own if p.state == "disbursed")
    assert disbursed.disbursed_months_ago >= 1 and disbursed.paid_periods >= 1


def test_plan_keys_are_unique_so_a_reseed_files_nothing_twice():
    plan = loans.demo_plan()
    assert len({p.key for p in plan}) == len(plan)


def test_amounts_are_whole_fen_within_each_programmes_cap_and_term():
    for p in loans.demo_plan():
        spec = loans.spec_of(p.programme)
        assert isinstance(p.amount_fen, int) and not isinstance(p.amount_fen, bool)
        assert loans.WAN <= p.amount_fen <= spec.cap_fen, p.key
        assert 1 <= p.term_months <= spec.max_term_months, p.key
        assert not spec.closed_last_month, "nobody can apply to a closed programme"


def test_pioneer_programme_matches_the_issue_terms():
    proto = loans.programme_proto(loans.spec_of("pioneer"), today=TODAY)
    assert proto.cap_per_person_fen == 30_000_000  # 30 万元
    assert proto.max_term_months == 36
    assert proto.rate_bp == 435
    assert proto.township_final_up_to_fen == 5_000_000  # 5 万元
    assert proto.bank_code == "gsrcb" and proto.bank_name == "固始农商银行"
    assert (proto.window_start, proto.window_end) == ("2026-01-01", "")


def test_startup_guarantee_subsidy_leaves_the_borrower_lpr_minus_150_bp():
    proto = loans.programme_proto(loans.spec_of("startup"), today=TODAY)
    assert proto.rate_bp - proto.subsidy_bp == loans.LPR_1Y_BP - 150
    assert proto.cap_per_person_fen == 20_000_000  # 20 万元
    assert proto.sponsor == loans_pb2.PROGRAMME_SPONSOR_CITY
    assert proto.shared_code == "xy-cydb-2026"


def test_micro_credit_window_closed_at_the_end_of_last_month():
    proto = loans.programme_proto(loans.spec_of("micro"), today=TODAY)
    assert proto.window_end == "2026-11-30"
    assert proto.window_start == "2026-09-01"
    january = loans.programme_proto(loans.spec_of("micro"), today=date(2027, 1, 15))
    assert (january.window_start, january.window_end) == ("2026-10-01", "2026-12-31")


@pytest.mark.parametrize(("state", "expected"), [
    ("submitted", ()),
    ("recommended", ("branch",)),
    ("reviewed", ("branch", "township")),
    ("refused", ("branch", "refuse_township")),
    ("withdrawn", ("branch", "withdraw")),
])
def test_moves_to_the_early_states(state, expected):
    planned = next(p for p in loans.plan_county("411525") if p.state == state)
    assert loans.moves(planned) == expected


def test_the_reviewed_loan_is_above_the_townships_limit_so_it_waits_for_the_county():
    planned = next(p for p in loans.plan_county("411525") if p.state == "reviewed")
    assert planned.amount_fen > loans.spec_of(planned.programme).township_final_up_to_fen > 0


def test_within_the_townships_limit_the_county_tier_is_skipped():
    small = loans.PlannedLoan(key="k", county="411525", programme="pioneer", state="approved", amount_fen=5 * loans.WAN,
                              term_months=12, method=loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, purpose="p",
                              business_plan="")
    assert loans.moves(small) == ("branch", "township")
    big = loans.PlannedLoan(key="k", county="411525", programme="pioneer", state="approved",
                            amount_fen=5 * loans.WAN + 1, term_months=12,
                            method=loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, purpose="p", business_plan="")
    assert loans.moves(big) == ("branch", "township", "county")
    # A programme without a township limit (0) always goes to the county.
    startup = loans.PlannedLoan(key="k", county="411525", programme="startup", state="approved",
                                amount_fen=loans.WAN, term_months=12,
                                method=loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, purpose="p", business_plan="")
    assert loans.moves(startup) == ("branch", "township", "county")


def test_disbursed_loans_go_through_the_bank_and_repay_only_what_fell_due():
    for p in loans.demo_plan():
        steps = loans.moves(p)
        if p.state in ("disbursed", "overdue", "settled"):
            assert steps[-3:] == ("grant", "disburse", "repay") or steps[-2:] == ("grant", "disburse")
            assert p.paid_periods <= p.disbursed_months_ago, p.key
        else:
            assert "disburse" not in steps


def test_the_overdue_loan_has_missed_instalments_and_the_settled_one_paid_them_all():
    plan = loans.plan_county("411525")
    overdue = next(p for p in plan if p.state == "overdue")
    assert overdue.disbursed_months_ago - overdue.paid_periods >= 2
    settled = next(p for p in plan if p.state == "settled")
    assert settled.paid_periods == settled.term_months <= settled.disbursed_months_ago


def test_disbursement_dates_lie_in_the_past_and_keep_within_the_month():
    planned = next(p for p in loans.plan_county("411525") if p.state == "overdue")
    assert loans.disbursed_on(planned, today=TODAY) == date(2026, 6, 27)
    assert loans.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert loans.add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert loans.add_months(date(2026, 1, 15), -2) == date(2025, 11, 15)


def test_final_status_of_an_overdue_loan_is_still_disbursed():
    plan = loans.plan_county("411525")
    assert loans.final_status(next(p for p in plan if p.state == "overdue")) == loans_pb2.LOAN_STATUS_DISBURSED
    assert loans.final_status(next(p for p in plan if p.state == "refused")) == loans_pb2.LOAN_STATUS_REFUSED


def test_the_bank_login_carries_the_bank_code_as_its_org():
    (login,) = loans.bank_logins()
    assert login.username == "bank-411525"
    assert login.role is Role.BANK_OFFICER
    assert login.acting_org == "gsrcb"
    assert login.acting_tenant == login.scope == "411525"


def test_each_demo_county_runs_its_programmes_with_its_own_partner_bank():
    gushi = loans.programme_proto(loans.spec_of("pioneer"), today=TODAY, county="411525")
    huangchuan = loans.programme_proto(loans.spec_of("pioneer"), today=TODAY, county="411526")
    assert gushi.bank_code == "gsrcb"
    assert huangchuan.bank_code != gushi.bank_code and huangchuan.bank_name == "潢川农商银行"


def test_the_licence_photo_is_a_real_png():
    data = loans.licence_png()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"IHDR" in data[:16] and data.endswith(b"IEND\xaeB`\x82")
