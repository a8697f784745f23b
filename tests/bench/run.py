"""`make bench`: the platform's figures against the raw-component floor, measured in the same run.

``python -m tests.bench.run [write] [import] [subtree] [saga] [retention] [desk] [loans] [notifications] [memory]``
runs the sections named.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import grpc
import psutil
from pydantic import SecretStr

from jinqiao.kit.auth import Role, TokenIssuer, generate_signing_keypair
from jinqiao.kit.crypto import encode_keyring, generate_key
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import start_service
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.runtime.sandbox import Sandbox
from jinqiao.kit.settings import KitSettings
from jinqiao.registry import server as registry_server
from jinqiao.registry.v1 import registry_pb2_grpc
from tests.bench.desk import bench_desk
from tests.bench.imports import bench_import
from tests.bench.loans import bench_loans
from tests.bench.notifications import bench_notifications
from tests.bench.retention import bench_retention
from tests.bench.saga import bench_saga, event_floor
from tests.flood import flood
from tests.support import member_request

CONCURRENCY = 16
WARMUP = 300
CALLS = 4000
COUNTIES = ["411502", "411503", "411521", "411522", "411523", "411524", "411525", "411526", "411527", "411528"]


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, float]:
    """Throughput and percentiles of one run."""
    ordered = sorted(latencies)
    result = {
        "calls_per_s": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }
    print(f"  {name:<34} {result['calls_per_s']:>8.0f} calls/s   p50 {result['p50_ms']:6.2f} ms"
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


FLOOR_DDL = """
CREATE TABLE IF NOT EXISTS floor_rows (tenant_id text, id uuid, payload bytea, PRIMARY KEY (tenant_id, id));
CREATE TABLE IF NOT EXISTS floor_outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text,
    event_id uuid, payload bytea, sent_at timestamptz);
"""


async def floor(admin_dsn: str) -> dict[str, float]:
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

    await load(call, calls=WARMUP, concurrency=CONCURRENCY)
    result = summary("floor: grpc.aio + asyncpg + outbox", *await load(call, calls=CALLS, concurrency=CONCURRENCY))
    await channel.close()
    await server.stop(None)
    await pool.close()
    return result


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
    summary(f"township subtree, first 200 of {per_township:,}", *await load(township_page, calls=1000, concurrency=8))
    summary(f"county subtree, first 200 of {len(rows):,}", *await load(county_page, calls=1000, concurrency=8))

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
    await channel.close()
    await running.stop()


def stack_memory(root: Path) -> None:
    """Start `jinqiao up`, let it settle, and print each process's resident memory."""
    env = dict(os.environ)
    data = root / "stack"
    data.mkdir()
    data.chmod(0o755)
    env.update({"JINQIAO_DATA_DIR": str(data), "JINQIAO_PG_PORT": str(free_port()),
                "JINQIAO_NATS_PORT": str(free_port()), "JINQIAO_NATS_MONITOR_PORT": str(free_port()),
                "JINQIAO_HTTP_PORT": str(free_port()), "JINQIAO_REGISTRY_GRPC_PORT": str(free_port()),
                "JINQIAO_INSIGHTS_GRPC_PORT": str(free_port()),
                "JINQIAO_ORGANIZATIONS_GRPC_PORT": str(free_port()),
                "JINQIAO_ORGANIZATIONS_METRICS_PORT": str(free_port()),
                "JINQIAO_REGISTRY_METRICS_PORT": str(free_port()),
                "JINQIAO_INSIGHTS_METRICS_PORT": str(free_port())})
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jinqiao"), "up"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            if "http://127.0.0.1:" in line or time.monotonic() > deadline:
                break
        time.sleep(5)
        run = json.loads((data / "run.json").read_text())
        total = 0.0
        print("\nresident memory at rest (embedded stack, after the demo seed)")
        for name, pid in _pids(run):
            try:
                process = psutil.Process(pid)
                rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
            total += rss
            print(f"  {name:<12} {rss / 2**20:8.1f} MiB")
        print(f"  {'total':<12} {total / 2**20:8.1f} MiB")
        gateway_flood(base_url=f"http://127.0.0.1:{env['JINQIAO_HTTP_PORT']}", pid=dict(_pids(run))["gateway"])
    finally:
        proc.terminate()
        proc.wait(timeout=90)


def gateway_flood(*, base_url: str, pid: int) -> None:
    """The gateway process's memory under waves of 45 MB bodies, anonymous and logged in, beside its rest level."""
    import httpx

    login = httpx.post(f"{base_url}/api/v1/auth/token", json={"username": "county-411525", "password": "jinqiao"})
    token = login.json()["access_token"]
    paths = ["/api/v1/tenants/411525/members", "/api/v1/tenants/411525/imports"]
    print("\ngateway memory under a flood of 45 MB bodies (8 at once per route, 3 waves)")
    for label, bearer in (("no token", None), ("county token", token)):
        # stack_memory runs inside main's event loop, so the flood gets a loop of its own on a worker thread.
        with ThreadPoolExecutor(1) as worker:
            result = worker.submit(asyncio.run, flood(base_url=base_url, pid=pid, paths=paths, token=bearer)).result()
        print(f"  {label:<13} {result.requests} requests, {result.declared_bytes / 2**30:.1f} GiB declared, "
              f"{result.sent_bytes / 2**20:.0f} MiB accepted by the socket; answers "
              f"{ {('reset' if k == 0 else k): v for k, v in result.statuses.items()} }; "
              f"RSS {result.rss_before / 2**20:.0f} → peak {result.rss_peak / 2**20:.0f} MiB "
              f"(+{result.growth / 2**20:.0f} MiB), after {result.rss_after / 2**20:.0f} MiB")


