"""Subtree pages over a county tree of 50,001 organisations (issue 16: a page p99 < 20 ms).

``python -m tests.bench.run subtree`` runs it.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import asyncpg
import grpc

from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.process import start_service
from jinqiao.kit.settings import KitSettings
from tests.bench.common import BenchContext, Target, load, summary, verdict

PAGE_P99 = Target("subtree page p99", 20.0, "ms", higher_is_better=False)

TOWNSHIPS_IN_BIG_TREE = 50
BRANCHES_PER_TOWNSHIP = 999


async def subtree_queries(admin_dsn: str, settings: KitSettings, issuer: TokenIssuer) -> None:
    """ListSubtreeOrgs over gRPC on a county tree of 50,000 organisations (1 + 50 townships x 1,000)."""
    from jinqiao.organizations import server as org_server
    from jinqiao.organizations.v1 import organizations_pb2 as pb
    from jinqiao.organizations.v1 import organizations_pb2_grpc

    rows, townships = [], []
    root = uuid.uuid4()
    now = datetime.now(UTC)
    rows.append(("411525", root, None, root.hex, "中共固始县委员会", 1, now))
    for t in range(TOWNSHIPS_IN_BIG_TREE):
        town = uuid.uuid4()
        townships.append(str(town))
        rows.append(("411525", town, root, f"{root.hex}.{town.hex}", f"乡镇{t:02d}党委", 2, now))
        for b in range(BRANCHES_PER_TOWNSHIP):
            branch = uuid.uuid4()
            rows.append(("411525", branch, town, f"{root.hex}.{town.hex}.{branch.hex}", f"村{b:04d}党支部", 3, now))
    conn = await asyncpg.connect(admin_dsn)
    started = time.perf_counter()
    await conn.execute("CREATE TEMP TABLE staged (tenant_id text, id uuid, parent_id uuid, path text, name text,"
                       " kind smallint, created_at timestamptz)")
    await conn.copy_records_to_table("staged", records=rows)
    await conn.execute("INSERT INTO orgs (tenant_id, id, parent_id, path, name, kind, created_at)"
                       " SELECT tenant_id, id, parent_id, path::ltree, name, kind, created_at FROM staged")
    await conn.execute("ANALYZE orgs")
    await conn.close()
    print(f"\nsubtree queries over a tree of {len(rows):,} organisations"
          f" (loaded in {time.perf_counter() - started:.1f} s)")
    running = await start_service(settings, service="organizations", service_names=[org_server.SERVICE_NAME],
                                  produces_events=True, setup=org_server.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    metadata = (("authorization", f"Bearer {issuer.issue(user='bench', role=Role.COUNTY_ADMIN, scope='411525')[0]}"),)

    async def township_page(i: int) -> object:
        return await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=townships[i % len(townships)],
                                                                    page_size=200), metadata=metadata)

    async def county_page(_: int) -> object:
        return await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=str(root), page_size=200),
                                          metadata=metadata)

    await load(township_page, calls=100, concurrency=8)
    per_township = BRANCHES_PER_TOWNSHIP + 1
    township = summary(f"township subtree, first 200 of {per_township:,}",
                       *await load(township_page, calls=1000, concurrency=8))
    county = summary(f"county subtree, first 200 of {len(rows):,}", *await load(county_page, calls=1000, concurrency=8))

    async def whole_township(i: int) -> object:
        token, seen = "", 0
        while True:
            page = await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(
                root_id=townships[i % len(townships)], page_size=200, page_token=token), metadata=metadata)
            seen += len(page.orgs)
            token = page.next_page_token
            if not token:
                return seen

    summary(f"township subtree, all {per_township:,} (5 pages)", *await load(whole_township, calls=200,
                                                                           concurrency=8))
    verdict(PAGE_P99, max(township["p99_ms"], county["p99_ms"]))
    await channel.close()
    await running.stop()


async def bench_subtree(ctx: BenchContext) -> None:
    """The subtree section with its target."""
    await subtree_queries(ctx.organizations_admin_dsn, ctx.organizations, ctx.issuer)
