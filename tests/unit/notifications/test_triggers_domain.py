"""The triggers' pure mapping: who hears of which event, with which kind, facts and link."""

from __future__ import annotations

import pytest

from jinqiao.notifications.directory.domain import Audience
from jinqiao.notifications.templates.domain import KINDS
from jinqiao.notifications.triggers import domain
from jinqiao.notifications.triggers.domain import EscalationPlan, MemberTarget, Office, Plan, SeatTarget, UserTarget


@pytest.mark.parametrize(("fen", "text"), [
    (0, "0.00"), (5, "0.05"), (100, "1.00"), (145833, "1,458.33"), (5_000_000, "50,000.00"),
    (123_456_789_01, "123,456,789.01"), (-250, "-2.50"),
])
def test_yuan_formats_fen_with_integer_arithmetic(fen: int, text: str) -> None:
    assert domain.yuan(fen) == text


def test_yuan_is_exact_where_float_would_round() -> None:
    # 0.1 + 0.2 style errors: 2^53 + 1 fen cannot be held by a float.
    assert domain.yuan(2**53 + 1) == "90,071,992,547,409.93"


@pytest.mark.parametrize(("text", "shown"), [
    ("2026-12-02T09:30:00+00:00", "2026-12-02 17:30"),
    ("2026-12-02T20:15:00Z", "2026-12-03 04:15"),
    ("2026-12-02T17:30:00+08:00", "2026-12-02 17:30"),
    ("2026-12-31", "2026-12-31"),
    ("", ""),
    ("not a time T at all", "not a time T at all"),
])
def test_beijing_minute_shows_instants_in_beijing_time(text: str, shown: str) -> None:
    assert domain.beijing_minute(text) == shown


def test_an_offer_goes_to_the_station_serving_the_org_and_to_the_member() -> None:
    station = domain.offer_to_station(org_id="o1", org_name="城南临时党支部", member_name="张三",
                                      home_county="固始县", rule="STATION_TEMPORARY_BRANCH")
    assert station.kind == "membership_offered" and station.link == "/receive"
    assert station.target == Office("o1", Audience.STATION)
    assert station.facts["rule"] == "工作站临时党支部"
    member = domain.offer_to_member(member_id="m1", member_name="张三", org_name="城南临时党支部",
                                    destination="福安市")
    assert (member.kind, member.link, member.target) == ("membership_offered_member", "/m/flows", MemberTarget("m1"))


def test_a_check_in_tells_the_home_branch_or_the_county_when_the_branch_is_unknown() -> None:
    plan = domain.checked_in(flow_id="f1", home_org_id="b1", member_name="张三", org_name="城南临时党支部",
                             checked_in_at="2026-12-01T01:30:00+00:00")
    assert plan.target == Office("b1", Audience.BRANCH) and plan.link == "/flows/f1"
    assert plan.facts["checked_in_at"] == "2026-12-01 09:30"
    assert domain.checked_in(flow_id="f1", home_org_id=None, member_name="", org_name="",
                             checked_in_at="").target == Office(None, Audience.BRANCH)


def test_policy_timers_map_to_an_escalation_or_a_notice() -> None:
    common = {"flow_id": "f1", "member_id": "m1", "home_org_id": "b1", "member_name": "张三", "due_date": "2026-12-31",
              "destination": "福安市"}
    overdue = domain.policy_timer(timer="CHECK_IN_OVERDUE", level=2, **common)
    facts = {"member_name": "张三", "due_date": "2026-12-31", "destination": "福安市"}
    assert overdue == EscalationPlan("check_in_overdue", "f1", "m1", "b1", 2, facts, "/alerts")
    expiry = domain.policy_timer(timer="CERTIFICATE_EXPIRED", level=1, **common)
    assert isinstance(expiry, Plan) and expiry.kind == "certificate_expiring" and expiry.target == MemberTarget("m1")
    report = domain.policy_timer(timer="REPORT_BACK_DUE", level=1, **common)
    assert isinstance(report, Plan) and report.kind == "report_back_due" and report.link == "/m/flows"
    transfer = domain.policy_timer(timer="TRANSFER_DUE", level=1, **common)
    assert isinstance(transfer, Plan) and transfer.target == Office("b1", Audience.BRANCH)
    assert transfer.link == "/flows/f1"
    assert domain.policy_timer(timer="DUES_LATE", level=1, **common) is None


def test_a_ticket_opened_without_a_station_goes_to_the_county_department() -> None:
    served = domain.ticket_opened(ticket_id="t1", category="legal_wages", serving_org_id="s1", org_name="城南工作站",
                                  priority="HIGH")
    assert served.target == Office("s1", Audience.STATION)
    assert served.facts == {"ticket_id": "t1", "category_label": "讨薪", "org_name": "城南工作站", "priority": "高"}
    unserved = domain.ticket_opened(ticket_id="t1", category="x", serving_org_id="", org_name="", priority="")
    assert unserved.target == Office(None, Audience.COUNTY) and unserved.link == "/tickets/t1"


def test_a_reply_reaches_the_member_and_says_what_kind_it_is() -> None:
    plan = domain.ticket_replied(ticket_id="t1", member_id="m1", category="schooling", org_name="", title="入学",
                                 reply_kind="INFO_REQUESTED")
    assert plan.target == MemberTarget("m1") and plan.link == "/m/tickets/t1"
    assert plan.facts["reply_kind"] == "请补充材料" and plan.facts["category_label"] == "子女就学"


