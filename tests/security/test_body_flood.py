"""Memory before identity (issue 10, finding 1): a flood of 45 MB bodies leaves the gateway's memory bounded.

The platform's gateway serves in this test process, so the process's resident memory is the gateway's plus the
tests'; before bodies were bounded, eight concurrent 45 MB bodies alone added over 300 MB.
"""

from __future__ import annotations

import os

from jinqiao.kit.auth import Role
from tests.flood import MIB, flood

COUNTY = "411525"
# Eight bodies in flight at once would hold 360 MB if read; the limit allows each at most its 1 MiB (+ one chunk).
GROWTH_BOUND = 64 * MIB


async def test_a_flood_of_unauthenticated_large_bodies_is_refused_without_reading_them(platform):
    result = await flood(base_url=platform.base_url, pid=os.getpid(), token=None, rounds=2,
                         paths=[f"/api/v1/tenants/{COUNTY}/members", f"/api/v1/tenants/{COUNTY}/imports"])
    assert result.statuses == {401: result.requests}
    assert result.sent_bytes < result.declared_bytes // 10
    assert result.growth < GROWTH_BOUND, f"grew {result.growth / MIB:.0f} MiB"


async def test_a_flood_of_authenticated_oversized_bodies_is_cut_off_at_each_routes_limit(platform, issuer):
    token, _ = issuer.issue(user=f"admin-{COUNTY}", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)
    result = await flood(base_url=platform.base_url, pid=os.getpid(), token=token, rounds=2,
                         paths=[f"/api/v1/tenants/{COUNTY}/members"])
    assert result.statuses == {413: result.requests}
    assert result.growth < GROWTH_BOUND, f"grew {result.growth / MIB:.0f} MiB"
