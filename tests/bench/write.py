"""The write path: CreateMember and RegisterFlow over gRPC beside the grpc.aio + asyncpg + outbox floor (issue 16).

``python -m tests.bench.run write`` runs it; the floor is measured in the same run.
"""

from __future__ import annotations

from datetime import date

import grpc

from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.process import start_service
from jinqiao.kit.settings import KitSettings
from jinqiao.registry import server as registry_server
from jinqiao.registry.v1 import flows_pb2, registry_pb2_grpc
from tests.bench.common import CALLS, CONCURRENCY, COUNTIES, WARMUP, BenchContext, Target, floor, load, summary, verdict
from tests.support import member_request

WRITE_THROUGHPUT = Target("CreateMember throughput / floor", 0.6, "x")
WRITE_P99 = Target("CreateMember p99 / floor p99", 2.0, "x", higher_is_better=False)
FLOW_THROUGHPUT = Target("RegisterFlow throughput / floor", 0.6, "x")
FLOW_P99 = Target("RegisterFlow p99 / floor p99", 2.0, "x", higher_is_better=False)
# Out of the province (Xinjiang): the flow is registered and its FlowRegistered relayed, with no placing county here.
DESTINATION = "650543"


async def create_member_and_register_flow(settings: KitSettings,
                                          issuer: TokenIssuer) -> tuple[dict[str, float], dict[str, float]]:
    """The platform's CreateMember over gRPC (validation, encryption, RLS, outbox, audit, relay running), then
    RegisterFlow (外出登记) for each member it registered, on the same server."""
    running = await start_service(settings, service="registry", service_names=[registry_server.SERVICE_NAME],
                                  produces_events=True, setup=registry_server.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    tokens = {c: (("authorization", f"Bearer {issuer.issue(user='bench', role=Role.COUNTY_ADMIN, scope=c)[0]}"),)
              for c in COUNTIES}
    requests = [(c, member_request(c)) for c in (COUNTIES[i % len(COUNTIES)] for i in range(WARMUP + CALLS))]
    created: list[tuple[str, str]] = [("", "")] * len(requests)

    async def call(i: int) -> object:
        county, request = requests[i]
        reply = await stub.CreateMember(request, metadata=tokens[county])
        created[i] = (county, reply.member.id)
        return reply

    await load(call, calls=WARMUP, concurrency=CONCURRENCY)
    requests[:] = requests[WARMUP:]
    created[:] = created[WARMUP:] + created[:WARMUP]
    members = summary("platform: CreateMember", *await load(call, calls=CALLS, concurrency=CONCURRENCY))

    start_date = date.today().isoformat()
    away = created[CALLS:] + created[:CALLS]  # the warm-up's members first, then the measured run's

    async def register(i: int) -> object:
        county, member_id = away[i]
        return await stub.RegisterFlow(flows_pb2.RegisterFlowRequest(
            member_id=member_id, destination_code=DESTINATION, address="乌鲁木齐市新市区北京南路 9 号",
            employer="新疆某建设公司", industry="建筑", start_date=start_date, expected_months=6),
            metadata=tokens[county])

    await load(register, calls=WARMUP, concurrency=CONCURRENCY)
    away[:] = away[WARMUP:]
    flows = summary("platform: RegisterFlow", *await load(register, calls=CALLS, concurrency=CONCURRENCY))
    await channel.close()
    await running.stop()
    return members, flows


async def bench_write(ctx: BenchContext) -> None:
    """CreateMember and RegisterFlow against the floor (measured in the same run), with the issue's targets."""
    print(f"write path, concurrency {CONCURRENCY}, {CALLS} calls each, client and server in one process")
    raw = await floor(ctx.registry_admin_dsn)
    members, flows = await create_member_and_register_flow(ctx.registry, ctx.issuer)
    verdict(WRITE_THROUGHPUT, members["calls_per_s"] / raw["calls_per_s"])
    verdict(WRITE_P99, members["p99_ms"] / raw["p99_ms"])
    verdict(FLOW_THROUGHPUT, flows["calls_per_s"] / raw["calls_per_s"])
    verdict(FLOW_P99, flows["p99_ms"] / raw["p99_ms"])
