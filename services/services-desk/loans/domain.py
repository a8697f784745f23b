"""Loans: states, tiers and the moves between them, who decides which tier. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument


class LoanStatus(IntEnum):
    """提交 → 支部推荐 → 乡镇审核 → (县级审批) → 银行授信 → 放款 → 结清; 未通过 / 已撤回 (values as in the proto)."""

    SUBMITTED = 1
    RECOMMENDED = 2
    REVIEWED = 3
    APPROVED = 4
    CREDIT_GRANTED = 5
    DISBURSED = 6
    SETTLED = 7
    REFUSED = 8
    WITHDRAWN = 9


class LoanTier(IntEnum):
    """A review tier (values as in the proto); NONE when nothing is pending."""

    NONE = 0
    BRANCH = 1
    TOWNSHIP = 2
    COUNTY = 3
    BANK = 4


class Decision(IntEnum):
    """A reviewer's answer (values as in the proto)."""

    APPROVE = 1
    REFUSE = 2


class Channel(IntEnum):
    """How the application came in (values as in the proto)."""

    MEMBER_APP = 1
    ON_BEHALF = 2


# The statuses in which the loan still holds committed quota (released on a decline or withdrawal).
HOLDS_QUOTA = frozenset({LoanStatus.APPROVED, LoanStatus.CREDIT_GRANTED})
# Open applications: the member may withdraw them.
WITHDRAWABLE = frozenset({LoanStatus.SUBMITTED, LoanStatus.RECOMMENDED, LoanStatus.REVIEWED, LoanStatus.APPROVED,
                          LoanStatus.CREDIT_GRANTED})

# Text bounds of an application (the console's form says the same).
PURPOSE_MIN = 2
PURPOSE_MAX = 500
BUSINESS_PLAN_MAX = 5000
REASON_MIN = 2
REASON_MAX = 500
REQUEST_ID_MAX = 100
MAX_TERM_MONTHS = 360
# Attachments of one application (营业执照, 经营计划, 流水…).
MAX_ATTACHMENTS = 10
# Statuses whose sum of amounts counts against the cap per person (disbursed ones count their outstanding principal).
IN_PROGRESS = frozenset({LoanStatus.SUBMITTED, LoanStatus.RECOMMENDED, LoanStatus.REVIEWED, LoanStatus.APPROVED,
                         LoanStatus.CREDIT_GRANTED})
# Where each public tier's approval sends the application (the final approval is decided separately).
_PUBLIC_PATH = {LoanStatus.SUBMITTED: LoanTier.BRANCH, LoanStatus.RECOMMENDED: LoanTier.TOWNSHIP,
                LoanStatus.REVIEWED: LoanTier.COUNTY}
PUBLIC_TIERS = frozenset({LoanTier.BRANCH, LoanTier.TOWNSHIP, LoanTier.COUNTY})
TIER_NAMES = {LoanTier.BRANCH: "党支部", LoanTier.TOWNSHIP: "乡镇（街道）党委", LoanTier.COUNTY: "县委组织部",
              LoanTier.BANK: "合作银行"}
# The history's action for each tier's approval.
APPROVE_ACTIONS = {LoanTier.BRANCH: "recommended", LoanTier.TOWNSHIP: "reviewed", LoanTier.COUNTY: "approved"}
NOT_YOUR_TIER = "当前环节不由您审批"
QUOTA_EXHAUSTED = "项目剩余额度不足，无法审批"


def loan_number(year: int, seq: int) -> str:
    """The county's loan number: 贷YYYY-NNNNNN."""
    return f"贷{year}-{seq:06d}"


def clean_application(*, amount_fen: int, term_months: int, method: int, purpose: str,
                      business_plan: str) -> tuple[str, str]:
    """The application's purpose and plan trimmed; every broken field reported at once (InvalidArgument)."""
    violations: list[FieldViolation] = []
    if amount_fen <= 0:
        violations.append(FieldViolation("amount_fen", "申请金额须大于 0"))
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        violations.append(FieldViolation("term_months", f"贷款期限须在 1 至 {MAX_TERM_MONTHS} 个月之间"))
    if method not in _METHODS:
        violations.append(FieldViolation("method", "请选择还款方式"))
    clean_purpose = purpose.strip()
    if not PURPOSE_MIN <= len(clean_purpose) <= PURPOSE_MAX:
        violations.append(FieldViolation("purpose", f"贷款用途须为 {PURPOSE_MIN} 至 {PURPOSE_MAX} 个字"))
    clean_plan = business_plan.strip()
    if len(clean_plan) > BUSINESS_PLAN_MAX:
        violations.append(FieldViolation("business_plan", f"经营计划不能超过 {BUSINESS_PLAN_MAX} 个字"))
    if violations:
        raise InvalidArgument(violations)
    return clean_purpose, clean_plan


