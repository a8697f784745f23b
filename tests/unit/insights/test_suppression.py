"""Small-cell suppression of aggregates for scopes wider than a county, attacked from every published figure."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest

from jinqiao.insights.domain import (
    COVERAGE_FIGURES,
    CountyCount,
    CoverageAtom,
    FlowCell,
    FlowStatus,
    Unorganised,
    coverage_of,
    disclose_matrix,
    disclose_member_counts,
    hidden_figures,
    show_count,
    suppress_coverage,
    suppression_threshold,
)

T = 3
NOW = datetime(2026, 3, 1, tzinfo=UTC)
# The five disjoint parts of an origin's open flows: (status, overdue pending).
PARTS = ((FlowStatus.WAITING, False), (FlowStatus.WAITING, True), (FlowStatus.OFFERED, False),
         (FlowStatus.OFFERED, True), (FlowStatus.MANAGED, False))


def row(*counts: int, closed: int = 0) -> list[CoverageAtom]:
    atoms = [CoverageAtom("411525", status, overdue, n) for (status, overdue), n in zip(PARTS, counts, strict=True)]
    return [*atoms, CoverageAtom("411525", FlowStatus.CLOSED, False, closed)]


def figures_of(parts: tuple[int, ...]) -> dict[str, int]:
    waiting, waiting_overdue, offered, offered_overdue, managed = parts
    return {"away": sum(parts), "offered": offered + offered_overdue + managed, "managed": managed,
            "overdue_check_ins": waiting_overdue + offered_overdue}


def test_a_county_sees_its_own_exact_figures_and_wider_scopes_the_threshold():
    assert suppression_threshold(principal_scope="411525", setting=3) == 0
    assert suppression_threshold(principal_scope="4115", setting=3) == 3
    assert suppression_threshold(principal_scope="41", setting=5) == 5


@pytest.mark.parametrize(("count", "shown"), [(0, (0, False, "0")), (1, (0, True, "<3")), (2, (0, True, "<3")),
                                              (3, (3, False, "3")), (40, (40, False, "40"))])
def test_a_cell_below_the_threshold_reads_lt3_and_zero(count, shown):
    cell = show_count(count, threshold=T)
    assert (cell.value, cell.suppressed, cell.display) == shown


def test_exact_view_shows_every_count():
    assert show_count(1, threshold=0).display == "1"


def test_member_total_adds_up_only_the_published_counties():
    counts = [CountyCount(code, n, NOW) for code, n in (("411521", 5), ("411522", 1), ("411523", 2), ("411524", 0))]
    shown = disclose_member_counts(counts, threshold=T)
    assert [(c.members, c.suppressed, c.display) for c in shown.counties] == [
        (5, False, "5"), (0, True, "<3"), (0, True, "<3"), (0, False, "0")]
    assert (shown.total, shown.total_partial, shown.threshold) == (5, True, T)
    # Subtracting the published counties from the total leaves nothing to learn about the hidden ones.
    assert shown.total - sum(c.members for c in shown.counties if not c.suppressed) == 0
    exact = disclose_member_counts(counts, threshold=0)
    assert (exact.total, exact.total_partial) == (8, False)


def test_a_small_difference_between_nested_figures_hides_them():
    # 10 away, 9 of them checked in: away − managed = 1 would name the one not yet checked in.
    (published,) = suppress_coverage(row(1, 0, 0, 0, 9), threshold=T)
    assert published.away == 10
    assert {"managed", "offered", "coverage"} <= published.hidden
    assert published.managed == 0 and published.coverage == 0.0
    assert {published.display(f) for f in published.hidden} == {"*"}


def test_a_single_overdue_member_is_hidden_but_the_rest_stays():
    (published,) = suppress_coverage(row(5, 1, 3, 0, 4), threshold=T)  # away 13, offered 7, managed 4, overdue 1
    assert published.hidden == frozenset({"overdue_check_ins"})
    assert (published.away, published.offered, published.managed) == (13, 7, 4)
    assert published.display("coverage") == "30.8%"


def test_a_small_origin_hides_its_whole_row_as_lt3():
    (published,) = suppress_coverage(row(1, 0, 0, 0, 1, closed=7), threshold=T)
    assert published.hidden == frozenset(COVERAGE_FIGURES)
    assert all(published.display(f) == "<3" for f in COVERAGE_FIGURES)
    assert (published.away, published.managed, published.coverage) == (0, 0, 0.0)


def test_an_origin_with_everyone_back_home_publishes_zeros():
    (published,) = suppress_coverage(row(0, 0, 0, 0, 0, closed=2), threshold=T)
    assert published.hidden == frozenset() and published.away == 0


def test_the_audit_hides_the_least_useful_figure_of_a_small_combination():
    atoms = {"a": 5, "b": 1}
    hidden = hidden_figures(figures={"all": frozenset({"a", "b"}), "a": frozenset({"a"})}, atoms=atoms,
                            priority=("all", "a"), threshold=T)
    assert hidden == frozenset({"a"})


def possible_parts(published, *, box: int) -> list[tuple[int, ...]]:
    """What an attacker can say the five parts were, from every published figure, mark and the nesting."""
    known = {f: getattr(published, f) for f in COVERAGE_FIGURES[:4] if f not in published.hidden}
    small_row = published.hidden_text == "<3"
    found = []
    for parts in itertools.product(range(box + 1), repeat=5):
        figures = figures_of(parts)
        if any(figures[f] != v for f, v in known.items()):
            continue
        if small_row and not 1 <= figures["away"] < T:
            continue
        found.append(parts)
    return found


def test_no_small_count_of_an_origin_can_be_recovered_from_what_is_published():
    rng = random.Random(20260301)
    rows = [tuple(rng.choice((0, 0, 1, 1, 2, 3, 4)) for _ in range(5)) for _ in range(120)]
    rows += [(1, 0, 0, 0, 9), (0, 1, 0, 0, 3), (0, 0, 1, 0, 3), (3, 0, 0, 0, 1), (2, 0, 0, 0, 2)]
    for parts in rows:
        (published,) = suppress_coverage(row(*parts), threshold=T)
        candidates = possible_parts(published, box=max(parts) + 2)
        assert parts in candidates
        # Every union of parts (every count an attacker could ask for) that is small stays ambiguous.
        for chosen in itertools.product((0, 1), repeat=5):
            def count(p, chosen=chosen):
                return sum(n for n, c in zip(p, chosen, strict=True) if c)
            if 0 < count(parts) < T:
                assert len({count(p) for p in candidates}) > 1, (parts, published, chosen)


def test_every_published_figure_is_zero_or_at_least_the_threshold():
    rng = random.Random(7)
    for _ in range(300):
        parts = tuple(rng.randint(0, 6) for _ in range(5))
        (published,) = suppress_coverage(row(*parts), threshold=T)
        exact = figures_of(parts)
        for figure in COVERAGE_FIGURES[:4]:
            value = getattr(published, figure)
            assert value == 0 or value >= T
            assert figure in published.hidden or value == exact[figure]


def test_coverage_rows_match_the_exact_figures_when_nothing_is_hidden():
    (exact,) = coverage_of(row(3, 0, 3, 0, 6, closed=4))
    (published,) = suppress_coverage(row(3, 0, 3, 0, 6, closed=4), threshold=T)
    assert (exact.away, exact.offered, exact.managed, exact.overdue_check_ins) == (12, 9, 6, 0)
    assert published == exact


def cells() -> list[FlowCell]:
    return [FlowCell("411525", "410102", "2026-01", "建筑业", 1), FlowCell("411525", "410102", "2026-02", "建筑业", 4),
            FlowCell("411525", "310000", "2026-02", "餐饮业", 2), FlowCell("411521", "310000", "2026-02", "餐饮业", 3)]


def test_the_matrix_hides_small_cells_and_totals_say_what_they_leave_out():
    atoms = row(1, 0, 0, 0, 9) + [CoverageAtom("411521", FlowStatus.WAITING, False, 2)]
    matrix = disclose_matrix(cells=cells(), coverage_atoms=atoms, exact_coverage=[],
                             unorganised=[Unorganised("411525", "310000", 3)], threshold=T)
    assert [(c.flows, c.suppressed, c.display) for c in matrix.cells] == [
        (0, True, "<3"), (4, False, "4"), (0, True, "<3"), (3, False, "3")]
    assert (matrix.total_away, matrix.total_managed) == (10, 0)
    # 411521 has 2 away: its whole row is hidden, so every total leaves something out.
    assert set(matrix.partial_totals) == {"total_away", "total_managed", "total_overdue", "total_coverage"}
    assert matrix.total_coverage == 0.0 and not matrix.coverage_filtered and matrix.threshold == T
    (place,) = matrix.unorganised
    assert (place.members, place.suppressed, place.display) == (0, True, "≥3")


def test_a_filter_selects_whole_cells_so_every_view_hides_the_same_cells():
    whole = disclose_matrix(cells=cells(), coverage_atoms=[], exact_coverage=[], unorganised=[], threshold=T)
    february = disclose_matrix(cells=[c for c in cells() if c.month == "2026-02"], coverage_atoms=[],
                               exact_coverage=[], unorganised=[], threshold=T)
    by_key = {(c.origin_tenant_id, c.destination_code, c.month, c.industry): c for c in whole.cells}
    for cell in february.cells:
        assert by_key[(cell.origin_tenant_id, cell.destination_code, cell.month, cell.industry)] == cell
    # Whatever two views are subtracted, the difference adds up published cells only.
    published = lambda m: sum(c.flows for c in m.cells)  # noqa: E731
    assert published(whole) - published(february) == sum(c.flows for c in whole.cells if c.month != "2026-02")


def test_the_exact_view_is_the_raw_matrix():
    matrix = disclose_matrix(cells=cells(), coverage_atoms=None, exact_coverage=coverage_of(row(1, 0, 0, 0, 1)),
                             unorganised=[], threshold=0)
    assert [c.flows for c in matrix.cells] == [1, 4, 2, 3] and not any(c.suppressed for c in matrix.cells)
    assert matrix.coverage[0].away == 2 and matrix.partial_totals == [] and matrix.coverage_filtered
