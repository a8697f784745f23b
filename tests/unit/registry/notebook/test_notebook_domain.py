"""Notebook rules without a database: 双向评议, and which county may vouch for an entry."""

from __future__ import annotations

from datetime import date

from jinqiao.registry.notebook import domain as notebook


def test_the_merged_grade_is_the_lower_once_both_sides_are_in():
    assert notebook.merged_grade(0, 0) == (0, False)
    assert notebook.merged_grade(1, 0) == (1, False)
    assert notebook.merged_grade(1, 3) == (3, True)
    assert notebook.merged_grade(2, 1) == (2, True)


def _placement(flow: str, county: str, *, closed_on: date | None = None) -> notebook.Placement:
    return notebook.Placement(flow_id=flow, placing_tenant_id=county, open=closed_on is None, closed_on=closed_on)


def test_only_the_county_that_placed_a_flow_may_vouch_for_an_entry():
    flows = [_placement("f2", "410103"), _placement("f1", "410108", closed_on=date(2026, 3, 1))]
    today = date(2026, 6, 1)
    assert notebook.placed_in("410103", placements=flows, on=today)
    assert notebook.placed_in("410103", placements=flows, on=today, flow_id="f2")
    # Another county, or the right county naming another flow, is not the placing county.
    assert not notebook.placed_in("411527", placements=flows, on=today)
    assert not notebook.placed_in("410103", placements=flows, on=today, flow_id="f1")
    assert not notebook.placed_in("410103", placements=[], on=today)


def test_a_closed_flow_still_counts_for_entries_up_to_its_closing_day():
    flows = [_placement("f1", "410108", closed_on=date(2026, 3, 1))]
    assert notebook.placed_in("410108", placements=flows, on=date(2026, 3, 1), flow_id="f1")
    assert notebook.placed_in("410108", placements=flows, on=date(2026, 2, 20))
    assert not notebook.placed_in("410108", placements=flows, on=date(2026, 3, 2))
