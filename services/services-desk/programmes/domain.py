"""Programmes: products, terms, the quota, and eligibility rules as data explained rule by rule. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum

from jinqiao.desk.replica.domain import MemberFacts
from jinqiao.kit.errors import FieldViolation, InvalidArgument


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


# ---------------------------------------------------------------- words and figures

# The 1-year Loan Prime Rate (LPR) in basis points: 3.00 %, the 2025 figure. 创业担保贷款's borrower pays the part of
# the rate below LPR − 150 bp and public finance the rest (贴息); a programme may override the subsidy it computes.
LPR_1Y_BP = 300
STARTUP_BORROWER_BELOW_LPR_BP = 150

# 双向评议 grades, best first (registry's names), and their Chinese names.
GRADE_RANK: dict[str, int] = {"EXCELLENT": 3, "COMPETENT": 2, "BASICALLY_COMPETENT": 1, "INCOMPETENT": 0}
GRADE_LABEL: dict[str, str] = {"EXCELLENT": "优秀", "COMPETENT": "合格", "BASICALLY_COMPETENT": "基本合格",
                               "INCOMPETENT": "不合格"}
# A programme may ask for at least one of these (asking for at least 不合格 would be no rule at all).
MIN_GRADES = frozenset({"EXCELLENT", "COMPETENT", "BASICALLY_COMPETENT"})

PRODUCT_LABEL: dict[int, str] = {Product.PIONEER: "党员先锋贷", Product.MICRO_CREDIT: "小额信用贷款",
                                 Product.STARTUP_GUARANTEE: "创业担保贷款"}
METHOD_LABEL: dict[int, str] = {Method.EQUAL_INSTALMENT: "等额本息", Method.EQUAL_PRINCIPAL: "等额本金",
                                Method.INTEREST_ONLY: "先息后本"}
SPONSOR_LABEL: dict[int, str] = {Sponsor.COUNTY: "县（区）", Sponsor.CITY: "市（州）", Sponsor.PROVINCE: "省"}

FULL = "MEMBERSHIP_STATUS_FULL"
PROBATIONARY = "MEMBERSHIP_STATUS_PROBATIONARY"

_FEN_PER_WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 分


def yuan(fen: int) -> str:
    """An amount of 分 as people read it: "30 万元" when it is whole 万, else "12,345.67 元" (Decimal, never float)."""
    if fen == 0:
        return "0 元"
    if fen % _FEN_PER_WAN == 0:
        return f"{fen // _FEN_PER_WAN:,} 万元"
    return f"{Decimal(fen).scaleb(-2):,.2f} 元"


def whole_years(since: date, today: date) -> int:
    """Whole years from ``since`` to ``today`` by the calendar (a birthday-style count; 29 Feb counts from 1 Mar)."""
    return today.year - since.year - ((today.month, today.day) < (since.month, since.day))


# ---------------------------------------------------------------- eligibility

# The order rules are checked and listed in (stable: the console and the refusal both follow it).
RULE_ORDER = ("window", "membership_status", "min_party_years", "min_grade", "no_overdue", "age", "returnee",
              "amount", "term", "method", "quota")
NO_FACTS = "尚未收到该党员的登记信息（稍后再试）"


def _window(programme: Programme, today: date) -> RuleResult:
    end = programme.window_end.isoformat() if programme.window_end else "长期"
    label = f"申请期内（{programme.window_start.isoformat()} 至 {end}）"
    if not programme.active:
        return RuleResult("window", label, False, "项目已停办")
    if today < programme.window_start:
        return RuleResult("window", label, False, f"申请期尚未开始（{programme.window_start.isoformat()} 起）")
    if programme.window_end is not None and today > programme.window_end:
        return RuleResult("window", label, False, f"申请期已于 {programme.window_end.isoformat()} 结束")
    return RuleResult("window", label, True, f"今天（{today.isoformat()}）在申请期内")


def _membership(rules: Rules, facts: MemberFacts | None) -> RuleResult:
    label = "正式或预备党员" if rules.allow_probationary else "正式党员"
    if facts is None or facts.facts_at is None:
        return RuleResult("membership_status", label, False, NO_FACTS)
    if not facts.active:
        return RuleResult("membership_status", label, False, "该党员已转出本县（区）")
    if facts.membership_status == FULL:
        return RuleResult("membership_status", label, True, "正式党员")
    if facts.membership_status == PROBATIONARY:
        return RuleResult("membership_status", label, rules.allow_probationary,
                          "预备党员" if rules.allow_probationary else "预备党员（本项目限正式党员）")
    return RuleResult("membership_status", label, False, "党员类别未登记")


def _party_years(rules: Rules, facts: MemberFacts | None, today: date) -> RuleResult:
    label = f"入党满 {rules.min_party_years} 年"
    if facts is None or facts.facts_at is None:
        return RuleResult("min_party_years", label, False, NO_FACTS)
    if facts.join_date is None:
        return RuleResult("min_party_years", label, False, "入党日期未登记")
    years = whole_years(facts.join_date, today)
    return RuleResult("min_party_years", label, years >= rules.min_party_years,
                      f"入党 {max(years, 0)} 年（{facts.join_date.isoformat()} 入党）")


def _grade(rules: Rules, facts: MemberFacts | None) -> RuleResult:
    label = f"最近一次双向评议“{GRADE_LABEL.get(rules.min_grade, rules.min_grade)}”及以上"
    if facts is None or facts.facts_at is None:
        return RuleResult("min_grade", label, False, NO_FACTS)
    if facts.latest_grade not in GRADE_RANK:
        return RuleResult("min_grade", label, False, "尚无双向评议结果")
    year = f"{facts.latest_grade_year} 年度" if facts.latest_grade_year else ""
    passed = GRADE_RANK[facts.latest_grade] >= GRADE_RANK.get(rules.min_grade, 0)
    return RuleResult("min_grade", label, passed, f"{year}评议为“{GRADE_LABEL[facts.latest_grade]}”")


def _no_overdue(has_overdue: bool) -> RuleResult:
    return RuleResult("no_overdue", "本县（区）无逾期贷款", not has_overdue,
                      "有逾期未还的贷款" if has_overdue else "无逾期贷款")


def _age(rules: Rules, facts: MemberFacts | None, today: date) -> RuleResult:
    if rules.min_age and rules.max_age:
        label = f"年龄 {rules.min_age}–{rules.max_age} 岁（按出生年份计）"
    elif rules.min_age:
        label = f"年龄不低于 {rules.min_age} 岁（按出生年份计）"
    else:
        label = f"年龄不超过 {rules.max_age} 岁（按出生年份计）"
    if facts is None or facts.facts_at is None:
        return RuleResult("age", label, False, NO_FACTS)
    if facts.birth_year <= 0:
        return RuleResult("age", label, False, "出生年份未登记")
    age = today.year - facts.birth_year
    passed = (not rules.min_age or age >= rules.min_age) and (not rules.max_age or age <= rules.max_age)
    return RuleResult("age", label, passed, f"{age} 岁（{facts.birth_year} 年出生，按出生年份计）")


def _returnee(facts: MemberFacts | None) -> RuleResult:
    label = "返乡创业（回归）党员"
    if facts is None or facts.facts_at is None:
        return RuleResult("returnee", label, False, NO_FACTS)
    return RuleResult("returnee", label, facts.returned, "已回归" if facts.returned else "尚未登记回归")


def _amount(programme: Programme, amount_fen: int, borrowed_fen: int) -> RuleResult:
    cap, least = programme.cap_per_person_fen, programme.min_amount_fen
    label = (f"申请金额 {yuan(least)}–{yuan(cap)}，单户（人）合计不超过 {yuan(cap)}" if least
             else f"单户（人）合计不超过 {yuan(cap)}")
    detail = f"申请 {yuan(amount_fen)}，已占用 {yuan(borrowed_fen)}，上限 {yuan(cap)}"
    if amount_fen <= 0:
        return RuleResult("amount", label, False, "申请金额应大于 0")
    if amount_fen < least:
        return RuleResult("amount", label, False, f"{detail}，最低 {yuan(least)}")
    return RuleResult("amount", label, borrowed_fen + amount_fen <= cap, detail)


def _term(programme: Programme, term_months: int) -> RuleResult:
    label = f"期限 1–{programme.max_term_months} 个月"
    return RuleResult("term", label, 1 <= term_months <= programme.max_term_months, f"申请 {term_months} 个月")


def _method(programme: Programme, method: int) -> RuleResult:
    offered = "、".join(METHOD_LABEL.get(m, str(m)) for m in programme.methods)
    label = f"还款方式：{offered}"
    chosen = METHOD_LABEL.get(method, "未知方式")
    return RuleResult("method", label, method in programme.methods, f"选择{chosen}")


def _quota(programme: Programme, amount_fen: int) -> RuleResult:
    left = max(programme.total_quota_fen - programme.committed_fen, 0)
    return RuleResult("quota", f"项目总额度 {yuan(programme.total_quota_fen)} 内", amount_fen <= left,
                      f"剩余额度 {yuan(left)}")


def check_application(*, programme: Programme, facts: MemberFacts | None, today: date, amount_fen: int,
                      term_months: int, method: int, has_overdue: bool, borrowed_fen: int) -> list[RuleResult]:
    """CONTRACT: every rule of the programme and of the request checked, in a stable order, each explained.

    ``borrowed_fen`` is what the member already holds of this programme (approved, granted or outstanding), counted
    against the cap per person; ``has_overdue``: the member has an overdue loan in this county. With no facts yet
    (registry has not told the desk), the member-fact rules fail with "尚未收到登记信息". Rules a programme does not
    set are not listed; ``method`` 0 (not chosen yet: the pre-check before applying) skips the method rule. The
    quota is only a warning when filing: the hard check is the approval's atomic commit.
    """
    rules = programme.rules
    results = [_window(programme, today), _membership(rules, facts)]
    if rules.min_party_years > 0:
        results.append(_party_years(rules, facts, today))
    if rules.min_grade:
        results.append(_grade(rules, facts))
    if rules.require_no_overdue:
        results.append(_no_overdue(has_overdue))
    if rules.min_age > 0 or rules.max_age > 0:
        results.append(_age(rules, facts, today))
    if rules.require_returnee:
        results.append(_returnee(facts))
    results.append(_amount(programme, amount_fen, borrowed_fen))
    results.append(_term(programme, term_months))
    if method:
        results.append(_method(programme, method))
    results.append(_quota(programme, amount_fen))
    return results


def eligible(results: list[RuleResult]) -> bool:
    """Whether every rule checked passed."""
    return all(r.passed for r in results)


# ---------------------------------------------------------------- a programme's terms: defaults and validation


@dataclass(frozen=True, slots=True)
class ProgrammeDraft:
    """The terms a county enters for a programme (create, or update replacing them), before defaults and checks.

    Dates are the wire's ISO text ("" when not given) so a bad one is reported on its field."""

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
    window_start: str
    window_end: str
    rules: Rules
    township_final_up_to_fen: int
    review_days: int
    bank_days: int
    active: bool


