"""Programmes: products, terms, the quota, and eligibility rules as data explained rule by rule. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from jinqiao.desk.replica.domain import MemberFacts


class Product(IntEnum):
    """The kind of credit (values as in the proto)."""

    PIONEER = 1
    MICRO_CREDIT = 2
    STARTUP_GUARANTEE = 3


class Sponsor(IntEnum):
    """Whose programme it is (values as in the proto)."""

    COUNTY = 1
    CITY = 2
    PROVINCE = 3


class Method(IntEnum):
    """How a schedule is built (values as in the proto's RepaymentMethod)."""

    EQUAL_INSTALMENT = 1
    EQUAL_PRINCIPAL = 2
    INTEREST_ONLY = 3


@dataclass(frozen=True, slots=True)
class Rules:
    """A programme's eligibility rules (CONTRACT, issue 14); zero/empty/False means "no such rule"."""

    allow_probationary: bool = False
    min_party_years: int = 0
    min_grade: str = ""
    require_no_overdue: bool = True
    min_age: int = 0
    max_age: int = 0
    require_returnee: bool = False


@dataclass(frozen=True, slots=True)
class Programme:
    """One row of ``loan_programmes`` (CONTRACT, issue 14: every concept reads programmes through this)."""

    tenant_id: str
    id: str
    name: str
    description: str
    product: int
    sponsor: int
    shared_code: str
    bank_code: str
    bank_name: str
    cap_per_person_fen: int
    min_amount_fen: int
    max_term_months: int
    methods: tuple[int, ...]
    rate_bp: int
    subsidy_bp: int
    total_quota_fen: int
    committed_fen: int
    window_start: date
    window_end: date | None
    rules: Rules
    township_final_up_to_fen: int
    review_days: int
    bank_days: int
    active: bool
    version: int
    created_at: datetime

    def open_on(self, day: date) -> bool:
        """Whether applications are taken on ``day`` (active and inside the window)."""
        return self.active and self.window_start <= day and (self.window_end is None or day <= self.window_end)


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule checked (CONTRACT): its key, its wording, whether it passed, what was found (zh-CN)."""

    rule: str
    label: str
    passed: bool
    detail: str


def check_application(*, programme: Programme, facts: MemberFacts | None, today: date, amount_fen: int,
                      term_months: int, method: int, has_overdue: bool, borrowed_fen: int) -> list[RuleResult]:
    """CONTRACT: every rule of the programme and of the request checked, in a stable order, each explained.

    ``borrowed_fen`` is what the member already holds of this programme (approved, granted or outstanding), counted
    against the cap per person; ``has_overdue``: the member has an overdue loan in this county. With no facts yet
    (registry has not told the desk), the member-fact rules fail with "尚未收到登记信息".
    """
    raise NotImplementedError("programmes.domain.check_application (issue 14)")
