"""Loans' domain: the moves of the public review, who decides which tier, the application's checks."""

from __future__ import annotations

import pytest

from jinqiao.desk.loans import domain as d
from jinqiao.desk.loans.domain import LoanStatus, LoanTier
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument


def test_branch_recommendation_passes_to_the_township() -> None:
    move = d.approve(status=LoanStatus.SUBMITTED, amount_fen=10_000_000, township_final_up_to_fen=0)
    assert move == d.Move(LoanStatus.RECOMMENDED, LoanTier.TOWNSHIP, False)


def test_township_review_passes_to_the_county_above_its_limit() -> None:
    move = d.approve(status=LoanStatus.RECOMMENDED, amount_fen=10_000_001, township_final_up_to_fen=10_000_000)
    assert move == d.Move(LoanStatus.REVIEWED, LoanTier.COUNTY, False)


def test_township_review_is_final_within_its_limit() -> None:
    move = d.approve(status=LoanStatus.RECOMMENDED, amount_fen=10_000_000, township_final_up_to_fen=10_000_000)
    assert move == d.Move(LoanStatus.APPROVED, LoanTier.BANK, True)


def test_township_limit_zero_always_goes_to_the_county() -> None:
    move = d.approve(status=LoanStatus.RECOMMENDED, amount_fen=1, township_final_up_to_fen=0)
    assert move.status is LoanStatus.REVIEWED and not move.final


def test_county_approval_is_final_and_waits_for_the_bank() -> None:
    move = d.approve(status=LoanStatus.REVIEWED, amount_fen=1, township_final_up_to_fen=0)
    assert move == d.Move(LoanStatus.APPROVED, LoanTier.BANK, True)


@pytest.mark.parametrize("status", [LoanStatus.APPROVED, LoanStatus.REFUSED, LoanStatus.WITHDRAWN,
                                    LoanStatus.DISBURSED])
def test_no_public_approval_outside_the_review(status: LoanStatus) -> None:
    with pytest.raises(FailedPrecondition):
        d.approve(status=status, amount_fen=1, township_final_up_to_fen=0)


@pytest.mark.parametrize(("role", "pending", "allowed"), [
    ("branch_secretary", LoanTier.BRANCH, True), ("branch_secretary", LoanTier.TOWNSHIP, False),
    ("township_officer", LoanTier.TOWNSHIP, True), ("township_officer", LoanTier.BRANCH, False),
    ("township_officer", LoanTier.COUNTY, False), ("county_admin", LoanTier.BRANCH, True),
    ("county_admin", LoanTier.TOWNSHIP, True), ("county_admin", LoanTier.COUNTY, True),
    ("county_admin", LoanTier.BANK, False), ("bank_officer", LoanTier.BANK, False), ("member", LoanTier.BRANCH, False),
])
def test_each_office_decides_its_own_tier_and_the_county_any_public_one(role: str, pending: LoanTier,
                                                                        allowed: bool) -> None:
    assert d.may_decide(role=role, pending=pending) is allowed


def test_application_reports_every_broken_field_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        d.clean_application(amount_fen=0, term_months=0, method=0, purpose=" 养", business_plan="x" * 5001)
    assert {v.field for v in err.value.violations} == {"amount_fen", "term_months", "method", "purpose",
                                                       "business_plan"}


def test_application_trims_its_texts() -> None:
    assert d.clean_application(amount_fen=1, term_months=12, method=1, purpose=" 养殖场扩建 ",
                               business_plan=" 计划 ") == ("养殖场扩建", "计划")


def test_refusal_needs_a_reason_but_approval_does_not() -> None:
    with pytest.raises(InvalidArgument) as err:
        d.clean_reason(" ", required=True)
    assert err.value.violations[0].field == "reason"
    assert d.clean_reason("", required=False) == ""


def test_ineligible_names_each_failed_rule_with_its_label_and_finding() -> None:
    error = d.ineligible([("window", "申请期内", True, "在申请期内"),
                          ("min_grade", "评议不低于合格", False, "基本合格"),
                          ("no_overdue", "无逾期贷款", False, "有逾期贷款")])
    assert error is not None
    assert [(v.field, v.description) for v in error.violations] == [
        ("eligibility.min_grade", "评议不低于合格：基本合格"), ("eligibility.no_overdue", "无逾期贷款：有逾期贷款")]
    assert d.ineligible([("window", "申请期内", True, "")]) is None


def test_grant_defaults_to_the_amount_and_never_exceeds_it() -> None:
    assert d.check_grant(granted_amount_fen=0, amount_fen=500) == 500
    assert d.check_grant(granted_amount_fen=300, amount_fen=500) == 300
    for bad in (501, -1):
        with pytest.raises(InvalidArgument):
            d.check_grant(granted_amount_fen=bad, amount_fen=500)


def test_stale_version_is_refused() -> None:
    d.check_version(current=3, given=0)
    d.check_version(current=3, given=3)
    with pytest.raises(FailedPrecondition):
        d.check_version(current=3, given=2)


def test_loan_number_is_year_and_six_digits() -> None:
    assert d.loan_number(2026, 42) == "贷2026-000042"