def _pids(run: dict) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for key, value in run.items():
        if isinstance(value, int) and key != "supervisor":
            found.append((key, value))
        elif isinstance(value, dict):
            found += [(k, v) for k, v in value.items() if isinstance(v, int)]
    return found


SECTIONS = ("write", "import", "subtree", "saga", "retention", "desk", "loans", "notifications", "memory")


async def main(sections: tuple[str, ...] = SECTIONS) -> None:
    """Run the chosen figures (all by default) in one go on this machine."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-bench-"))
    root.chmod(0o755)
    # FastStream logs an INFO line whenever a consumer task ends; between the figures they are only noise.
    logging.getLogger("faststream.access.nats").addFilter(lambda record: record.levelno >= logging.WARNING)
    with Sandbox(prefix="jinqiao-bench-") as box:
        db = await provision_service_database(admin_dsn=box.admin_dsn, service="registry", app_password="bench")
        await migrate(service="registry", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
        orgs_db = await provision_service_database(admin_dsn=box.admin_dsn, service="organizations",
                                                   app_password="bench")
        await migrate(service="organizations", admin_dsn=orgs_db.admin_dsn_for_db, owner_role=orgs_db.owner_role)
        keys = root / "keys"
        keys.mkdir()
        private, public = generate_signing_keypair()
        (keys / "private.pem").write_bytes(private)
        (keys / "public.pem").write_bytes(public)
        # Policy timers off: their sweeps would land inside the measured windows.
        settings = KitSettings(
            service_name="registry", grpc_port=0, database_url=db.app_dsn, nats_url=box.nats_url,
            nats_user="registry", nats_password=box.nats_login("registry").password,
            jwt_public_key_file=keys / "public.pem", pii_keys=encode_keyring({1: generate_key()}),
            blind_index_key=base64.b64encode(generate_key()).decode(), db_pool_max=10, log_level="warning",
            timer_interval_seconds=0,
        )
        orgs_settings = settings.model_copy(update={
            "service_name": "organizations", "database_url": orgs_db.app_dsn, "nats_user": "organizations",
            "nats_password": SecretStr(box.nats_login("organizations").password)})
        issuer = TokenIssuer(private_key_pem=private, issuer="jinqiao", audience="jinqiao", ttl_seconds=3600)
        if "write" in sections:
            print(f"write path, concurrency {CONCURRENCY}, {CALLS} calls each, client and server in one process, "
                  f"{os.cpu_count()} cores")
            raw = await floor(db.admin_dsn_for_db)
            platform = await create_member(settings, issuer)
            print(f"  ratio platform/floor: throughput {platform['calls_per_s'] / raw['calls_per_s']:.2f}x, "
                  f"p99 {platform['p99_ms'] / raw['p99_ms']:.2f}x")
        if "import" in sections:
            await bench_import(admin_dsn=db.admin_dsn_for_db, settings=settings, issuer=issuer)
        if "subtree" in sections:
            await subtree_queries(orgs_db.admin_dsn_for_db, orgs_settings, issuer)
        if "saga" in sections:
            # The relay wakes on every commit; a short poll only bounds how long a missed wake-up could wait.
            fast = {"relay_poll_seconds": 0.1}
            await bench_saga(registry=settings.model_copy(update=fast), organizations=orgs_settings.model_copy(
                update=fast), issuer=issuer, floor=await event_floor(box.nats_url_as()))
        if "retention" in sections:
            await bench_retention(admin_dsn=db.admin_dsn_for_db, app_dsn=db.app_dsn)
        if "desk" in sections:
            await bench_desk(box_admin_dsn=box.admin_dsn, base=settings, nats_password=box.nats_login("desk").password,
                             issuer=issuer, floor=floor, load=load, summary=summary, calls=CALLS, warmup=WARMUP,
                             concurrency=CONCURRENCY)
        if "loans" in sections:
            await bench_loans(box_admin_dsn=box.admin_dsn, base=settings, nats_password=box.nats_login("desk").password,
                              issuer=issuer, floor=floor, load=load, summary=summary, calls=CALLS, warmup=WARMUP,
                              concurrency=CONCURRENCY)
        if "notifications" in sections:
            await bench_notifications(box_admin_dsn=box.admin_dsn, base=settings)
    if "memory" in sections:
        stack_memory(root)


def chosen(argv: list[str]) -> tuple[str, ...]:
    """The sections named on the command line, in run order; none named means all."""
    unknown = set(argv) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    return tuple(s for s in SECTIONS if s in argv) or SECTIONS


if __name__ == "__main__":
    picked = chosen(sys.argv[1:])
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(picked))
    else:
        uvloop.run(main(picked))
