"""The write path: CreateMember and RegisterFlow over gRPC beside the grpc.aio + asyncpg + outbox floor (issue 16).

``python -m tests.bench.run write`` runs it; the floor is measured in the same run.
"""

from __future__ import annotations

import grpc

from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.process import start_service
from jinqiao.kit.settings import KitSettings
from jinqiao.registry import server as registry_server
from jinqiao.registry.v1 import registry_pb2_grpc
from tests.bench.common import CALLS, CONCURRENCY, COUNTIES, WARMUP, BenchContext, Target, floor, load, summary, verdict
from tests.support import member_request

WRITE_THROUGHPUT = Target("CreateMember throughput / floor", 0.6, "x")
WRITE_P99 = Target("CreateMember p99 / floor p99", 2.0, "x", higher_is_better=False)


async def create_member(settings: KitSettings, issuer: TokenIssuer) -> dict[str, float]:
    """The platform's CreateMember over gRPC: validation, encryption, RLS, outbox, audit, relay running."""
    running = await start_service(settings, service="registry", service_names=[registry_server.SERVICE_NAME],
                                  produces_events=True, setup=registry_server.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    tokens = {c: (("authorization", f"Bearer {issuer.issue(user='bench', role=Role.COUNTY_ADMIN, scope=c)[0]}"),)
              for c in COUNTIES}
    requests = [(c, member_request(c)) for c in (COUNTIES[i % len(COUNTIES)] for i in range(WARMUP + CALLS))]

    async def call(i: int) -> object:
        county, request = requests[i]
        return await stub.CreateMember(request, metadata=tokens[county])

    await load(call, calls=WARMUP, concurrency=CONCURRENCY)
    shifted = requests[WARMUP:]
    requests[:] = shifted
    result = summary("platform: CreateMember", *await load(call, calls=CALLS, concurrency=CONCURRENCY))
    await channel.close()
    await running.stop()
    return result




async def bench_write(ctx: BenchContext) -> None:
    """CreateMember (and, once built, RegisterFlow) against the floor, with the issue's targets."""
    print(f"write path, concurrency {CONCURRENCY}, {CALLS} calls each, client and server in one process")
    raw = await floor(ctx.registry_admin_dsn)
    platform = await create_member(ctx.registry, ctx.issuer)
    verdict(WRITE_THROUGHPUT, platform["calls_per_s"] / raw["calls_per_s"])
    verdict(WRITE_P99, platform["p99_ms"] / raw["p99_ms"])
