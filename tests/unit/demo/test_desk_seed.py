"""The demo desk's plan: every station in every state, guests and both referrals at 固始县, forms the desk accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jinqiao.demo import desk
from jinqiao.demo.seed import COUNTIES
from jinqiao.desk.v1 import tickets_pb2


def test_every_demo_station_has_a_ticket_in_every_state():
    plan = desk.demo_plan(COUNTIES)
    for county in COUNTIES:
        states = {p.state for p in plan if p.county == county}
        assert states == set(desk.STATES), county


def test_each_state_is_reached_by_moves_that_start_from_new():
    assert set(desk.MOVES) == set(desk.STATES)
    assert desk.MOVES["new"] == ()
    assert desk.MOVES["awaiting_info"][-1] == "request_info"
    assert desk.MOVES["reviewed"] == ("accept", "start", "resolve", "rate")


def test_plan_keys_are_unique_so_a_reseed_files_nothing_twice():
    plan = desk.demo_plan(COUNTIES)
    assert len({p.key for p in plan}) == len(plan)


def test_the_station_county_serves_two_guests_and_refers_the_first_home():
    plan = [p for p in desk.demo_plan(COUNTIES) if p.county == desk.STATION_COUNTY]
    guests = [p for p in plan if p.guest]
    assert {p.member_home for p in guests} == set(desk.GUEST_COUNTIES)
    referred = [p for p in plan if p.refer_to]
    assert len(referred) == 1
    assert referred[0].refer_to == referred[0].member_home != desk.STATION_COUNTY
    # The referred ticket is still open when it is referred (a referral needs an open ticket).
    assert referred[0].state in ("new", "accepted", "in_progress")


def test_some_tickets_are_fresh_and_some_are_days_old_but_none_beyond_the_30_day_limit():
    plan = desk.demo_plan(COUNTIES)
    ages = [p.age for p in plan]
    assert min(ages) <= timedelta(hours=1)
    assert max(ages) >= timedelta(days=14)
    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    for age in ages:
        stamp = desk.received(age, now=now)
        assert stamp is not None
        assert now - stamp.ToDatetime(tzinfo=UTC) < desk.MAX_RECEIVED_AGE
    assert desk.received(timedelta(0), now=now) is None


def test_members_are_taken_in_turn_and_a_county_without_members_plans_nothing():
    plan = desk.plan_station("411502", ["a", "b", "c"])
    assert [p.member_id for p in plan[:4]] == ["a", "b", "c", "a"]
    assert desk.plan_station("411502", []) == []


def _field(key: str, kind: int, **kw: object) -> tickets_pb2.FormField:
    return tickets_pb2.FormField(key=key, label=key, type=kind, **kw)  # type: ignore[arg-type]


def test_sample_form_fills_each_type_within_its_bounds_and_money_in_whole_fen():
    fields = [
        _field("employer", tickets_pb2.FIELD_TYPE_TEXT, required=True, max_length=8),
        _field("unpaid_amount_fen", tickets_pb2.FIELD_TYPE_MONEY_FEN, required=True, min=1),
        _field("unpaid_months", tickets_pb2.FIELD_TYPE_INTEGER, min=1, max=2),
        _field("workers_affected", tickets_pb2.FIELD_TYPE_INTEGER, min=5, max=10000),
        _field("has_contract", tickets_pb2.FIELD_TYPE_CHOICE, choices=["有", "无"]),
        _field("injury_date", tickets_pb2.FIELD_TYPE_DATE),
        _field("phone", tickets_pb2.FIELD_TYPE_PHONE),
        _field("urgent", tickets_pb2.FIELD_TYPE_BOOL),
    ]
    values = desk.sample_form(fields, today=date(2026, 12, 2))
    assert values["employer"] == "县城某建筑劳务有限公司"[:8]
    assert values["unpaid_amount_fen"] == 3_000_000 and isinstance(values["unpaid_amount_fen"], int)
    assert values["unpaid_months"] == 2
    assert values["workers_affected"] == 5
    assert values["has_contract"] == "有"
    assert values["injury_date"] == "2026-11-12"
    assert values["phone"].startswith("1") and len(values["phone"]) == 11
    assert values["urgent"] is True


def test_a_story_picks_its_group_and_the_hinted_category():
    cats = [tickets_pb2.TicketCategory(code="legal_labor", name="劳动关系", group="法律援助", enabled=True),
            tickets_pb2.TicketCategory(code="legal_wages", name="讨薪", group="法律援助", enabled=True),
            tickets_pb2.TicketCategory(code="employment", name="岗位推荐", group="就业", enabled=False),
            tickets_pb2.TicketCategory(code="other", name="其他", group="其他", enabled=True)]
    assert desk.pick_category(cats, desk.Story("法律援助", "讨薪", "t", "d")).code == "legal_wages"
    # A disabled category is not used: the story falls back to 其他.
    assert desk.pick_category(cats, desk.Story("就业", "", "t", "d")).code == "other"


def test_count_states_sums_to_the_plan():
    plan = desk.demo_plan(COUNTIES)
    counts = desk.count_states(plan)
    assert sum(counts.values()) == len(plan)
    assert all(counts[s] >= len(COUNTIES) for s in desk.STATES)