def test_an_sla_warning_goes_to_the_assignee_else_the_queue() -> None:
    args = {"ticket_id": "t1", "category": "other", "serving_org_id": "s1", "org_name": "", "clock": "RESOLUTION",
            "due_at": "2026-12-02T09:30:00Z"}
    assert domain.ticket_sla_warned(assignee="wang", **args).target == UserTarget("wang")
    queue = domain.ticket_sla_warned(assignee="", **args)
    assert queue.target == Office("s1", Audience.STATION) and queue.facts["clock"] == "办结"
    breach = domain.ticket_sla_breached(ticket_id="t1", category="other", serving_org_id="", org_name="",
                                        clock="FIRST_RESPONSE", due_at="")
    assert (breach.kind, breach.subject_id, breach.start_org_id, breach.level) == ("ticket_sla_breached", "t1", None, 1)


@pytest.mark.parametrize(("tier", "target"), [
    ("BRANCH", Office("b1", Audience.BRANCH)),
    ("TOWNSHIP", Office("b1", Audience.TOWNSHIP)),
    ("COUNTY", Office(None, Audience.COUNTY)),
    ("BANK", SeatTarget("bank_officer", "gsrcb", "合作银行（gsrcb）")),
    ("NONE", None),
])
def test_the_next_loan_reviewer_follows_the_pending_tier(tier: str, target: object) -> None:
    assert domain.loan_reviewer(pending_tier=tier, home_org_id="b1", bank_code="gsrcb") == target


def test_loan_notices_show_money_in_yuan_and_link_the_member_pages() -> None:
    facts = domain.loan_facts(member_name="张三", amount_fen=5_000_000, programme_name="党员先锋贷", tier="TOWNSHIP",
                              due_at="")
    assert facts["amount_yuan"] == "50,000.00" and facts["tier_label"] == "乡镇审核"
    due = domain.instalment_due(loan_id="l1", member_id="m1", member_name="张三", seq=3, due_date="2026-12-20",
                                due_fen=145833, bank_name="固始农商银行")
    assert due.facts["due_yuan"] == "1,458.33" and due.link == "/m/loans/l1" and due.target == MemberTarget("m1")
    late = domain.loan_overdue(loan_id="l1", member_id="m1", member_name="", days_past_due=7, overdue_fen=145833,
                               since="2026-11-20", bank_name="")
    assert late.kind == "loan_overdue" and late.facts["days_past_due"] == "7"


def test_every_fact_a_trigger_sets_is_a_variable_of_its_template_kind() -> None:
    plans: list[Plan] = [
        domain.offer_to_station(org_id="o", org_name="", member_name="", home_county="", rule=""),
        domain.offer_to_member(member_id="m", member_name="", org_name="", destination=""),
        domain.checked_in(flow_id="f", home_org_id=None, member_name="", org_name="", checked_in_at=""),
        domain.ticket_opened(ticket_id="t", category="", serving_org_id="", org_name="", priority=""),
        domain.ticket_replied(ticket_id="t", member_id="m", category="", org_name="", title="", reply_kind=""),
        domain.ticket_sla_warned(ticket_id="t", category="", serving_org_id="", org_name="", assignee="", clock="",
                                 due_at=""),
        domain.instalment_due(loan_id="l", member_id="m", member_name="", seq=1, due_date="", due_fen=0,
                              bank_name=""),
        domain.loan_overdue(loan_id="l", member_id="m", member_name="", days_past_due=1, overdue_fen=0, since="",
                            bank_name=""),
    ]
    for timer in ("CERTIFICATE_EXPIRED", "REPORT_BACK_DUE", "TRANSFER_DUE"):
        found = domain.policy_timer(timer=timer, flow_id="f", member_id="m", home_org_id=None, member_name="",
                                    level=1, due_date="", destination="")
        assert isinstance(found, Plan)
        plans.append(found)
    pending = domain.loan_review_pending(loan_id="l", pending_tier="BRANCH", home_org_id=None, bank_code="",
                                         facts=domain.loan_facts(member_name="", amount_fen=0, programme_name="",
                                                                 tier="BRANCH", due_at=""))
    assert pending is not None
    plans.append(pending)
    for plan in plans:
        assert set(plan.facts) <= set(KINDS[plan.kind].variables), plan.kind
    kind, facts, _ = domain.meeting(org_name="", title="", meeting_type="THEME_DAY", start_time="")
    assert set(facts) <= set(KINDS[kind].variables) and facts["meeting_type"] == "主题党日"
    for esc in (domain.policy_timer(timer="CHECK_IN_OVERDUE", flow_id="f", member_id="m", home_org_id=None,
                                    member_name="", level=1, due_date="", destination=""),
                domain.ticket_sla_breached(ticket_id="t", category="", serving_org_id="", org_name="", clock="",
                                           due_at="")):
        assert isinstance(esc, EscalationPlan)
        assert set(esc.facts) <= set(KINDS[esc.kind].variables), esc.kind


def test_each_late_loan_tier_is_its_own_escalation_so_a_settled_tier_does_not_silence_the_next() -> None:
    township = domain.loan_step_overdue(loan_id="l", tier="TOWNSHIP", member_id=None, start_org_id=None, facts={})
    county = domain.loan_step_overdue(loan_id="l", tier="COUNTY", member_id=None, start_org_id=None, facts={})
    assert township.subject_id != county.subject_id
    assert township.link == county.link == "/loans/l"
