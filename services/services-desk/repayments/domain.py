"""Money: schedules, 贴息 and the allocation of repayments, in integer 分 with Decimal arithmetic. No I/O.

Rounding rules (the one place they are written down; tests/unit/desk/test_repayments_domain.py checks each):

1. Amounts are integer 分 (fen). Rates are basis points (bp) a year. No float is ever used: intermediate values are
   ``Decimal`` in a local context of 50 significant digits, rounded to the fen with ROUND_HALF_UP (0.5 fen → up).
2. The monthly rate is r = Decimal(rate_bp) / 10000 / 12, exact to 50 digits.
3. A schedule has ``term_months`` periods. Periods are calendar months: due date k is k months after the
   disbursement day (or k − 1 months after ``first_due_date`` when the bank names one), always counted from that
   anchor day and clamped to the month's end (anchor 31 Jan → 28/29 Feb → 31 Mar → 30 Apr).
4. Interest of a period = ROUND_HALF_UP(opening balance × r) to the fen, whatever the period's length in days.
5. 等额本息 (EQUAL_INSTALMENT): payment A = ROUND_HALF_UP(P·r·(1+r)^n / ((1+r)^n − 1)); principal_k = A − interest_k,
   never more than the balance (with tiny loans the rounded A can outrun it: the rest of the periods then carry
   0); the LAST period's principal is the remaining balance, so principals sum to P exactly and the last payment
   may differ from A by a few fen. With r = 0 the 等额本金 rule applies.
6. 等额本金 (EQUAL_PRINCIPAL): principal_k = P // n, the remainder (P mod n fen) added to the FIRST period; interest
   on the balance (rule 4).
7. 先息后本 (INTEREST_ONLY): interest on the whole principal each period, the principal in the last period.
8. 贴息 of a period: subsidy_k = ROUND_HALF_UP(interest_k × subsidy_bp / rate_bp) (0 when rate_bp = 0); the
   borrower's interest is interest_k − subsidy_k, so the two parts always sum to the period's interest to the fen.
   What the borrower owes a period (due) is principal_k + borrower interest_k; public finance pays the 贴息.
9. A repayment goes to the oldest unpaid instalment first; within one, the borrower's interest before the principal.
   More than everything still owed is refused; a smaller amount leaves an instalment partly paid; ``paid_on`` is
   set on an instalment when it is fully paid.
10. Overdue as of a day: an instalment is overdue when its due date is before that day and it is not fully paid.
    overdue = unpaid principal + unpaid borrower interest of the overdue instalments; days past due = the day − the
    oldest overdue due date; the next due date/amount = the first unpaid instalment not yet overdue.
    There is no 罚息 (penalty interest) here: the bank computes it under its contract, and the platform records
    what the bank records (repayments as the bank reports them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from jinqiao.desk.programmes.domain import Method
from jinqiao.kit.errors import InvalidArgument

PRECISION = 50
_ONE = Decimal(1)

# Reminders: days before a due date, and days past the oldest unpaid due date (each sent once).
DUE_REMINDER_DAYS = (7, 3, 1)
OVERDUE_REMINDER_DAYS = (1, 7, 30)
# How far ahead the sweep looks: a loan whose next due date is further away has nothing to remind of yet.
REMINDER_HORIZON_DAYS = max(DUE_REMINDER_DAYS)


METHOD_LABEL = {Method.EQUAL_INSTALMENT: "等额本息", Method.EQUAL_PRINCIPAL: "等额本金",
                Method.INTEREST_ONLY: "先息后本"}


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a schedule as built at disbursement."""

    seq: int
    due_date: date
    principal_fen: int
    interest_fen: int
    subsidy_fen: int
    borrower_interest_fen: int
    balance_after_fen: int

    @property
    def due_fen(self) -> int:
        """What the borrower owes this period: principal + their part of the interest."""
        return self.principal_fen + self.borrower_interest_fen


@dataclass(frozen=True, slots=True)
class Instalment:
    """A stored period and what has been paid of it (the borrower's interest first, then the principal)."""

    seq: int
    due_date: date
    principal_fen: int
    borrower_interest_fen: int
    paid_principal_fen: int = 0
    paid_interest_fen: int = 0
    paid_on: date | None = None

    @property
    def unpaid_interest_fen(self) -> int:
        """The borrower's interest still owed."""
        return self.borrower_interest_fen - self.paid_interest_fen

    @property
    def unpaid_principal_fen(self) -> int:
        """The principal still owed."""
        return self.principal_fen - self.paid_principal_fen

    @property
    def unpaid_fen(self) -> int:
        """Everything still owed of this instalment."""
        return self.unpaid_interest_fen + self.unpaid_principal_fen

    @property
    def fully_paid(self) -> bool:
        """Nothing is owed of it any more."""
        return self.unpaid_fen <= 0

    def overdue_on(self, today: date) -> bool:
        """Past its due date and not fully paid."""
        return self.due_date < today and not self.fully_paid