_METHODS = frozenset({1, 2, 3})


def clean_reason(reason: str, *, required: bool) -> str:
    """A decision's reason trimmed: required (2–500 characters) for a refusal or withdrawal by staff."""
    text = reason.strip()
    if len(text) > REASON_MAX:
        raise InvalidArgument.field("reason", f"理由不能超过 {REASON_MAX} 个字")
    if required and len(text) < REASON_MIN:
        raise InvalidArgument.field("reason", "请填写不予通过的理由（至少 2 个字）")
    return text


def parse_decision(value: int) -> Decision:
    """A decision from the wire; UNSPECIFIED or unknown is refused."""
    try:
        return Decision(value)
    except ValueError:
        raise InvalidArgument.field("decision", "请选择通过或不通过") from None


def ineligible(results: list[tuple[str, str, bool, str]]) -> InvalidArgument | None:
    """The error telling an ineligible member which rules failed (one violation per failed rule), or None.

    ``results`` are (rule, label, passed, detail)."""
    failed = [FieldViolation(f"eligibility.{rule}", f"{label}：{detail}" if detail else label)
              for rule, label, passed, detail in results if not passed]
    if not failed:
        return None
    return InvalidArgument(failed, "不符合申请条件：" + "；".join(v.description for v in failed))


def tier_of_role(role: str) -> LoanTier | None:
    """The tier a role decides as its own (county department: COUNTY, bank: BANK); None for others."""
    return _ROLE_TIERS.get(role)


_ROLE_TIERS = {"branch_secretary": LoanTier.BRANCH, "township_officer": LoanTier.TOWNSHIP,
               "county_admin": LoanTier.COUNTY, "bank_officer": LoanTier.BANK}


def may_decide(*, role: str, pending: LoanTier) -> bool:
    """Whether a role decides the pending public tier: each office its own; the county department any public tier
    (standing in for an absent branch or township)."""
    if pending not in PUBLIC_TIERS:
        return False
    if role == "county_admin":
        return True
    return tier_of_role(role) is pending


@dataclass(frozen=True, slots=True)
class Move:
    """Where an approval takes the application: the new status, the tier it then waits for, and whether this was
    the final public approval (which commits the quota)."""

    status: LoanStatus
    pending: LoanTier
    final: bool


def approve(*, status: LoanStatus, amount_fen: int, township_final_up_to_fen: int) -> Move:
    """The move a public approval makes from ``status``; the township is final for amounts within its limit."""
    tier = _PUBLIC_PATH.get(status)
    if tier is LoanTier.BRANCH:
        return Move(LoanStatus.RECOMMENDED, LoanTier.TOWNSHIP, False)
    if tier is LoanTier.TOWNSHIP:
        if 0 < township_final_up_to_fen and amount_fen <= township_final_up_to_fen:
            return Move(LoanStatus.APPROVED, LoanTier.BANK, True)
        return Move(LoanStatus.REVIEWED, LoanTier.COUNTY, False)
    if tier is LoanTier.COUNTY:
        return Move(LoanStatus.APPROVED, LoanTier.BANK, True)
    raise FailedPrecondition("该申请当前不在审核环节")


def pending_of(status: LoanStatus) -> LoanTier:
    """The public tier a status waits for (NONE outside the public review)."""
    return _PUBLIC_PATH.get(status, LoanTier.NONE)


def check_grant(*, granted_amount_fen: int, amount_fen: int) -> int:
    """The bank's granted amount: 0 means the amount asked; otherwise 0 < granted ≤ amount."""
    granted = granted_amount_fen or amount_fen
    if granted < 0 or granted > amount_fen:
        raise InvalidArgument.field("granted_amount_fen", "授信金额须大于 0 且不超过审批金额")
    return granted


def check_version(*, current: int, given: int) -> None:
    """Refuse a decision made on a stale copy (0: no check)."""
    if given and given != current:
        raise FailedPrecondition("贷款申请已被他人更新，请刷新后重试")
