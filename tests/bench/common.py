"""What every bench section shares: the load driver, percentiles, the write floor and the target verdicts."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc

from jinqiao.kit.auth import TokenIssuer
from jinqiao.kit.runtime.sandbox import Sandbox
from jinqiao.kit.settings import KitSettings

CONCURRENCY = 16
WARMUP = 300
CALLS = 4000
COUNTIES = ["411502", "411503", "411521", "411522", "411523", "411524", "411525", "411526", "411527", "411528"]


def pct(values: list[float], q: float) -> float:
    """The q-quantile of the values, taken as ``summary`` takes its p50 and p99."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q) - (1 if q >= 0.99 else 0)))]


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, float]:
    """Throughput and percentiles of one run, printed as one line."""
    ordered = sorted(latencies)
    result = {
        "calls_per_s": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }
    print(f"  {name:<38} {result['calls_per_s']:>8.0f} calls/s   p50 {result['p50_ms']:6.2f} ms"
          f"   p99 {result['p99_ms']:6.2f} ms")
    return result


async def load(call: Callable[[int], Awaitable[object]], *, calls: int, concurrency: int) -> tuple[list[float], float]:
    """Run ``calls`` calls with ``concurrency`` workers; return latencies and wall time."""
    counter = iter(range(calls))
    latencies: list[float] = []

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Target:
    """A figure the platform promises (issue 16), e.g. ``Target("CreateMember throughput", 0.6, "x floor")``."""

    name: str
    limit: float
    unit: str
    higher_is_better: bool = True

    def met(self, value: float) -> bool:
        """Whether a measured value meets the target."""
        return value >= self.limit if self.higher_is_better else value <= self.limit


VERDICTS: list[tuple[Target, float]] = []


def verdict(target: Target, value: float) -> bool:
    """Print the measured value beside its target, met or NOT MET, and keep it for the run's closing table."""
    ok = target.met(value)
    sign = "≥" if target.higher_is_better else "≤"
    print(f"  target {target.name}: {value:,.2f} {target.unit} (target {sign} {target.limit:g} {target.unit})"
          f" — {'met' if ok else 'NOT MET'}")
    VERDICTS.append((target, value))
    return ok


def print_verdicts() -> None:
    """The closing table of every target measured in this run."""
    if not VERDICTS:
        return
    print("\ntargets (issue 16)")
    for target, value in VERDICTS:
        sign = "≥" if target.higher_is_better else "≤"
        state = "met" if target.met(value) else "NOT MET"
        print(f"  {target.name:<52} {value:>10,.2f} {target.unit:<10} {sign} {target.limit:<8g} {state}")


FLOOR_DDL = """
CREATE TABLE IF NOT EXISTS floor_rows (tenant_id text, id uuid, payload bytea, PRIMARY KEY (tenant_id, id));
CREATE TABLE IF NOT EXISTS floor_outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text,
    event_id uuid, payload bytea, sent_at timestamptz);
"""


async def floor(admin_dsn: str, *, calls: int = CALLS, warmup: int = WARMUP,
                concurrency: int = CONCURRENCY) -> dict[str, float]:
    """A bare grpc.aio unary call into an asyncpg transaction inserting a row and an outbox row."""
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(FLOOR_DDL)
    await conn.close()
    pool = await asyncpg.create_pool(admin_dsn, min_size=10, max_size=10)

    async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        async with pool.acquire() as c, c.transaction():
            await c.execute("INSERT INTO floor_rows VALUES ($1, $2, $3)", "411525", uuid.uuid4(), request)
            await c.execute("INSERT INTO floor_outbox (tenant_id, event_id, payload) VALUES ($1, $2, $3)",
                            "411525", uuid.uuid4(), request)
        return request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "floor.Floor", {"Insert": grpc.unary_unary_rpc_method_handler(handle)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    method = channel.unary_unary("/floor.Floor/Insert")
    payload = b"x" * 300

    async def call(_: int) -> object:
        return await method(payload)

    await load(call, calls=warmup, concurrency=concurrency)
    result = summary("floor: grpc.aio + asyncpg + outbox", *await load(call, calls=calls, concurrency=concurrency))
    await channel.close()
    await server.stop(None)
    await pool.close()
    return result


@dataclass(frozen=True, slots=True)
class BenchContext:
    """What ``run.py`` prepares once for every section: a sandbox, migrated databases, settings and tokens."""

    box: Sandbox
    root: Path
    registry: KitSettings
    organizations: KitSettings
    registry_admin_dsn: str
    organizations_admin_dsn: str
    issuer: TokenIssuer
