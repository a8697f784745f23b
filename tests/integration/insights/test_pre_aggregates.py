"""The figures the consumers keep beside the flow facts (issue 16): cells, coverage atoms, cell sizes, trend months.

Province 64 is this module's own (no other test registers flows there): 640121 and 640122 in city 6401. After any
order of events, duplicates and facts that outrun their registration, every kept figure equals the same figure taken
from the flow facts, and the dashboard's sums taken from the cells' sizes equal those taken cell by cell.
"""

from __future__ import annotations

import random
import uuid
from importlib import import_module

from jinqiao.insights import domain, repo
from jinqiao.kit.db import UnitOfWork
from tests.integration.insights.test_insights_flows import Script, publish, six_flows, tag  # noqa: F401  (fixture)

A, B = "640121", "640122"
SHANGHAI = "310000"

_FROM_FACTS = {
    "flow_cells": (
        "SELECT tenant_id, destination_code, coalesce(month, '') AS month, industry, count(*) AS flows,"
        " count(*) FILTER (WHERE NOT closed) AS away,"
        " count(*) FILTER (WHERE status IN ('OFFERED', 'MANAGED')) AS offered,"
        " count(*) FILTER (WHERE status = 'MANAGED') AS managed, count(*) FILTER (WHERE overdue_pending) AS overdue,"
        " count(*) FILTER (WHERE held) AS held"
        " FROM flow_facts WHERE registered AND tenant_id LIKE '64%' GROUP BY 1, 2, 3, 4",
        "SELECT tenant_id, destination_code, month, industry, flows, away, offered, managed, overdue, held"
        " FROM flow_cells WHERE tenant_id LIKE '64%' AND flows > 0",
    ),
    "flow_atoms": (
        "SELECT tenant_id, status, overdue_pending, count(*) AS flows FROM flow_facts"
        " WHERE registered AND tenant_id LIKE '64%' GROUP BY 1, 2, 3",
        "SELECT tenant_id, status, overdue_pending, flows FROM flow_atoms WHERE tenant_id LIKE '64%' AND flows > 0",
    ),
    "flow_month_counts": (
        "SELECT m.tenant_id, m.kind, m.month, count(*) AS members FROM flow_months m JOIN flow_facts f"
        " ON f.tenant_id = m.tenant_id AND f.flow_id = m.flow_id AND f.registered"
        " WHERE m.tenant_id LIKE '64%' GROUP BY 1, 2, 3",
        "SELECT tenant_id, kind, month, members FROM flow_month_counts WHERE tenant_id LIKE '64%' AND members > 0",
    ),
}


def _cell_sizes(cells: list[tuple]) -> set[tuple]:
    """What ``flow_cell_sizes`` must hold for these cells: per origin and city or month, flows and sizes."""
    sizes: dict[tuple[str, str, str], tuple[int, list[int]]] = {}
    for tenant, destination, month, _industry, flows, *_ in cells:
        for key in ((tenant, "AREA", domain.destination_area(destination)), (tenant, "MONTH", month)):
            total, small = sizes.get(key, (0, [0] * domain.CELL_SIZES))
            if flows <= domain.CELL_SIZES:
                small[flows - 1] += 1
            sizes[key] = (total + flows, small)
    return {(*key, total, tuple(small)) for key, (total, small) in sizes.items()}


async def _kept_equals_recomputed(conn) -> list[tuple]:
    for table, (recomputed, kept) in _FROM_FACTS.items():
        assert sorted(map(tuple, await conn.fetch(recomputed))) == sorted(map(tuple, await conn.fetch(kept))), table
    cells = [tuple(r) for r in await conn.fetch(_FROM_FACTS["flow_cells"][1])]
    sizes = {(r["tenant_id"], r["axis"], r["key"], r["flows"], tuple(r["small"])) for r in await conn.fetch(
        "SELECT tenant_id, axis, key, flows, small FROM flow_cell_sizes WHERE tenant_id LIKE '64%' AND flows > 0")}
    assert sizes == _cell_sizes(cells)
    return cells


def many_flows(script: Script, rnd: random.Random) -> list:
    """Twenty flows to a few places and months, so that cells hold one, two, three or more flows."""
    events = []
    for n in range(20):
        flow = f"flow-{uuid.uuid4()}"
        destination = rnd.choice(("410102", "440100", SHANGHAI))
        events.append(script.registered(flow, destination, f"2019-0{rnd.randint(3, 4)}-0{n % 9 + 1}"))
        if n % 3:
            events += [script.offered(flow, 1, destination, "EMPLOYER_BRANCH"),
                       script.checked_in(flow, 1, destination)]
        if n % 5 == 0:
            events.append(script.closed(flow, destination))
    return events


async def test_kept_figures_equal_the_facts_whatever_the_order(platform, publish, admin_conn_factory):  # noqa: F811
    industry = tag()
    rnd = random.Random(640121)
    await publish(six_flows(Script(A, industry)) + many_flows(Script(A, industry), rnd), one_by_one=True)
    await publish(list(reversed(six_flows(Script(B, industry)))), twice=True, shuffle=rnd)
    await publish(many_flows(Script(B, industry), rnd), twice=True)
    conn = await admin_conn_factory("insights")
    cells = await _kept_equals_recomputed(conn)
    # Cells of several sizes, some at or above the threshold: the sizes' arithmetic has something to do.
    assert any(c[4] >= 3 for c in cells) and len({c[4] for c in cells}) >= 3
    # The dashboard's sums from the sizes, under each threshold, equal those taken cell by cell.
    flow_cells = [domain.FlowCell(origin_tenant_id=c[0], destination_code=c[1], month=c[2], industry=c[3],
                                  flows=c[4]) for c in cells]
    for scope, digits in (("64", 4), ("6401", 6)):
        for threshold in (0, 2, 3, 5):
            # As the service reads them: the app role under the scope's row-level security.
            async with conn.transaction():
                await conn.execute("SET LOCAL ROLE jq_insights")
                await conn.execute(f"SELECT set_config('app.scope', '{scope}', true)")
                uow = UnitOfWork(db=None, setting="app.scope", value=scope)  # type: ignore[arg-type]
                uow._conn = conn
                kept = await repo.cell_tallies(uow, threshold=threshold, area_digits=digits)
            mine = [c for c in flow_cells if c.origin_tenant_id.startswith(scope)]
            assert kept == domain.tally_cells(mine, scope=scope, threshold=threshold)


async def test_the_migration_fills_the_figures_from_the_facts(platform, publish, admin_conn_factory):  # noqa: F811
    await publish(six_flows(Script(B, tag())))
    conn = await admin_conn_factory("insights")
    tables = {"flow_cells": 4, "flow_atoms": 3, "flow_cell_sizes": 3, "flow_month_counts": 3}  # the count's column

    async def figures() -> dict[str, list[tuple]]:
        # Rows a figure moved out of entirely stay behind at zero: the fill never writes those.
        return {t: sorted(r for r in map(tuple, await conn.fetch(f"SELECT * FROM {t} WHERE tenant_id LIKE '64%'"))
                          if r[i]) for t, i in tables.items()}

    kept = await figures()
    migration = import_module("jinqiao.insights.migrations.versions.0009_dashboards")
    statements: list[str] = []
    async with conn.transaction():
        for table in tables:
            await conn.execute(f"DELETE FROM {table} WHERE tenant_id LIKE '64%'")
        migration.fill(statements.append, tenant_prefix="64")
        for sql in statements:
            await conn.execute(sql)
        assert await figures() == kept
