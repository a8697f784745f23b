"""Issue 11's faults against the embedded platform under a steady write load: nothing lost, nothing twice.

Bounded (in `make test`): kill -9 of insights, kill -9 of NATS, PostgreSQL down 10 s, at a light load.
Whole (`make chaos`, ``JINQIAO_CHAOS=full``): kill -9 of every service, of NATS and of PostgreSQL; PostgreSQL down
30 s and 3 min and NATS down 5 min, each with a consumer backlog; insights made to crash-loop.
"""

from __future__ import annotations

import pytest

from jinqiao.kit import catalog
from tests.chaos import harness
from tests.chaos.conftest import full
from tests.chaos.harness import Row, Scenario
from tests.chaos.stack import Stack

pytestmark = pytest.mark.chaos

FULL = full()
CAP = 600.0 if FULL else 120.0
RATE = 5.0 if FULL else 3.0
# One county per scenario, so each scenario's members and insights' count of them are its own.
COUNTIES = iter(["411525", "411524", "411521", "411502", "411503", "411522", "411523", "411526", "411527", "411528",
                 "410102", "410103", "410104", "410105", "410108"])


def scenario(name: str, fault: harness.Fault, *, outage: float = 0, **options: float) -> object:
    """A parametrised case with a timeout covering the outage, the drain and the convergence."""
    chosen = Scenario(name=name, county=next(COUNTIES), fault=fault, rate=RATE, cap=CAP, **options)
    # The first case also waits for the platform to start.
    slug = name.lower().replace(" -9", "").replace(", ", "-").replace(" ", "-")
    return pytest.param(chosen, id=slug, marks=pytest.mark.timeout(int(outage + 2 * CAP + 420)))


def bounded() -> list[object]:
    """The subset `make test` runs."""
    return [
        scenario("kill -9 insights", harness.kill("insights")),
        scenario("kill -9 NATS", harness.kill("nats")),
        scenario("PostgreSQL down 10s", harness.outage("postgres", 10), outage=10, backlog=20),
    ]


def whole() -> list[object]:
    """Every scenario of issue 11, with its real durations."""
    return [
        scenario("kill -9 insights", harness.kill("insights")),
        scenario("kill -9 NATS", harness.kill("nats")),
        *(scenario(f"kill -9 {entry.name}", harness.kill(entry.name)) for entry in catalog.load()
          if entry.name != "insights"),
        scenario("kill -9 PostgreSQL", harness.kill("postgres")),
        scenario("PostgreSQL down 30s, backlog", harness.outage("postgres", 30), outage=30, backlog=150),
        scenario("PostgreSQL down 3min, backlog", harness.outage("postgres", 180), outage=180, backlog=150),
        scenario("NATS down 5min, backlog", harness.outage("nats", 300), outage=300, backlog=150),
        # Last: with a runner that gives up on a flapping service, the whole platform would be down after it.
        scenario("crash-loop insights", harness.crash_loop("insights", seconds=30), outage=30),
    ]


@pytest.mark.parametrize("case", whole() if FULL else bounded())
async def test_nothing_is_lost_or_duplicated(case: Scenario, stack: Stack, report: Row) -> None:
    await harness.run(stack, case, report)
    assert report.observed, f"{case.name}: the databases could not be counted: {report.notes}"
    assert report.converge_s is not None, f"{case.name}: did not converge within {case.cap:.0f}s: {report.notes}"
    assert report.lost == 0, f"{case.name}: {report.lost} accepted members lost: {report.notes}"
    assert report.duplicated == 0, f"{case.name}: {report.duplicated} members recorded twice: {report.notes}"
    assert report.accepted > 0, f"{case.name}: no write was accepted: {report.notes}"
