"""Province and city dashboards over the read model of a 1,000,000-member province, and its rebuild from the log.

``python -m tests.bench.run dashboards`` runs it (issue 16: dashboard p99 < 50 ms; the rebuild's time printed).
"""

from __future__ import annotations

from tests.bench.common import BenchContext, Target

DASHBOARD_P99 = Target("province/city dashboard p99", 50.0, "ms", higher_is_better=False)


async def bench_dashboards(ctx: BenchContext) -> None:
    """CONTRACT (issue 16, helper h5): seed the insights read model from a province's event log, time it, query."""
    print("dashboards: not built yet")