@dataclass(frozen=True, slots=True)
class Allocation:
    """A repayment split over the instalments: what went to interest and principal, and the instalments after."""

    principal_fen: int
    interest_fen: int
    instalments: tuple[Instalment, ...]
    changed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a loan stands on a day."""

    outstanding_principal_fen: int
    overdue_fen: int
    days_past_due: int
    overdue_since: date | None
    oldest_overdue_seq: int
    next_due_date: date | None
    next_due_fen: int
    settled: bool


# ------------------------------------------------------------------------------------------------ rounding


def round_fen(value: Decimal) -> int:
    """ROUND_HALF_UP to a whole fen."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))


def monthly_rate(rate_bp: int) -> Decimal:
    """r = rate_bp / 10000 / 12, exact to 50 significant digits."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Decimal(rate_bp) / 10000 / 12


def interest_of(balance_fen: int, rate_bp: int) -> int:
    """One period's interest on an opening balance (rule 4)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return round_fen(Decimal(balance_fen) * monthly_rate(rate_bp))


def subsidy_of(interest_fen: int, *, rate_bp: int, subsidy_bp: int) -> int:
    """The 贴息 part of a period's interest (rule 8)."""
    if rate_bp <= 0 or subsidy_bp <= 0:
        return 0
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return round_fen(Decimal(interest_fen) * subsidy_bp / rate_bp)


