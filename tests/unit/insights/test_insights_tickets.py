"""The service desk's 工单 figures (issue 13): ranges, rounding, per-cell suppression and the rows built from cells."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jinqiao.insights import domain
from jinqiao.insights.domain import TicketCell, TicketRange
from jinqiao.kit.errors import InvalidArgument

ALL = TicketRange(since_month=None, until_month=None)


def cell(county: str = "650460", month: str = "2026-11", group: str = "法律援助", station: str = "",
         **counts: int) -> TicketCell:
    return TicketCell(tenant_id=county, month=month, category_group=group, serving_org_id=station, **counts)


def stats(cells: list[TicketCell], *, scope: str = "65", threshold: int = 3, window: TicketRange = ALL,
          names: dict[str, str] | None = None) -> domain.TicketStats:
    return domain.build_ticket_stats(scope=scope, cells=cells, window=window, current_month="2026-12",
                                     station_names=names or {}, threshold=threshold)


def test_ticket_range_reports_every_bad_month_by_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.ticket_range(since_month="2026-13", until_month="11/2026")
    assert [v.field for v in caught.value.violations] == ["since_month", "until_month"]


def test_ticket_range_refuses_an_end_before_the_start() -> None:
    with pytest.raises(InvalidArgument) as caught:
        domain.ticket_range(since_month="2026-06", until_month="2026-05")
    assert [v.field for v in caught.value.violations] == ["until_month"]


def test_ticket_range_empty_means_unbounded() -> None:
    assert domain.ticket_range(since_month=" ", until_month="") == ALL


@pytest.mark.parametrize(("rating_sum", "rated", "text"), [
    (17, 4, "4.3"),  # 4.25 rounds half up, not to even
    (9, 2, "4.5"),
    (13, 3, "4.3"),  # 4.333…
    (0, 0, "—"),
])
def test_satisfaction_is_rounded_half_up_to_one_place(rating_sum: int, rated: int, text: str) -> None:
    assert domain.satisfaction_text(rating_sum=rating_sum, rated=rated) == text


def test_percent_text_rounds_half_up_and_says_dash_for_nothing() -> None:
    assert domain.percent_text(1, 8) == "12.5%"
    assert domain.percent_text(1, 1600) == "0.1%"  # 0.0625 → 0.1
    assert domain.percent_text(0, 0) == "—"


def test_ticket_month_is_beijing_time() -> None:
    assert domain.ticket_month(datetime(2026, 10, 31, 17, 0, tzinfo=UTC)) == "2026-11"


def test_a_small_complement_hides_the_resolution_figures_that_give_it_away() -> None:
    # 10 resolved, 9 within the SLA: publishing both would tell exactly one ticket missed it.
    hidden = domain.resolution_hidden(cell(both_met=9, first_response_met_only=0, none_met=1), threshold=3)
    assert "resolution_met" in hidden
    assert "resolved" not in hidden


def test_a_small_resolved_count_hides_every_resolution_figure() -> None:
    assert domain.resolution_hidden(cell(both_met=2), threshold=3) == {"resolved", "resolution_met",
                                                                      "first_response_met"}


def test_own_county_sees_exact_figures() -> None:
    result = stats([cell(opened=2, both_met=1, none_met=1, rated=2, rating_sum=9)], scope="650460", threshold=0)
    assert result.total.opened.display(0) == "2"
    assert result.total.sla.text == "50.0%"
    assert result.total.satisfaction == "4.5"


def test_wider_scope_hides_a_small_county_and_totals_say_so() -> None:
    result = stats([cell("650460", opened=2), cell("650461", opened=5)])
    small, big = result.counties
    assert (small.opened.value, small.opened.hidden, small.opened.display(3)) == (0, 1, "<3")
    assert big.opened.display(3) == "5"
    # The total adds the published cell only and says it left one out: no subtraction gives the 2 back.
    assert (result.total.opened.value, result.total.opened.display(3)) == (5, "5+")


def test_rates_and_average_cover_published_cells_only() -> None:
    result = stats([cell("650460", both_met=1, none_met=1, rated=2, rating_sum=2),
                    cell("650461", both_met=3, resolution_met_only=1, none_met=3, rated=4, rating_sum=17)])
    total = result.total
    assert (total.sla.part, total.sla.whole, total.sla.partial) == (4, 7, True)
    assert total.sla.text == "57.1%"
    assert (total.satisfaction, total.satisfaction_partial) == ("4.3", True)
    small = result.counties[0]
    assert (small.sla.text, small.satisfaction) == ("—", "—")


def test_categories_of_one_group_make_one_cell() -> None:
    # Two categories of one group, one ticket each: together 2, a small cell, hidden as one.
    result = stats([cell(opened=1), cell(opened=1), cell(group="就业服务", opened=3)])
    groups = {g.key: g for g in result.groups}
    assert groups["法律援助"].opened.hidden == 1
    assert groups["就业服务"].opened.value == 3
    assert [g.key for g in result.groups] == ["就业服务", "法律援助"]  # most tickets first


def test_stations_are_listed_for_a_county_scope_only() -> None:
    cells = [cell(station="org-1", opened=3), cell(opened=4)]
    county = stats(cells, scope="650460", threshold=0, names={"org-1": "城东驻城党建工作站"})
    assert [(s.key, s.name, s.opened.value) for s in county.stations] == [
        ("county", "", 4), ("org-1", "城东驻城党建工作站", 3)]
    assert stats(cells).stations == []


def test_the_range_selects_whole_months_and_breaches_this_month_ignore_it() -> None:
    cells = [cell(month="2026-10", opened=4), cell(month="2026-11", opened=5), cell(month="2026-12", breached=3)]
    result = stats(cells, window=TicketRange(since_month="2026-11", until_month="2026-11"))
    assert result.total.opened.value == 5
    assert result.total.breached.value == 0
    assert result.breached_this_month.value == 3


def test_merge_adds_breaches_to_the_counts_of_the_same_cell() -> None:
    (merged,) = domain.merge_ticket_cells([cell(opened=2), cell(breached=1)])
    assert (merged.opened, merged.breached) == (2, 1)
