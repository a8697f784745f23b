"""Loan programmes' pure rules (issue 14): each eligibility rule passing and failing with its Chinese detail, the
stable order, a member without facts told why, the cap counting what is already borrowed, validation naming
``programme.<field>``, and the defaults (创业担保贷款's 贴息 from the LPR)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from jinqiao.desk.programmes.domain import (
    LPR_1Y_BP,
    RULE_ORDER,
    Method,
    Product,
    Programme,
    ProgrammeDraft,
    Rules,
    Sponsor,
    check_application,
    eligible,
    startup_subsidy_bp,
    validate_programme,
    whole_years,
    with_defaults,
    yuan,
)
from jinqiao.desk.replica.domain import MemberFacts
from jinqiao.kit.errors import InvalidArgument, describe

TODAY = date(2026, 12, 2)
ALL_RULES = Rules(allow_probationary=False, min_party_years=3, min_grade="COMPETENT", require_no_overdue=True,
                  min_age=18, max_age=60, require_returnee=True)


def programme(**changes: object) -> Programme:
    base = Programme(
        tenant_id="650501", id="p1", name="党员先锋贷", description="", product=Product.PIONEER,
        sponsor=Sponsor.COUNTY, shared_code="", bank_code="gsrcb", bank_name="固始农商银行",
        cap_per_person_fen=30_000_000, min_amount_fen=1_000_000, max_term_months=36,
        methods=(Method.EQUAL_INSTALMENT, Method.INTEREST_ONLY), rate_bp=435, subsidy_bp=0,
        total_quota_fen=500_000_000, committed_fen=0, window_start=date(2026, 1, 1), window_end=date(2026, 12, 31),
        rules=ALL_RULES, township_final_up_to_fen=0, review_days=5, bank_days=10, active=True, version=1,
        created_at=datetime(2026, 1, 1, tzinfo=UTC))
    return replace(base, **changes)  # type: ignore[arg-type]


def facts(**changes: object) -> MemberFacts:
    base = MemberFacts(
        member_id="m1", name="王建国", home_org_id=None, township="城关镇", active=True,
        membership_status="MEMBERSHIP_STATUS_FULL", join_date=date(2015, 7, 1), birth_year=1985,
        latest_grade="EXCELLENT", latest_grade_year=2025, returned=True, facts_at=datetime(2026, 6, 1, tzinfo=UTC))
    return replace(base, **changes)  # type: ignore[arg-type]


def check(p: Programme | None = None, f: MemberFacts | None = None, *, no_facts: bool = False,
          amount: int = 30_000_000, term: int = 36, method: int = Method.EQUAL_INSTALMENT, overdue: bool = False,
          borrowed: int = 0, today: date = TODAY) -> dict[str, tuple[bool, str, str]]:
    results = check_application(programme=p or programme(), facts=None if no_facts else (f or facts()),
                                today=today, amount_fen=amount, term_months=term, method=method,
                                has_overdue=overdue, borrowed_fen=borrowed)
    return {r.rule: (r.passed, r.label, r.detail) for r in results}


def test_a_good_member_passes_every_rule_in_the_stable_order():
    results = check_application(programme=programme(), facts=facts(), today=TODAY, amount_fen=30_000_000,
                                term_months=36, method=Method.EQUAL_INSTALMENT, has_overdue=False, borrowed_fen=0)
    assert [r.rule for r in results] == list(RULE_ORDER)
    assert eligible(results)
    by_rule = {r.rule: r for r in results}
    assert by_rule["amount"].detail == "申请 30 万元，已占用 0 元，上限 30 万元"
    assert by_rule["min_party_years"].label == "入党满 3 年"
    assert by_rule["min_party_years"].detail == "入党 11 年（2015-07-01 入党）"
    assert by_rule["age"].detail == "41 岁（1985 年出生，按出生年份计）"
    assert by_rule["quota"].detail == "剩余额度 500 万元"


def test_rules_the_programme_does_not_set_are_not_listed():
    bare = programme(rules=Rules(require_no_overdue=False), min_amount_fen=0)
    assert list(check(bare)) == ["window", "membership_status", "amount", "term", "method", "quota"]
    # No method chosen yet (the pre-check before applying): the method rule waits for the application.
    assert "method" not in check(bare, method=0)


def test_window_closed_before_after_and_stopped():
    assert check(today=date(2027, 1, 5))["window"][:3:2] == (False, "申请期已于 2026-12-31 结束")
    assert check(today=date(2025, 12, 31))["window"][2] == "申请期尚未开始（2026-01-01 起）"
    assert check(programme(active=False))["window"] == (False, "申请期内（2026-01-01 至 2026-12-31）", "项目已停办")
    assert check(programme(window_end=None))["window"][0]


def test_membership_status_full_only_or_probationary_too():
    probationary = facts(membership_status="MEMBERSHIP_STATUS_PROBATIONARY")
    assert check(f=probationary)["membership_status"] == (False, "正式党员", "预备党员（本项目限正式党员）")
    allowing = programme(rules=replace(ALL_RULES, allow_probationary=True))
    assert check(allowing, probationary)["membership_status"] == (True, "正式或预备党员", "预备党员")
    assert check(f=facts(active=False))["membership_status"] == (False, "正式党员", "该党员已转出本县（区）")


def test_party_years_are_whole_years_by_date():
    # Joined 2023-12-03: on 2026-12-02 that is 2 whole years, one day short of 3.
    short = check(f=facts(join_date=date(2023, 12, 3)))["min_party_years"]
    assert short[::2] == (False, "入党 2 年（2023-12-03 入党）")
    assert check(f=facts(join_date=date(2023, 12, 2)))["min_party_years"][0]
    assert whole_years(date(2024, 2, 29), date(2027, 2, 28)) == 2
    assert whole_years(date(2024, 2, 29), date(2027, 3, 1)) == 3


def test_grade_order_and_no_evaluation():
    assert check(f=facts(latest_grade="COMPETENT"))["min_grade"] == (
        True, "最近一次双向评议“合格”及以上", "2025 年度评议为“合格”")
    assert check(f=facts(latest_grade="BASICALLY_COMPETENT"))["min_grade"][::2] == (False, "2025 年度评议为“基本合格”")
    assert check(f=facts(latest_grade="INCOMPETENT"))["min_grade"][0] is False
    assert check(f=facts(latest_grade="", latest_grade_year=0))["min_grade"][::2] == (False, "尚无双向评议结果")


def test_overdue_age_and_returnee():
    assert check(overdue=True)["no_overdue"] == (False, "本县（区）无逾期贷款", "有逾期未还的贷款")
    assert check()["no_overdue"][::2] == (True, "无逾期贷款")
    old = check(f=facts(birth_year=1965))["age"]
    assert old == (False, "年龄 18–60 岁（按出生年份计）", "61 岁（1965 年出生，按出生年份计）")
    assert check(f=facts(birth_year=2008))["age"][0] is True  # 18 by birth year, whatever the birthday
    assert check(f=facts(birth_year=2009))["age"][0] is False
    assert check(f=facts(returned=False))["returnee"] == (False, "返乡创业（回归）党员", "尚未登记回归")


def test_a_member_without_facts_is_told_why():
    for results in (check(no_facts=True), check(f=facts(facts_at=None))):
        for rule in ("membership_status", "min_party_years", "min_grade", "age", "returnee"):
            assert results[rule][0] is False and results[rule][2] == "尚未收到该党员的登记信息（稍后再试）"
        # What the desk itself knows is still checked.
        assert results["amount"][0] and results["no_overdue"][0]


def test_cap_counts_what_is_already_borrowed():
    over = check(amount=10_000_000, borrowed=25_000_000)["amount"]
    assert over == (False, "申请金额 1 万元–30 万元，单户（人）合计不超过 30 万元",
                    "申请 10 万元，已占用 25 万元，上限 30 万元")
    assert check(amount=5_000_000, borrowed=25_000_000)["amount"][0]
    assert check(amount=500_000)["amount"][::2] == (False, "申请 5,000.00 元，已占用 0 元，上限 30 万元，最低 1 万元")
    assert check(amount=0)["amount"][0] is False


def test_term_method_and_quota():
    assert check(term=48)["term"] == (False, "期限 1–36 个月", "申请 48 个月")
    assert check(term=0)["term"][0] is False
    assert check(method=Method.EQUAL_PRINCIPAL)["method"] == (False, "还款方式：等额本息、先息后本", "选择等额本金")
    nearly_full = programme(committed_fen=480_000_000)
    assert check(nearly_full)["quota"] == (False, "项目总额度 500 万元 内", "剩余额度 20 万元")
    assert check(nearly_full, amount=20_000_000)["quota"][0]


def test_yuan_reads_whole_wan_and_fen_without_floats():
    assert yuan(30_000_000) == "30 万元"
    assert yuan(0) == "0 元"
    assert yuan(1_234_567) == "12,345.67 元"
    assert yuan(123_456_700_000_000) == "123,456,700 万元"
    assert yuan(-1_234_567) == "-12,345.67 元"
    assert yuan(1) == "0.01 元"


def draft(**changes: object) -> ProgrammeDraft:
    base = ProgrammeDraft(
        name="党员先锋贷", description="", product=Product.PIONEER, sponsor=Sponsor.COUNTY, shared_code="",
        bank_code="gsrcb", bank_name="固始农商银行", cap_per_person_fen=0, min_amount_fen=0, max_term_months=0,
        methods=(), rate_bp=435, subsidy_bp=0, total_quota_fen=500_000_000, window_start="2026-01-01",
        window_end="", rules=Rules(), township_final_up_to_fen=0, review_days=0, bank_days=0, active=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_defaults_follow_the_public_examples():
    pioneer = with_defaults(draft(), today=TODAY)
    assert (pioneer.cap_per_person_fen, pioneer.max_term_months, pioneer.subsidy_bp) == (30_000_000, 36, 0)
    assert pioneer.methods == (1, 2, 3) and (pioneer.review_days, pioneer.bank_days) == (5, 10)
    startup = with_defaults(draft(product=Product.STARTUP_GUARANTEE, rate_bp=435), today=TODAY)
    # LPR 300 bp − 150 bp = 150 bp the borrower pays; 435 − 150 = 285 bp is 贴息.
    assert LPR_1Y_BP == 300
    assert (startup.cap_per_person_fen, startup.max_term_months, startup.subsidy_bp) == (20_000_000, 36, 285)
    assert startup_subsidy_bp(100) == 0
    # Defaults only fill what was left empty.
    own = with_defaults(draft(product=Product.STARTUP_GUARANTEE, cap_per_person_fen=50_000_000, subsidy_bp=200,
                              max_term_months=24), today=TODAY)
    assert (own.cap_per_person_fen, own.subsidy_bp, own.max_term_months) == (50_000_000, 200, 24)
    assert with_defaults(draft(window_start=""), today=TODAY).window_start == "2026-12-02"
    valid = validate_programme(pioneer)
    assert valid.window_start == date(2026, 1, 1) and valid.window_end is None


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "贷"}, "programme.name"),
    ({"product": 0, "cap_per_person_fen": 5_000_000, "max_term_months": 12}, "programme.product"),
    ({"sponsor": 9}, "programme.sponsor"),
    ({"bank_code": "GSRCB"}, "programme.bank_code"),
    ({"bank_name": ""}, "programme.bank_name"),
    ({"cap_per_person_fen": -1}, "programme.cap_per_person_fen"),
    ({"min_amount_fen": 40_000_000}, "programme.min_amount_fen"),
    ({"max_term_months": 361}, "programme.max_term_months"),
    ({"methods": (1, 7)}, "programme.methods"),
    ({"rate_bp": 10_001}, "programme.rate_bp"),
    ({"subsidy_bp": 500}, "programme.subsidy_bp"),
    ({"total_quota_fen": 10_000_000}, "programme.total_quota_fen"),
    ({"window_start": "2026-02-30"}, "programme.window_start"),
    ({"window_end": "2025-12-31"}, "programme.window_end"),
    ({"township_final_up_to_fen": -5}, "programme.township_final_up_to_fen"),
    ({"review_days": 61}, "programme.review_days"),
    ({"bank_days": -1}, "programme.bank_days"),
    ({"rules": Rules(min_age=60, max_age=18)}, "programme.rules.min_age"),
    ({"rules": Rules(min_grade="INCOMPETENT")}, "programme.rules.min_grade"),
])
def test_validation_names_the_field(changes, field):
    with pytest.raises(InvalidArgument) as err:
        validate_programme(with_defaults(draft(**changes), today=TODAY))
    assert [v.field for v in err.value.violations] == [field]


def test_validation_speaks_chinese_with_the_field_label():
    with pytest.raises(InvalidArgument) as err:
        validate_programme(with_defaults(draft(name="x", rate_bp=20_000), today=TODAY))
    texts = [describe(v) for v in err.value.violations]
    assert texts[0] == "项目名称：应为 2–60 个字"
    assert texts[1].startswith("年利率（基点）应为 0–10000")
    assert "项目名称" in err.value.message
