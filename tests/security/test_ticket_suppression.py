"""The service desk's figures never name people (DESIGN §5; issue 13).

Two counties of one city record tickets: one ticket alone in its category group at a station, a group of five of
which one missed its SLA, a rating of two people, and three tickets elsewhere. Their own county sees the exact
figures; the province and the city (over gRPC and HTTP, with and without a month range, and asking for a county's
scope directly) never see a count of 1 or 2, nor one they could compute from a total or from nested figures.
Counties 650467 and 650468 are this module's own.
"""

from __future__ import annotations

import uuid

import pytest

from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer
from tests.integration.insights.test_tickets import Desk, publish  # noqa: F401  (fixture)

ONE, TWO = "650467", "650468"
STATION = str(uuid.uuid4())
FIGURES = ("opened", "resolved", "resolution_met", "first_response_met", "breached", "rated", "reopened")
_SEEDED: list[bool] = []


@pytest.fixture
async def seeded(publish) -> None:  # noqa: F811
    """ONE: one 法律援助 ticket at a station; five 就业服务 (four within the SLA, two rated). TWO: three tickets."""
    if _SEEDED:
        return
    _SEEDED.append(True)
    legal, jobs, two = Desk(ONE), Desk(ONE, category="jobs", group="就业服务"), Desk(TWO)
    lone = str(uuid.uuid4())
    events = [legal.opened(lone, station=STATION), legal.resolved(lone, met=True, station=STATION),
              legal.rated(lone, 1, station=STATION)]
    five = [str(uuid.uuid4()) for _ in range(5)]
    events += [jobs.opened(t) for t in five] + [jobs.resolved(t, met=n < 4) for n, t in enumerate(five)]
    events += [jobs.rated(five[0], 5), jobs.rated(five[1], 3)]
    three = [str(uuid.uuid4()) for _ in range(3)]
    events += [two.opened(t) for t in three] + [two.resolved(t, met=True) for t in three]
    await publish(events)


def _small(value: int) -> bool:
    return 0 < value < 3


def _check(figures: insights_pb2.TicketFigures, where: str) -> None:
    for name in FIGURES:
        figure = getattr(figures, name)
        assert not _small(figure.value), f"{where}: {name} = {figure.value}"
        if figure.hidden_cells:
            assert figure.display != str(figure.value), f"{where}: {name} reads exact while leaving a cell out"
    # Nested figures published exactly must not differ by a small count.
    for whole, part in (("resolved", "resolution_met"), ("resolved", "first_response_met")):
        w, p = getattr(figures, whole), getattr(figures, part)
        if not w.hidden_cells and not p.hidden_cells:
            assert not _small(w.value - p.value), f"{where}: {whole} − {part} = {w.value - p.value}"
    if figures.rated.hidden_cells and not figures.rated.value:
        assert figures.satisfaction == "—", f"{where}: an average of hidden ratings"


VIEWS = [(Role.PROVINCE_ANALYST, "65", "65"), (Role.CITY_ANALYST, "6504", "6504"),
         (Role.PROVINCE_ANALYST, "65", ONE), (Role.CITY_ANALYST, "6504", ONE)]
RANGES = [("", ""), ("2026-11", "2026-11"), ("2026-10", "2026-11")]


@pytest.mark.parametrize(("role", "own", "scope"), VIEWS)
@pytest.mark.parametrize(("since", "until"), RANGES)
async def test_wider_scopes_publish_no_small_count_over_grpc(platform, issuer, seeded, role, own, scope, since,
                                                             until):
    token = issuer.issue(user=f"sup-{own}", role=role, scope=own)[0]
    reply = await platform.insights_stub.GetTicketStats(
        insights_pb2.GetTicketStatsRequest(scope=scope, since_month=since, until_month=until),
        metadata=bearer(token))
    assert reply.threshold == 3
    _check(reply.total, "total")
    for kind in ("counties", "stations", "groups"):
        for row in getattr(reply, kind):
            _check(row.figures, f"{kind}/{row.key}")
    assert not _small(reply.breached_this_month.value)
    one = {r.key: r.figures for r in reply.counties}[ONE]
    # ONE's lone 法律援助 ticket is a hidden cell: its county row says "5+", never the exact 6.
    assert (one.opened.value, one.opened.hidden_cells, one.opened.display) == (5, 1, "5+")
    # The 就业服务 cell: 5 resolved, 4 within the SLA: the figure giving the one miss away is hidden, and so is
    # the rating of two people.
    assert one.resolution_met.hidden_cells and one.sla_attainment_display in {"—"}
    assert one.satisfaction == "—" and one.satisfaction_partial
    if len(scope) == 6:
        station = next(r.figures for r in reply.stations if r.key != "county")
        assert station.opened.value == 0 and station.opened.display == "<3"


async def test_the_own_county_sees_its_exact_figures(platform, issuer, seeded):
    token = issuer.issue(user="sup-one", role=Role.COUNTY_ADMIN, scope=ONE)[0]
    reply = await platform.insights_stub.GetTicketStats(insights_pb2.GetTicketStatsRequest(scope=ONE),
                                                        metadata=bearer(token))
    assert reply.threshold == 0
    assert (reply.total.opened.value, reply.total.resolved.value, reply.total.resolution_met.value) == (6, 6, 5)
    assert reply.total.satisfaction == "3.0"  # (1 + 5 + 3) / 3


async def test_http_views_of_wider_scopes_hide_the_small_cells(platform, issuer, seeded):
    token = issuer.issue(user="sup-city", role=Role.CITY_ANALYST, scope="6504")[0]
    reply = await platform.http.get("/api/v1/scopes/6504/insights/tickets",
                                    headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    for row in [{"figures": body["total"]}, *body["counties"], *body["groups"]]:
        for name in FIGURES:
            assert not _small(row["figures"][name]["value"]), (row.get("key"), name)
    one = next(c for c in body["counties"] if c["key"] == ONE)
    assert one["figures"]["opened"]["display"] == "5+"
