"""The money rules of repayments/domain.py: every rounding rule, worked examples by hand, property tests over
amounts, terms, rates and methods, allocation, overdue maths, reminders and claim periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.desk.repayments import domain as d
from jinqiao.desk.repayments.domain import Instalment, Method
from jinqiao.kit.errors import InvalidArgument


def _instalments(periods: list[d.Period]) -> list[Instalment]:
    return [Instalment(seq=p.seq, due_date=p.due_date, principal_fen=p.principal_fen,
                       borrower_interest_fen=p.borrower_interest_fen) for p in periods]


# ------------------------------------------------------------------------------------------------ rounding


def test_monthly_rate_is_exact_decimal():
    # 50 significant digits: 0.0395 / 12 = 0.00329166…667, never a binary float's 0.003291666666666667.
    assert str(d.monthly_rate(395)) == "0.00329" + "1" + "6" * 45 + "7"
    assert d.monthly_rate(395) * 12 == Decimal("0.0395")
    assert d.monthly_rate(1200) == Decimal("0.01")
    assert d.monthly_rate(0) == 0


def test_interest_rounds_half_up_to_the_fen():
    # 1,200 bp → r = 0.01 exactly: 50 fen × 0.01 = 0.5 fen → 1 fen (half up), 49 fen → 0.49 → 0.
    assert d.interest_of(50, 1200) == 1
    assert d.interest_of(49, 1200) == 0
    assert d.interest_of(150, 1200) == 2  # 1.5 → 2, never banker's 2/round-half-even surprises
    assert d.interest_of(250, 1200) == 3  # 2.5 → 3 (half-even would give 2)


def test_subsidy_rounds_half_up_and_is_zero_without_a_rate():
    # 3 fen × 1/2 = 1.5 → 2.
    assert d.subsidy_of(3, rate_bp=400, subsidy_bp=200) == 2
    assert d.subsidy_of(3, rate_bp=0, subsidy_bp=0) == 0
    assert d.subsidy_of(3, rate_bp=400, subsidy_bp=0) == 0


def test_due_dates_count_calendar_months_from_the_anchor_clamped_to_the_month_end():
    dates = d.due_dates(disbursed_on=date(2026, 1, 31), term_months=4)
    assert dates == [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]
    assert d.add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)  # a leap year
    assert d.due_dates(disbursed_on=date(2026, 1, 5), term_months=2, first_due_date=date(2026, 2, 20)) == [
        date(2026, 2, 20), date(2026, 3, 20)]


# ------------------------------------------------------------------------------------------------ worked examples


def test_worked_example_startup_guarantee_loan_equal_principal_with_subsidy():
    # 创业担保贷款 200,000.00 元 = 20,000,000 fen, 36 months, 等额本金, 3.95 % (395 bp); the borrower pays 1.50 %,
    # so 贴息 is 245 bp.
    # Period 1: interest = 20,000,000 × 0.0395 / 12 = 65,833.333… fen → 65,833 fen (658.33 元);
    #   贴息 = 65,833 × 245 / 395 = 40,833.1265… → 40,833 fen (408.33 元; not 408.32: 658.33 × 245/395 = 408.33);
    #   borrower interest = 65,833 − 40,833 = 25,000 fen (250.00 元);
    #   principal = 20,000,000 // 36 = 555,555 fen, remainder 20 fen → first period 555,575 fen (5,555.75 元);
    #   due = 555,575 + 25,000 = 580,575 fen; balance after = 19,444,425 fen.
    # Period 2: interest = 19,444,425 × 0.0395 / 12 = 64,004.5656… → 64,005; 贴息 = 64,005 × 245/395 = 39,699.30…
    #   → 39,699; borrower 24,306; principal 555,555; balance 18,888,870.
    s = d.build_schedule(principal_fen=20_000_000, term_months=36, method=Method.EQUAL_PRINCIPAL, rate_bp=395,
                         subsidy_bp=245, disbursed_on=date(2026, 1, 31))
    first, second = s[0], s[1]
    assert (first.interest_fen, first.subsidy_fen, first.borrower_interest_fen) == (65_833, 40_833, 25_000)
    assert (first.principal_fen, first.due_fen, first.balance_after_fen) == (555_575, 580_575, 19_444_425)
    assert first.due_date == date(2026, 2, 28)
    assert (second.interest_fen, second.subsidy_fen, second.borrower_interest_fen) == (64_005, 39_699, 24_306)
    assert (second.principal_fen, second.balance_after_fen) == (555_555, 18_888_870)
    assert s[-1].principal_fen == 555_555 and s[-1].balance_after_fen == 0
    assert d.yuan(first.subsidy_fen) == "408.33"


def test_worked_example_equal_instalment():
    # 1,000.00 元 = 100,000 fen, 12 months at 12 % (r = 0.01 exactly):
    # A = 100,000 × 0.01 × 1.01^12 / (1.01^12 − 1) = 8,884.878… → 8,885 fen.
    # Period 1: interest 1,000; principal 7,885; balance 92,115. Period 2: interest 921.15 → 921; principal 7,964.
    # The last period takes the remaining balance, 8,796, with interest 88: it pays 8,884 (A − 1 fen).
    s = d.build_schedule(principal_fen=100_000, term_months=12, method=Method.EQUAL_INSTALMENT, rate_bp=1200,
                         subsidy_bp=0, disbursed_on=date(2026, 3, 15))
    assert d.equal_payment(100_000, 12, 1200) == 8_885
    assert (s[0].interest_fen, s[0].principal_fen, s[0].balance_after_fen) == (1_000, 7_885, 92_115)
    assert (s[1].interest_fen, s[1].principal_fen) == (921, 7_964)
    assert (s[-1].principal_fen, s[-1].interest_fen, s[-1].due_fen) == (8_796, 88, 8_884)


def test_interest_only_pays_the_principal_in_the_last_period():
    # 10,000.00 元 at 4.35 %: 1,000,000 × 0.0435 / 12 = 3,625 fen each month, principal in month 6.
    s = d.build_schedule(principal_fen=1_000_000, term_months=6, method=Method.INTEREST_ONLY, rate_bp=435,
                         subsidy_bp=0, disbursed_on=date(2026, 6, 1))
    assert [p.interest_fen for p in s] == [3_625] * 6
    assert [p.principal_fen for p in s] == [0] * 5 + [1_000_000]


def test_zero_rate_equal_instalment_follows_the_equal_principal_rule():
    s = d.build_schedule(principal_fen=1_000, term_months=3, method=Method.EQUAL_INSTALMENT, rate_bp=0,
                         subsidy_bp=0, disbursed_on=date(2026, 6, 1))
    assert [p.principal_fen for p in s] == [334, 333, 333]
    assert all(p.interest_fen == 0 for p in s)


def test_a_tiny_equal_instalment_loan_never_pays_more_principal_than_it_owes():
    s = d.build_schedule(principal_fen=7, term_months=10, method=Method.EQUAL_INSTALMENT, rate_bp=1200,
                         subsidy_bp=0, disbursed_on=date(2026, 6, 1))
    assert sum(p.principal_fen for p in s) == 7
    assert all(p.principal_fen >= 0 and p.balance_after_fen >= 0 for p in s)


def test_subsidy_above_the_rate_is_refused():
    with pytest.raises(InvalidArgument):
        d.build_schedule(principal_fen=1_000, term_months=3, method=1, rate_bp=100, subsidy_bp=200,
                         disbursed_on=date(2026, 6, 1))


# ------------------------------------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(principal=st.integers(min_value=1, max_value=10**11), term=st.integers(min_value=1, max_value=360),
       rate=st.integers(min_value=0, max_value=10_000), share=st.integers(min_value=0, max_value=10_000),
       method=st.sampled_from(list(Method)))
def test_schedule_invariants(principal, term, rate, share, method):
    subsidy_bp = rate * share // 10_000
    s = d.build_schedule(principal_fen=principal, term_months=term, method=method, rate_bp=rate,
                         subsidy_bp=subsidy_bp, disbursed_on=date(2026, 1, 31))
    assert len(s) == term
    assert sum(p.principal_fen for p in s) == principal
    for p in s:
        assert min(p.principal_fen, p.interest_fen, p.subsidy_fen, p.borrower_interest_fen,
                   p.balance_after_fen) >= 0
        assert p.subsidy_fen + p.borrower_interest_fen == p.interest_fen
    assert sum(p.due_fen for p in s) == principal + sum(p.borrower_interest_fen for p in s)
    assert sum(p.subsidy_fen + p.borrower_interest_fen for p in s) == sum(p.interest_fen for p in s)
    assert s[-1].balance_after_fen == 0
    assert all(a.due_date < b.due_date for a, b in zip(s, s[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(principal=st.integers(min_value=1, max_value=10**9), term=st.integers(min_value=1, max_value=60),
       rate=st.integers(min_value=0, max_value=2_000), method=st.sampled_from(list(Method)),
       cuts=st.lists(st.integers(min_value=1, max_value=10**8), max_size=8))
def test_allocating_payments_never_loses_a_fen(principal, term, rate, method, cuts):
    s = d.build_schedule(principal_fen=principal, term_months=term, method=method, rate_bp=rate, subsidy_bp=0,
                         disbursed_on=date(2026, 1, 1))
    items = _instalments(s)
    owed = sum(i.unpaid_fen for i in items)
    paid = 0
    for cut in cuts:
        left = sum(i.unpaid_fen for i in items)
        if left == 0:
            break
        amount = min(cut, left)
        result = d.allocate(items, amount_fen=amount, paid_on=date(2026, 2, 1))
        assert result.principal_fen + result.interest_fen == amount
        items = list(result.instalments)
        paid += amount
    assert sum(i.unpaid_fen for i in items) == owed - paid
    assert all(0 <= i.paid_principal_fen <= i.principal_fen for i in items)
    assert all(0 <= i.paid_interest_fen <= i.borrower_interest_fen for i in items)


# ------------------------------------------------------------------------------------------------ allocation


def _two() -> list[Instalment]:
    return [Instalment(seq=1, due_date=date(2026, 2, 1), principal_fen=1_000, borrower_interest_fen=100),
            Instalment(seq=2, due_date=date(2026, 3, 1), principal_fen=1_000, borrower_interest_fen=50)]


def test_partial_repayment_pays_interest_before_principal_and_leaves_the_instalment_open():
    result = d.allocate(_two(), amount_fen=300, paid_on=date(2026, 2, 1))
    first = result.instalments[0]
    assert (result.interest_fen, result.principal_fen) == (100, 200)
    assert (first.paid_interest_fen, first.paid_principal_fen, first.paid_on) == (100, 200, None)
    assert result.changed == (1,)


def test_repayment_covers_the_oldest_instalment_first_and_sets_paid_on():
    result = d.allocate(_two(), amount_fen=1_160, paid_on=date(2026, 2, 3))
    first, second = result.instalments
    assert first.fully_paid and first.paid_on == date(2026, 2, 3)
    assert (second.paid_interest_fen, second.paid_principal_fen, second.paid_on) == (50, 10, None)
    assert (result.interest_fen, result.principal_fen) == (150, 1_010)


def test_full_repayment_pays_everything():
    result = d.allocate(_two(), amount_fen=2_150, paid_on=date(2026, 2, 3))
    assert all(i.fully_paid and i.paid_on == date(2026, 2, 3) for i in result.instalments)


def test_repayment_above_what_is_owed_names_amount_fen_with_the_remaining_sum():
    with pytest.raises(InvalidArgument) as err:
        d.allocate(_two(), amount_fen=2_151, paid_on=date(2026, 2, 3))
    violation = err.value.violations[0]
    assert violation.field == "amount_fen"
    assert "超过剩余应还金额 21.50 元" in violation.description


def test_zero_repayment_is_refused():
    with pytest.raises(InvalidArgument):
        d.allocate(_two(), amount_fen=0, paid_on=date(2026, 2, 3))


# ------------------------------------------------------------------------------------------------ overdue


def test_overdue_counts_unpaid_instalments_due_before_today():
    items = list(d.allocate(_two(), amount_fen=300, paid_on=date(2026, 2, 1)).instalments)
    state = d.standing(items, today=date(2026, 2, 11))
    # Instalment 1 still owes 800 principal; it fell due 10 days ago.
    assert (state.overdue_fen, state.days_past_due, state.overdue_since) == (800, 10, date(2026, 2, 1))
    assert (state.next_due_date, state.next_due_fen) == (date(2026, 3, 1), 1_050)
    assert state.outstanding_principal_fen == 1_800 and not state.settled


def test_an_instalment_due_today_is_not_yet_overdue():
    state = d.standing(_two(), today=date(2026, 2, 1))
    assert (state.overdue_fen, state.days_past_due) == (0, 0)
    assert (state.next_due_date, state.next_due_fen) == (date(2026, 2, 1), 1_100)


def test_days_past_due_count_from_the_oldest_unpaid_due_date():
    state = d.standing(_two(), today=date(2026, 3, 5))
    assert (state.overdue_fen, state.days_past_due) == (2_150, 32)
    assert (state.next_due_date, state.next_due_fen) == (None, 0)


def test_a_fully_paid_schedule_is_settled():
    items = list(d.allocate(_two(), amount_fen=2_150, paid_on=date(2026, 2, 3)).instalments)
    state = d.standing(items, today=date(2026, 5, 1))
    assert state.settled and state.outstanding_principal_fen == 0 and state.overdue_fen == 0


# ------------------------------------------------------------------------------------------------ reminders


def test_due_reminders_seven_three_and_one_day_before():
    items = _two()
    kinds = {day: [(r.seq, r.kind) for r in d.reminders_due(items, today=day)]
             for day in (date(2026, 1, 25), date(2026, 1, 29), date(2026, 1, 31), date(2026, 1, 20))}
    assert kinds[date(2026, 1, 25)] == [(1, "due_7")]
    assert kinds[date(2026, 1, 29)] == [(1, "due_3")]
    assert kinds[date(2026, 1, 31)] == [(1, "due_1")]
    assert kinds[date(2026, 1, 20)] == []


def test_overdue_reminders_at_one_seven_and_thirty_days():
    items = _two()
    assert [r.kind for r in d.reminders_due(items, today=date(2026, 2, 2)) if r.overdue] == ["overdue_1"]
    assert [r.kind for r in d.reminders_due(items, today=date(2026, 2, 10)) if r.overdue] == ["overdue_7"]
    assert [r.kind for r in d.reminders_due(items, today=date(2026, 3, 3)) if r.overdue] == ["overdue_30"]


# ------------------------------------------------------------------------------------------------ periods


def test_periods_parse_months_and_quarters():
    assert d.parse_period("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert d.parse_period("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert d.parse_period("2026-Q1") == (date(2026, 1, 1), date(2026, 3, 31))
    assert d.parse_period("2026-Q4") == (date(2026, 10, 1), date(2026, 12, 31))


@pytest.mark.parametrize("bad", ["", "2026", "2026-13", "2026-00", "2026-Q5", "2026-q1", "26-01", "1999-01",
                                 "2026-1", "2026-01-01"])
def test_bad_periods_name_the_period_field(bad):
    with pytest.raises(InvalidArgument) as err:
        d.parse_period(bad)
    assert err.value.violations[0].field == "period"


def test_yuan_is_string_arithmetic():
    assert d.yuan(20_000_000) == "200,000.00"
    assert d.yuan(5) == "0.05"
    assert d.yuan(-150) == "-1.50"
