"""The 党员先锋贷 figures never give one borrower's loan away (DESIGN §5; issue 14 §6).

Three counties of one city record loans with amounts no sum of other loans could hit by chance: a programme with a
single borrower, one with four of which one is settled (nothing else repaid: lent − outstanding would be that
loan's principal) and one overdue, one with three, and a shared programme with one borrower in one county and two
in another. Their own county sees the exact figures; the province and the city (over gRPC and HTTP, and asking
for a county's scope directly) publish no count of 1 or 2, and no published money figure, nor the difference of
two published figures of one kind, is one loan's amount or the sum of two.
Counties 650570–650572 are this module's own.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer
from tests.integration.insights.test_loans import Loans
from tests.integration.insights.test_tickets import publish  # noqa: F401  (fixture)

ONE, TWO, THREE = "650570", "650571", "650572"
SHARED = "H6-SEC-SHARED"
LONE, FOUR = Loans(ONE, name="单人项目"), Loans(ONE, name="四人项目")
TRIO, SHARED_TWO, SHARED_THREE = Loans(TWO), Loans(TWO, shared_code=SHARED), Loans(THREE, shared_code=SHARED)
COUNT_FIGURES = ("applications", "approved", "refused", "disbursed", "settled", "overdue_loans")
MONEY_FIGURES = ("lent_fen", "outstanding_fen", "overdue_outstanding_fen", "overdue_fen", "subsidy_fen")
# Every single loan's amounts by figure kind, filled by the seed.
SECRETS: dict[str, list[int]] = {name: [] for name in MONEY_FIGURES}
_SEEDED: list[bool] = []


def _amount(n: int) -> int:
    """Loan amounts far apart and odd, so no published sum of three or more equals one or two of them."""
    return 7_000_003 + n * 1_000_117


@pytest.fixture
async def seeded(publish) -> None:  # noqa: F811
    if _SEEDED:
        return
    _SEEDED.append(True)
    events, n = [], 0

    def borrow(programme: Loans) -> str:
        nonlocal n
        n += 1
        loan_id, amount, subsidy = str(uuid.uuid4()), _amount(n), 30_011 + n * 997
        events.extend(programme.borrower(loan_id, amount, subsidy))
        SECRETS["lent_fen"].append(amount)
        SECRETS["subsidy_fen"].append(subsidy)
        SECRETS["outstanding_fen"].append(amount)
        return loan_id

    borrow(LONE)
    four = [borrow(FOUR) for _ in range(4)]
    events.append(FOUR.settled(four[0]))
    overdue_fen = 123_457
    events.append(FOUR.overdue(four[1], outstanding_fen=_amount(3), overdue_fen=overdue_fen, days=12))
    SECRETS["overdue_outstanding_fen"].append(_amount(3))
    SECRETS["overdue_fen"].append(overdue_fen)
    refused = str(uuid.uuid4())
    events += [FOUR.applied(refused), FOUR.refused(refused)]
    for _ in range(3):
        borrow(TRIO)
    borrow(SHARED_TWO)
    for _ in range(2):
        borrow(SHARED_THREE)
    await publish(events)


def _small(value: int) -> bool:
    return 0 < value < 3


def _rows(reply: insights_pb2.GetLoanStatsResponse) -> list[tuple[str, insights_pb2.LoanFigures]]:
    mine = {ONE, TWO, THREE, SHARED, LONE.key, FOUR.key, TRIO.key}
    return ([(f"total {reply.scope}", reply.total)]
            + [(r.key, r.figures) for r in (*reply.counties, *reply.programmes) if r.key in mine])


def _check(reply: insights_pb2.GetLoanStatsResponse) -> None:
    assert reply.threshold == 3
    rows = _rows(reply)
    for where, figures in rows:
        for name in COUNT_FIGURES:
            if where.startswith("total"):
                continue  # the totals hold other modules' counties too; their rows are checked there
            assert not _small(getattr(figures, name).value), f"{where}: {name}"
    # Principal figures (lent ⊇ outstanding ⊇ overdue outstanding) are one quantity: any difference between two of
    # them, in any row, is a sum of principal; subsidy and overdue amounts are quantities of their own.
    for kinds in (("lent_fen", "outstanding_fen", "overdue_outstanding_fen"), ("subsidy_fen",), ("overdue_fen",)):
        published = {getattr(f, name).value for _, f in rows for name in kinds}
        derivable = published | {abs(a - b) for a, b in itertools.combinations(published, 2)}
        secrets = [v for name in kinds for v in SECRETS[name]]
        singles_and_pairs = set(secrets) | {a + b for a, b in itertools.combinations(secrets, 2)}
        leaked = derivable & singles_and_pairs
        assert not leaked, f"{reply.scope}: {kinds} give away {sorted(leaked)}"


def _md(issuer, role: Role, scope: str) -> tuple[tuple[str, str], ...]:
    return bearer(issuer.issue(user=f"sec-{scope}", role=role, scope=scope)[0])


async def test_own_county_sees_exact_figures(platform, issuer, seeded):
    reply = await platform.insights_stub.GetLoanStats(insights_pb2.GetLoanStatsRequest(scope=ONE),
                                                      metadata=_md(issuer, Role.COUNTY_ADMIN, ONE))
    assert reply.threshold == 0
    assert (reply.total.disbursed.value, reply.total.settled.value, reply.total.overdue_loans.value) == (5, 1, 1)
    assert reply.total.lent_fen.value == sum(_amount(n) for n in range(1, 6))


@pytest.mark.parametrize(("role", "principal", "scope"), [
    (Role.PROVINCE_ANALYST, "65", "65"), (Role.CITY_ANALYST, "6505", "6505"),
    (Role.PROVINCE_ANALYST, "65", ONE), (Role.CITY_ANALYST, "6505", TWO),
])
async def test_no_grpc_reply_of_a_wider_scope_gives_a_borrowers_amount_away(platform, issuer, seeded, role,
                                                                             principal, scope):
    reply = await platform.insights_stub.GetLoanStats(insights_pb2.GetLoanStatsRequest(scope=scope),
                                                      metadata=_md(issuer, role, principal))
    _check(reply)


async def test_every_reply_of_the_province_and_the_city_together_gives_nothing_away(platform, issuer, seeded):
    """Two scopes' rows side by side: differences across them are sums of published cells too."""
    replies = [await platform.insights_stub.GetLoanStats(insights_pb2.GetLoanStatsRequest(scope=scope),
                                                         metadata=_md(issuer, role, scope))
               for role, scope in ((Role.PROVINCE_ANALYST, "65"), (Role.CITY_ANALYST, "6505"))]
    merged = insights_pb2.GetLoanStatsResponse(scope="65+6505", threshold=3)
    for reply in replies:
        merged.counties.extend(reply.counties)
        merged.programmes.extend(reply.programmes)
    merged.total.CopyFrom(replies[0].total)
    _check(merged)


async def test_no_http_reply_of_a_wider_scope_gives_a_borrowers_amount_away(platform, issuer, seeded):
    for role, principal, scope in ((Role.PROVINCE_ANALYST, "65", "65"), (Role.CITY_ANALYST, "6505", "6505")):
        token = issuer.issue(user=f"sec-http-{scope}", role=role, scope=principal)[0]
        reply = await platform.http.get(f"/api/v1/scopes/{scope}/insights/loans",
                                        headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        as_proto = insights_pb2.GetLoanStatsResponse(scope=body["scope"], threshold=body["threshold"])
        for source, target in ((body["counties"], as_proto.counties), (body["programmes"], as_proto.programmes)):
            for row in source:
                item = target.add(key=row["key"])
                _fill(item.figures, row["figures"])
        _fill(as_proto.total, body["total"])
        _check(as_proto)


def _fill(target: insights_pb2.LoanFigures, figures: dict) -> None:
    for name in COUNT_FIGURES + MONEY_FIGURES:
        getattr(target, name).value = figures[name]["value"]
        getattr(target, name).hidden_cells = figures[name]["hidden_cells"]
