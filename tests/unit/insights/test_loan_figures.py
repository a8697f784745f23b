"""The 党员先锋贷 read model's pure parts: merging loan facts in any order, and what a cell may publish."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from jinqiao.events.v1 import loan_events_pb2
from jinqiao.insights import domain, service
from jinqiao.insights.domain import LoanAtom, LoanFact, LoanFacts, LoanFigures, LoanState
from jinqiao.kit.broker import Delivery
from jinqiao.kit.errors import ForgedEvent

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
T2 = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)


def _merge(facts: list[LoanFact]) -> LoanFacts:
    state = LoanFacts()
    for fact in facts:
        state = state.apply(fact)
    return state


def test_a_loans_facts_merge_to_the_same_row_in_any_order_and_twice():
    facts = [
        LoanFact(programme_id="p1", product="pioneer", shared_code="", applied=True),
        LoanFact(programme_id="p1", approved=True),
        LoanFact(programme_id="p1", product="PIONEER", programme_name="党员先锋贷", disbursed=True,
                 amount_fen=30_000_000, subsidy_fen=120_000,
                 figures=LoanFigures(at=T0, outstanding_fen=30_000_000, overdue_fen=0, overdue=False)),
        LoanFact(programme_id="p1", figures=LoanFigures(at=T1, outstanding_fen=29_000_000, overdue_fen=0,
                                                        overdue=False)),
        LoanFact(programme_id="p1", figures=LoanFigures(at=T2, outstanding_fen=29_000_000, overdue_fen=1_050_000,
                                                        overdue=True)),
    ]
    results = {_merge(list(order)) for order in itertools.permutations(facts)}
    assert len(results) == 1
    (merged,) = results
    assert merged == _merge(facts + facts)
    assert merged.state is LoanState.OVERDUE
    assert (merged.outstanding_fen, merged.overdue_fen) == (29_000_000, 1_050_000)
    assert (merged.programme_key, merged.product, merged.known) == ("programme:p1", "PIONEER", True)


def test_an_older_repayment_arriving_late_does_not_undo_the_newer_overdue_word():
    newer = LoanFact(figures=LoanFigures(at=T2, outstanding_fen=500, overdue_fen=200, overdue=True))
    older = LoanFact(figures=LoanFigures(at=T1, outstanding_fen=700, overdue_fen=0, overdue=False))
    merged = _merge([LoanFact(programme_id="p", disbursed=True, amount_fen=1000), newer, older])
    assert merged.figures == newer.figures and merged.state is LoanState.OVERDUE


def test_a_settled_loan_owes_nothing_and_a_shared_programme_is_keyed_by_its_code():
    merged = _merge([LoanFact(programme_id="p", shared_code="6505-pioneer", disbursed=True, amount_fen=1000,
                              figures=LoanFigures(at=T1, outstanding_fen=300, overdue_fen=300, overdue=True)),
                     LoanFact(settled=True)])
    assert merged.state is LoanState.SETTLED and (merged.outstanding_fen, merged.overdue_fen) == (0, 0)
    assert merged.programme_key == "6505-pioneer" and merged.approved  # a disbursed loan was approved


def test_a_review_alone_is_not_counted_until_the_application_names_the_programme():
    assert not _merge([LoanFact(programme_id="p", approved=True)]).known


def _atoms(county: str, key: str, **loans: int) -> list[LoanAtom]:
    """Atoms of one cell: ``active=3`` → three active loans of 1 000 元 each with 100 元 overdue when overdue."""
    out = []
    for name, n in loans.items():
        state = LoanState(name.upper())
        disbursed = state in domain.DISBURSED_STATES
        out.append(LoanAtom(tenant_id=county, programme_key=key, state=state, approved=disbursed, loans=n,
                            lent_fen=100_000 * n if disbursed else 0,
                            outstanding_fen=80_000 * n if state in domain.OUTSTANDING_STATES else 0,
                            overdue_fen=10_000 * n if state is LoanState.OVERDUE else 0,
                            subsidy_fen=1_000 * n if disbursed else 0, programme_name="党员先锋贷", product="PIONEER"))
    return out


def test_a_cell_of_two_borrowers_publishes_nothing_for_a_wider_scope_but_everything_for_its_county():
    atoms = _atoms("650560", "p", active=2, pending=4)
    wide = domain.build_loan_stats(scope="65", atoms=atoms, threshold=3)
    figures = wide.total.figures
    assert all(t.value == 0 and t.hidden == 1 for t in figures.values())
    assert domain.money_text(figures["lent_fen"], threshold=3) == "<3"
    own = domain.build_loan_stats(scope="650560", atoms=atoms, threshold=0)
    assert (own.total.figures["disbursed"].value, own.total.figures["lent_fen"].value) == (2, 200_000)
    assert own.total.figures["applications"].value == 6


def test_a_lone_overdue_loan_in_a_published_cell_keeps_its_amounts_hidden():
    # Five borrowers, one overdue: its overdue amount, and outstanding − overdue principal leaves 4 loans (fine),
    # but the overdue principal and overdue amount are one person's.
    cell, = domain.loan_cells(_atoms("650560", "p", active=4, overdue=1), threshold=3)
    assert {"overdue_loans", "overdue_outstanding_fen", "overdue_fen"} <= cell.hidden
    assert not cell.hidden & {"disbursed", "lent_fen", "outstanding_fen", "subsidy_fen"}


def test_complementary_suppression_hides_a_figure_that_would_give_a_small_count_back():
    # 7 disbursed, 3 settled, 3 overdue: disbursed − settled − overdue = 1 active loan, so one figure goes.
    cell, = domain.loan_cells(_atoms("650560", "p", active=1, overdue=3, settled=3), threshold=3)
    shown = {name: cell.counts[name] for name in ("disbursed", "settled", "overdue_loans") if name not in cell.hidden}
    assert len(shown) < 3
    # The principal of 4 loans and of 3 overdue ones would differ by one loan's: one of them is hidden.
    assert cell.hidden & {"outstanding_fen", "overdue_outstanding_fen"}


def test_rows_add_published_cells_only_and_the_overdue_rate_rounds_half_up():
    atoms = (_atoms("650560", "p", active=5) + _atoms("650561", "p", active=1)
             + _atoms("650562", "q", active=3, overdue=3))
    stats = domain.build_loan_stats(scope="6505", atoms=atoms, threshold=3)
    lent = stats.total.figures["lent_fen"]
    assert (lent.value, lent.hidden) == (1_100_000, 1)
    assert domain.money_text(lent, threshold=3) == "1100000+"
    # Published principal: 5 + 3 + 3 loans of 800 元, 3 of them overdue: 240000 / 880000 = 27.27…% → 27.3%.
    assert stats.total.overdue_rate.text == "27.3%"
    rows = {r.key: r for r in stats.programmes}
    assert rows["p"].figures["disbursed"].value == 5 and rows["p"].figures["disbursed"].hidden == 1
    assert rows["p"].name == "党员先锋贷" and rows["p"].product == "PIONEER"


def test_no_rate_reads_a_dash():
    stats = domain.build_loan_stats(scope="65", atoms=_atoms("650560", "p", pending=3), threshold=3)
    assert stats.total.overdue_rate.text == "—"


class _NoDatabase:
    """A unit of work that fails the test if the handler touches it."""

    tenant = "650560"

    @property
    def conn(self) -> object:
        raise AssertionError("a forged event must be refused before any read or write")


async def test_a_loan_event_claiming_another_county_is_refused_as_forged():
    event = loan_events_pb2.LoanApplied(loan_id="l1", programme_id="p1", product="PIONEER")
    event.meta.tenant_id = "650561"
    delivery = Delivery(event_id="e", tenant="650560", subject="jinqiao.650560.desk.LoanApplied", deliveries=1)
    with pytest.raises(ForgedEvent):
        await service.on_loan_applied(_NoDatabase(), event, delivery)  # type: ignore[arg-type]


def test_lent_minus_outstanding_may_not_tell_a_lone_settled_loans_principal():
    # Four borrowers, one settled and nothing else repaid yet: lent − outstanding would be that loan's amount.
    cell, = domain.loan_cells(_atoms("650560", "p", active=3, settled=1), threshold=3)
    assert "settled" in cell.hidden
    assert cell.hidden & {"lent_fen", "outstanding_fen"}
    assert "lent_fen" not in cell.hidden  # the least useful of the two goes