@dataclass(frozen=True, slots=True)
class ValidTerms:
    """A draft that passed validation, with its window as dates."""

    draft: ProgrammeDraft
    window_start: date
    window_end: date | None


# The public examples, as defaults a programme overrides: 党员先锋贷 up to 30 万元 for three years on pure
# credit; 创业担保贷款 up to 20 万元 for three years (national rule; localities may go higher).
PRODUCT_DEFAULTS: dict[int, tuple[int, int]] = {
    Product.PIONEER: (30_000_000, 36),
    Product.STARTUP_GUARANTEE: (20_000_000, 36),
}
DEFAULT_REVIEW_DAYS = 5
DEFAULT_BANK_DAYS = 10
ALL_METHODS: tuple[int, ...] = tuple(int(m) for m in Method)


def startup_subsidy_bp(rate_bp: int, *, lpr_bp: int = LPR_1Y_BP) -> int:
    """创业担保贷款's 贴息: the borrower pays up to LPR − 150 bp of the rate, public finance the rest (never < 0)."""
    borrower = min(rate_bp, max(lpr_bp - STARTUP_BORROWER_BELOW_LPR_BP, 0))
    return rate_bp - borrower


def with_defaults(draft: ProgrammeDraft, *, today: date) -> ProgrammeDraft:
    """Fill only the fields left 0/empty: the product's cap and term, every method, the 创业担保贷款 subsidy from the
    LPR, the review and bank days, a window starting today."""
    cap, term = PRODUCT_DEFAULTS.get(draft.product, (0, 0))
    subsidy = draft.subsidy_bp
    if draft.product == Product.STARTUP_GUARANTEE and subsidy == 0 and draft.rate_bp > 0:
        subsidy = startup_subsidy_bp(draft.rate_bp)
    description = draft.description
    if not description.strip() and draft.product == Product.PIONEER:
        description = "纯信用，免抵押、免担保"
    return replace(
        draft, description=description, cap_per_person_fen=draft.cap_per_person_fen or cap,
        max_term_months=draft.max_term_months or term, methods=draft.methods or ALL_METHODS, subsidy_bp=subsidy,
        review_days=draft.review_days or DEFAULT_REVIEW_DAYS, bank_days=draft.bank_days or DEFAULT_BANK_DAYS,
        window_start=draft.window_start.strip() or today.isoformat(), window_end=draft.window_end.strip())