def equal_payment(principal_fen: int, term_months: int, rate_bp: int) -> int:
    """The 等额本息 payment A (rule 5)."""
    r = monthly_rate(rate_bp)
    if r == 0:
        return -(-principal_fen // term_months)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        growth = (_ONE + r) ** term_months
        return round_fen(Decimal(principal_fen) * r * growth / (growth - _ONE))


# ---------------------------------------------------------------------------------------------- the calendar


def add_months(anchor: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to that month's end."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    return date(year, month, min(anchor.day, _month_end(year, month).day))


def _month_end(year: int, month: int) -> date:
    first_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first_next - timedelta(days=1)


def due_dates(*, disbursed_on: date, term_months: int, first_due_date: date | None = None) -> list[date]:
    """The due dates of every period (rule 3)."""
    if first_due_date is None:
        return [add_months(disbursed_on, k) for k in range(1, term_months + 1)]
    return [add_months(first_due_date, k) for k in range(term_months)]


# ---------------------------------------------------------------------------------------------- the schedule


def build_schedule(*, principal_fen: int, term_months: int, method: int, rate_bp: int, subsidy_bp: int,
                   disbursed_on: date, first_due_date: date | None = None) -> list[Period]:
    """Every period of a loan's schedule, by the rules in this module's docstring."""
    if principal_fen <= 0:
        raise InvalidArgument.field("granted_amount_fen", "贷款金额须大于 0")
    if term_months < 1:
        raise InvalidArgument.field("term_months", "期限须至少 1 个月")
    if not 0 <= subsidy_bp <= max(rate_bp, 0):
        raise InvalidArgument.field("subsidy_bp", "贴息利率不能超过贷款利率")
    kind = Method(method)
    if kind is Method.EQUAL_INSTALMENT and rate_bp == 0:
        kind = Method.EQUAL_PRINCIPAL
    dates = due_dates(disbursed_on=disbursed_on, term_months=term_months, first_due_date=first_due_date)
    payment = equal_payment(principal_fen, term_months, rate_bp) if kind is Method.EQUAL_INSTALMENT else 0
    base, remainder = divmod(principal_fen, term_months)
    balance = principal_fen
    periods: list[Period] = []
    for seq, due in enumerate(dates, start=1):
        interest = interest_of(balance, rate_bp)
        last = seq == term_months
        if last:
            principal = balance
        elif kind is Method.EQUAL_INSTALMENT:
            principal = min(payment - interest, balance)
        elif kind is Method.EQUAL_PRINCIPAL:
            principal = base + (remainder if seq == 1 else 0)
        else:
            principal = 0
        balance -= principal
        subsidy = subsidy_of(interest, rate_bp=rate_bp, subsidy_bp=subsidy_bp)
        periods.append(Period(seq=seq, due_date=due, principal_fen=principal, interest_fen=interest,
                              subsidy_fen=subsidy, borrower_interest_fen=interest - subsidy, balance_after_fen=balance))
    return periods


# ---------------------------------------------------------------------------------------------- repayments


def yuan(fen: int) -> str:
    """Fen as 元 text with two decimals and thousands separators (string arithmetic, never float)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def allocate(instalments: list[Instalment] | tuple[Instalment, ...], *, amount_fen: int,
             paid_on: date) -> Allocation:
    """Split a repayment over the instalments: the oldest unpaid first, within it interest before principal."""
    if amount_fen <= 0:
        raise InvalidArgument.field("amount_fen", "还款金额须大于 0")
    ordered = sorted(instalments, key=lambda i: i.seq)
    owed = sum(i.unpaid_fen for i in ordered)
    if amount_fen > owed:
        raise InvalidArgument.field("amount_fen", f"超过剩余应还金额 {yuan(owed)} 元")
    left = amount_fen
    to_interest = to_principal = 0
    result: list[Instalment] = []
    changed: list[int] = []
    reached = True  # every earlier instalment is fully paid
    for item in ordered:
        if item.fully_paid:
            # An instalment of nothing (a tiny loan's tail) counts as paid once the payments reach it.
            if item.paid_on is None and reached:
                item = replace(item, paid_on=paid_on)
                changed.append(item.seq)
            result.append(item)
            continue
        if left <= 0:
            reached = False
            result.append(item)
            continue
        interest = min(left, item.unpaid_interest_fen)
        left -= interest
        principal = min(left, item.unpaid_principal_fen)
        left -= principal
        to_interest += interest
        to_principal += principal
        item = replace(item, paid_interest_fen=item.paid_interest_fen + interest,
                       paid_principal_fen=item.paid_principal_fen + principal)
        if item.fully_paid:
            item = replace(item, paid_on=paid_on)
        else:
            reached = False
        result.append(item)
        changed.append(item.seq)
    return Allocation(principal_fen=to_principal, interest_fen=to_interest, instalments=tuple(result),
                      changed=tuple(changed))


def standing(instalments: list[Instalment] | tuple[Instalment, ...], *, today: date) -> Standing:
    """Outstanding principal, overdue amount and days, and the next due date and amount, as of ``today``."""
    ordered = sorted(instalments, key=lambda i: i.seq)
    outstanding = sum(i.unpaid_principal_fen for i in ordered)
    overdue = [i for i in ordered if i.overdue_on(today)]
    upcoming = next((i for i in ordered if not i.fully_paid and i.due_date >= today), None)
    since = min((i.due_date for i in overdue), default=None)
    return Standing(
        outstanding_principal_fen=outstanding,
        overdue_fen=sum(i.unpaid_fen for i in overdue),
        days_past_due=(today - since).days if since is not None else 0,
        overdue_since=since,
        oldest_overdue_seq=overdue[0].seq if overdue else 0,
        next_due_date=upcoming.due_date if upcoming is not None else None,
        next_due_fen=upcoming.unpaid_fen if upcoming is not None else 0,
        settled=all(i.fully_paid for i in ordered),
    )


# ---------------------------------------------------------------------------------------------- reminders


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder to send (once: ``kind`` per instalment ``seq``): before a due date, or past due."""

    seq: int
    kind: str
    days: int
    overdue: bool


def reminders_due(instalments: list[Instalment] | tuple[Instalment, ...], *, today: date) -> list[Reminder]:
    """The reminders that apply today; the caller sends each (seq, kind) once.

    Before a due date the tightest threshold the day falls within (≤ 7 → due_7, ≤ 3 → due_3, ≤ 1 → due_1), so a
    sweep that missed a day still reminds; past due the largest threshold reached (overdue_1, _7, _30), keyed by
    the oldest overdue instalment.
    """
    found: list[Reminder] = []
    for item in sorted(instalments, key=lambda i: i.seq):
        if item.fully_paid:
            continue
        before = (item.due_date - today).days
        if 1 <= before <= max(DUE_REMINDER_DAYS):
            threshold = min(d for d in DUE_REMINDER_DAYS if d >= before)
            found.append(Reminder(seq=item.seq, kind=f"due_{threshold}", days=before, overdue=False))
    state = standing(instalments, today=today)
    if state.overdue_since is not None:
        reached = [d for d in OVERDUE_REMINDER_DAYS if d <= state.days_past_due]
        if reached:
            found.append(Reminder(seq=state.oldest_overdue_seq, kind=f"overdue_{max(reached)}",
                                  days=state.days_past_due, overdue=True))
    return found


# ---------------------------------------------------------------------------------------------- periods


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def parse_period(value: str) -> tuple[date, date]:
    """A claim period, ``YYYY-MM`` or ``YYYY-Qn``, as its first and last day (inclusive)."""
    text = value.strip()
    month = _MONTH.fullmatch(text)
    quarter = _QUARTER.fullmatch(text)
    if month is not None:
        year, first, last = int(month.group(1)), int(month.group(2)), int(month.group(2))
    elif quarter is not None:
        year = int(quarter.group(1))
        first = 3 * (int(quarter.group(2)) - 1) + 1
        last = first + 2
    else:
        raise InvalidArgument.field("period", "格式应为 YYYY-MM（月）或 YYYY-Qn（季度），如 2026-03 或 2026-Q1")
    if not 2000 <= year <= 2100 or not 1 <= first <= 12:
        raise InvalidArgument.field("period", "不是有效的月份或季度")
    return date(year, first, 1), _month_end(year, last)
