from datetime import UTC, datetime, timedelta

import pytest

from jinqiao.desk.queues.domain import DutyCandidate, clean_display_name, pick_round_robin
from jinqiao.kit.errors import InvalidArgument

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def c(user: str, minutes: int | None = None, open_assigned: int = 0) -> DutyCandidate:
    return DutyCandidate(user=user, last_assigned_at=None if minutes is None else T0 + timedelta(minutes=minutes),
                         open_assigned=open_assigned)


def test_nobody_on_duty_means_no_pick():
    assert pick_round_robin([]) is None


def test_someone_never_assigned_goes_before_anyone_assigned_long_ago():
    assert pick_round_robin([c("a", minutes=-600), c("b")]).user == "b"


def test_the_oldest_last_assignment_goes_next():
    assert pick_round_robin([c("a", 5), c("b", 1), c("c", 3)]).user == "b"


def test_ties_go_to_the_lighter_load_then_the_login_name():
    assert pick_round_robin([c("a", open_assigned=4), c("b", open_assigned=2), c("c", open_assigned=2)]).user == "b"
    assert pick_round_robin([c("zhao", 1, 3), c("qian", 1, 3)]).user == "qian"


def test_stamping_each_pick_deals_six_tickets_two_each_in_turn():
    staff = {"a": c("a"), "b": c("b"), "c": c("c")}
    order = []
    for minute in range(6):
        chosen = pick_round_robin(staff.values())
        order.append(chosen.user)
        staff[chosen.user] = c(chosen.user, minute, chosen.open_assigned + 1)
    assert order == ["a", "b", "c", "a", "b", "c"]


def test_display_name_defaults_to_the_login_name_and_drops_control_characters():
    assert clean_display_name("  ", default="zhangmin") == "zhangmin"
    assert clean_display_name("张敏\u0000（工作站）\n", default="x") == "张敏（工作站）"


def test_display_name_longer_than_thirty_characters_names_the_field():
    with pytest.raises(InvalidArgument) as err:
        clean_display_name("张" * 31, default="x")
    assert [v.field for v in err.value.violations] == ["display_name"]