_BANK_CODE = re.compile(r"[a-z0-9-]{2,32}")
_SHARED_CODE = re.compile(r"[A-Za-z0-9_-]{0,40}")


def _iso_date(value: str, field: str, problems: list[FieldViolation]) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(FieldViolation(field, "应为日期，如 2026-01-01"))
        return None


def _text(value: str, field: str, low: int, high: int, problems: list[FieldViolation]) -> None:
    n = len(value.strip())
    if n < low or n > high:
        problems.append(FieldViolation(field, f"应为 {low}–{high} 个字"))


def validate_programme(draft: ProgrammeDraft) -> ValidTerms:
    """Check every term of a (defaulted) draft; all problems at once, each on ``programme.<field>`` in Chinese."""
    problems: list[FieldViolation] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldViolation(f"programme.{field}", message))

    _text(draft.name, "programme.name", 2, 60, problems)
    if len(draft.description) > 2000:
        bad("description", "不能超过 2000 个字")
    if draft.product not in PRODUCT_LABEL:
        bad("product", "请选择贷款产品：党员先锋贷、小额信用贷款或创业担保贷款")
    if draft.sponsor not in SPONSOR_LABEL:
        bad("sponsor", "请选择项目主体：县（区）、市（州）或省")
    if not _SHARED_CODE.fullmatch(draft.shared_code):
        bad("shared_code", "只能包含字母、数字、下划线和连字符，最多 40 个字符")
    if not _BANK_CODE.fullmatch(draft.bank_code):
        bad("bank_code", "应为 2–32 位小写字母、数字或连字符，如 gsrcb")
    _text(draft.bank_name, "programme.bank_name", 2, 60, problems)
    if draft.cap_per_person_fen <= 0:
        bad("cap_per_person_fen", "应大于 0")
    if draft.min_amount_fen < 0:
        bad("min_amount_fen", "不能小于 0")
    elif draft.cap_per_person_fen > 0 and draft.min_amount_fen > draft.cap_per_person_fen:
        bad("min_amount_fen", f"不能高于单户（人）贷款上限 {yuan(draft.cap_per_person_fen)}")
    if not 1 <= draft.max_term_months <= 360:
        bad("max_term_months", "应为 1–360 个月")
    if not draft.methods:
        bad("methods", "至少选择一种还款方式")
    elif any(m not in METHOD_LABEL for m in draft.methods) or len(set(draft.methods)) != len(draft.methods):
        bad("methods", "还款方式无效或重复，可选：等额本息、等额本金、先息后本")
    if not 0 <= draft.rate_bp <= 10_000:
        bad("rate_bp", "年利率（基点）应为 0–10000（1 基点 = 0.01%）")
    if draft.subsidy_bp < 0:
        bad("subsidy_bp", "贴息（基点）不能小于 0")
    elif 0 <= draft.rate_bp <= 10_000 and draft.subsidy_bp > draft.rate_bp:
        bad("subsidy_bp", f"贴息（基点）不能高于年利率（{draft.rate_bp} 基点）")
    if draft.total_quota_fen <= 0:
        bad("total_quota_fen", "应大于 0")
    elif draft.cap_per_person_fen > 0 and draft.total_quota_fen < draft.cap_per_person_fen:
        bad("total_quota_fen", f"不能低于单户（人）贷款上限 {yuan(draft.cap_per_person_fen)}")
    start = _iso_date(draft.window_start, "programme.window_start", problems)
    end = _iso_date(draft.window_end, "programme.window_end", problems) if draft.window_end else None
    if start is not None and end is not None and end < start:
        bad("window_end", "申请截止日期不能早于开始日期")
    if draft.township_final_up_to_fen < 0:
        bad("township_final_up_to_fen", "不能小于 0")
    if not 1 <= draft.review_days <= 60:
        bad("review_days", "应为 1–60 个工作日")
    if not 1 <= draft.bank_days <= 60:
        bad("bank_days", "应为 1–60 个工作日")
    rules = draft.rules
    if not 0 <= rules.min_party_years <= 80:
        bad("rules.min_party_years", "应为 0–80 年")
    if rules.min_grade and rules.min_grade not in MIN_GRADES:
        bad("rules.min_grade", "可选：优秀、合格、基本合格（或不限）")
    if not 0 <= rules.min_age <= 120:
        bad("rules.min_age", "应为 0–120 岁")
    if not 0 <= rules.max_age <= 120:
        bad("rules.max_age", "应为 0–120 岁（0 为不限）")
    elif rules.max_age and rules.min_age > rules.max_age:
        bad("rules.min_age", f"年龄下限不能高于上限（{rules.max_age} 岁）")
    if problems:
        raise InvalidArgument(problems)
    assert start is not None
    return ValidTerms(draft=draft, window_start=start, window_end=end)
