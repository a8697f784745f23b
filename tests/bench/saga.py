"""Saga latency under a steady load (DESIGN §7): outflow registered → offer at the destination → origin sees it.

Called from ``tests/bench/run.py`` as ``await event_floor(nats_url)`` and ``await bench_saga(registry=…,
organizations=…, issuer=…)``; or alone: ``python -m tests.bench.saga``. The floor beside it is JetStream publish →
a nats-py pull consumer on the same server, at the same rate, in the same process.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path

import asyncpg
import grpc
import nats
from nats.js.api import StorageType
from pydantic import SecretStr

from jinqiao.kit.auth import Role, TokenIssuer, generate_signing_keypair
from jinqiao.kit.crypto import encode_keyring, generate_key
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import start_service
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.runtime.sandbox import Sandbox
from jinqiao.kit.settings import KitSettings
from jinqiao.organizations import server as org_server
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry import server as registry_server
from jinqiao.registry.v1 import flows_pb2, registry_pb2_grpc
from tests.support import member_request

RATE = 10.0  # flows per second, spread evenly
SECONDS = 25
# Origin county → its in-province destination; none of them holds the subtree bench's 50,000-org tree, so the
# figure is the same whether that section ran before or not.
ROUTES = {"411521": "410102", "411522": "410105"}  # 罗山 → 中原区, 光山 → 金水区
CITY = "110000"  # 北京: placed in the origin's own 驻京 branch
OUT_EVERY = 5  # one flow in five leaves the province
EMPLOYERS = {"410102": "中原物流园有限公司", "410105": "金水科创园有限公司"}
DESTINATION_NAMES = {"410102": "中共中原区委员会", "410105": "中共金水区委员会"}
ORIGIN_NAMES = {"411521": "中共罗山县委员会", "411522": "中共光山县委员会"}
POLL_MIN_SECONDS, POLL_FRACTION, POLL_MAX_SECONDS = 0.005, 0.05, 0.5
POLL_PAGE = 10  # newest first: ten offers cover more than a second of a county's arrivals at this rate
FLOOR_MESSAGES = 120
# (label, fetch batch, fetch timeout): the floor, the kit's consumers (broker.py), and a short fetch timeout.
FLOOR_VARIANTS = [("floor: pull fetch(batch=1)", 1, 5.0), ("kit's fetch(batch=32, timeout=1 s)", 32, 1.0),
                  ("fetch(batch=32, timeout=0.1 s)", 32, 0.1)]


def pct(values: list[float], q: float) -> float:
    """The q-quantile as run.py's summary takes its p50 and p99."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if q == 0.5 else ordered[max(int(len(ordered) * q) - 1, 0)]


def line(name: str, seconds: list[float], *, count: str = "") -> dict[str, float]:
    """Print one latency row in milliseconds: p50, p99, max."""
    result = {"p50_ms": pct(seconds, 0.5) * 1000, "p99_ms": pct(seconds, 0.99) * 1000, "max_ms": max(seconds) * 1000}
    print(f"  {name:<38} {count:>9}   p50 {result['p50_ms']:7.1f} ms   p99 {result['p99_ms']:7.1f} ms"
          f"   max {result['max_ms']:7.1f} ms")
    return result


async def event_floor(nats_url: str, *, rate: float = RATE, messages: int = FLOOR_MESSAGES) -> dict[str, dict]:
    """JetStream publish (awaiting the PubAck) → a durable pull consumer receiving it, at ``rate`` per second."""
    nc = await nats.connect(nats_url, name="bench-floor")
    js = nc.jetstream()
    latencies: dict[str, list[float]] = {label: [] for label, _, _ in FLOOR_VARIANTS}
    tasks = []
    running = True
    all_in = asyncio.Event()
    for k, (label, batch, timeout) in enumerate(FLOOR_VARIANTS):
        # File storage, as the services' streams (broker.ensure_stream).
        await js.add_stream(name=f"BENCH_FLOOR_{k}", subjects=[f"bench.floor.{k}"], storage=StorageType.FILE)
        sub = await js.pull_subscribe(f"bench.floor.{k}", durable=f"bench-floor-{k}", stream=f"BENCH_FLOOR_{k}")

        async def consume(sub=sub, label=label, batch=batch, timeout=timeout) -> None:
            while running:
                try:
                    got = await sub.fetch(batch=batch, timeout=timeout)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                now = time.perf_counter()
                for msg in got:
                    latencies[label].append(now - struct.unpack("d", msg.data)[0])
                    await msg.ack()
                if all(len(v) >= messages for v in latencies.values()):
                    all_in.set()

        tasks.append(asyncio.create_task(consume()))
    started = time.perf_counter()
    for i in range(messages):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        await asyncio.gather(*(js.publish(f"bench.floor.{k}", struct.pack("d", time.perf_counter()))
                               for k in range(len(FLOOR_VARIANTS))))
    with suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), timeout=5)
    running = False
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for k in range(len(FLOOR_VARIANTS)):
        await js.delete_stream(f"BENCH_FLOOR_{k}")
    await nc.close()
    print(f"\nevent floor: JetStream publish → pull consumer receives it, {rate:.0f} msg/s, {messages} messages,"
          " nats-py, same server")
    return {label: line(label, values, count=f"{len(values)} msgs") for label, values in latencies.items()}


@dataclass
class Flow:
    """One outflow's timeline, in time.time() seconds."""

    origin: str
    placing: str
    registered: float
    rpc: float
    stamped: float | None = None
    at_destination: float | None = None
    at_origin: float | None = None


def bearer(issuer: TokenIssuer, county: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata with a county_admin token of the county."""
    token = issuer.issue(user=f"bench-{county}", role=Role.COUNTY_ADMIN, scope=county)[0]
    return (("authorization", f"Bearer {token}"),)


async def build_trees(orgs: organizations_pb2_grpc.OrganizationsServiceStub, md: dict) -> None:
    """Each destination: county, township with an enterprise branch, a station with its temporary branch.

    Each origin: its county committee and a 驻京 general branch for the flows to Beijing.
    """
    K = pb.OrgKind

    async def add(county: str, parent: str, name: str, kind: int, **extra: object) -> str:
        return (await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind, **extra),
                                     metadata=md[county])).org.id

    for county, name in DESTINATION_NAMES.items():
        root = await add(county, "", name, K.ORG_KIND_COUNTY_COMMITTEE)
        street = await add(county, root, "经开街道党工委", K.ORG_KIND_TOWNSHIP_COMMITTEE)
        await add(county, street, f"{EMPLOYERS[county][:-5]}党支部", K.ORG_KIND_ENTERPRISE_BRANCH,
                  employer=EMPLOYERS[county])
        station = await add(county, root, "驻城党建工作站", K.ORG_KIND_TOWN_STATION)
        await add(county, station, "工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)
    for county, name in ORIGIN_NAMES.items():
        root = await add(county, "", name, K.ORG_KIND_COUNTY_COMMITTEE)
        await add(county, root, f"{name[2:4]}驻北京流动党员党总支", K.ORG_KIND_EXTERNAL_GENERAL_BRANCH,
                  city_code=CITY, founding_mode=pb.FOUNDING_MODE_STANDALONE)


async def quiet_outbox(dsn: str, *, timeout: float = 180.0) -> float:
    """Wait until a service's relay has published every outbox row (e.g. an import's); return the seconds waited."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        # The same SECURITY DEFINER function the relay reads through: the app role sees every county's rows.
        while await conn.fetchval("SELECT count(*) FROM outbox_pending_all_tenants(1)"):
            if time.perf_counter() - started > timeout:
                raise TimeoutError("the outbox did not drain")
            await asyncio.sleep(0.1)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def bench_saga(*, registry: KitSettings, organizations: KitSettings, issuer: TokenIssuer,
                     floor: dict[str, dict] | None = None, rate: float = RATE, seconds: int = SECONDS) -> dict:
    """Register flows at ``rate`` for ``seconds``; time each until the destination and the origin see the offer."""
    reg = await start_service(registry, service="registry", service_names=[registry_server.SERVICE_NAME],
                              produces_events=True, setup=registry_server.setup)
    org = await start_service(organizations, service="organizations", service_names=[org_server.SERVICE_NAME],
                              produces_events=True, setup=org_server.setup)
    reg_channel = grpc.aio.insecure_channel(f"127.0.0.1:{reg.port}")
    org_channel = grpc.aio.insecure_channel(f"127.0.0.1:{org.port}")
    registry_stub = registry_pb2_grpc.RegistryServiceStub(reg_channel)
    orgs = organizations_pb2_grpc.OrganizationsServiceStub(org_channel)
    md = {county: bearer(issuer, county) for county in [*ROUTES, *ROUTES.values()]}
    try:
        await build_trees(orgs, md)
        total = int(rate * seconds)
        plan = []
        for i in range(total):
            origin = list(ROUTES)[i % len(ROUTES)]
            out = i % OUT_EVERY == OUT_EVERY - 1
            dest = CITY if out else ROUTES[origin]
            # Half the in-province flows name the destination's enterprise, half go to its station's branch.
            employer = EMPLOYERS[dest] if not out and i % 4 < 2 else ""
            plan.append((origin, dest, employer))
        members = []
        for start in range(0, total, 16):
            members += await asyncio.gather(*(registry_stub.CreateMember(member_request(origin), metadata=md[origin])
                                              for origin, _, _ in plan[start:start + 16]))
        # A backlog (e.g. an import's 20,000 events, or these members') would sit in front of every flow's
        # event, in outbox order: start the load from empty outboxes.
        waited = sum([await quiet_outbox(registry.database_url), await quiet_outbox(organizations.database_url)])
        if waited > 1:
            print(f"\n(waited {waited:.1f} s for the relays to publish the outbox rows left by earlier sections)")
        result = await _drive(registry_stub, orgs, md, plan, [m.member.id for m in members], rate)
    finally:
        await reg_channel.close()
        await org_channel.close()
        await org.stop()
        await reg.stop()
    return _report(result, plan, rate=rate, seconds=seconds, floor=floor, relay_poll=registry.relay_poll_seconds)


async def _drive(registry_stub, orgs, md, plan, member_ids, rate) -> dict:
    """The steady load; each flow is watched at its destination and its origin until both see the offer."""
    flows: dict[str, Flow] = {}
    polls = {"calls": 0}
    today = date.today().isoformat()

    def interval(since: float) -> float:
        # Polling error stays within ~5 % of the latency measured, without flooding the shared event loop
        # (a fixed fine interval would cost as much as the saga itself if offers were slow).
        return min(max(POLL_MIN_SECONDS, (time.time() - since) * POLL_FRACTION), POLL_MAX_SECONDS)

    async def at_destination(flow_id: str, record: Flow) -> None:
        # Newest offers first: a fresh offer is at the top of its county's list.
        while True:
            page = await orgs.ListMemberships(pb.ListMembershipsRequest(
                statuses=[pb.MEMBERSHIP_STATUS_OFFERED], page_size=POLL_PAGE), metadata=md[record.placing])
            polls["calls"] += 1
            found = next((m for m in page.memberships if m.flow_id == flow_id), None)
            if found is not None:
                record.at_destination = time.time()
                record.stamped = found.offer_time.ToDatetime(tzinfo=UTC).timestamp()
                return
            await asyncio.sleep(interval(record.registered))

    async def at_origin(flow_id: str, record: Flow) -> None:
        while True:
            flow = (await registry_stub.GetFlow(flows_pb2.GetFlowRequest(id=flow_id), metadata=md[record.origin])).flow
            polls["calls"] += 1
            if flow.status == flows_pb2.FLOW_STATUS_OFFERED:
                record.at_origin = time.time()
                return
            if flow.status != flows_pb2.FLOW_STATUS_REGISTERED:
                raise RuntimeError(f"flow {flow_id} went to {flows_pb2.FlowStatus.Name(flow.status)}")
            await asyncio.sleep(interval(record.registered))

    async def one(i: int) -> None:
        origin, dest, employer = plan[i]
        started = time.time()
        flow = (await registry_stub.RegisterFlow(flows_pb2.RegisterFlowRequest(
            member_id=member_ids[i], destination_code=dest, address="经开区第八大街 8 号", employer=employer,
            industry="物流", start_date=today, expected_months=6), metadata=md[origin])).flow
        now = time.time()
        record = flows[flow.id] = Flow(origin=origin, placing=flow.placing_tenant_id, registered=now,
                                       rpc=now - started)
        await asyncio.wait_for(asyncio.gather(at_destination(flow.id, record), at_origin(flow.id, record)),
                               timeout=60)

    started = time.perf_counter()
    tasks = []
    for i in range(len(plan)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    load_seconds = time.perf_counter() - started
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return {"flows": flows, "load_seconds": load_seconds, "polls": polls["calls"], "failures": failures,
            "elapsed": time.perf_counter() - started}


def _report(result: dict, plan: list, *, rate: float, seconds: int, floor: dict | None, relay_poll: float) -> dict:
    flows: list[Flow] = list(result["flows"].values())
    out = sum(1 for _, dest, _ in plan if dest == CITY)
    routes = ", ".join(f"{o} → {d}" for o, d in ROUTES.items())
    print(f"\nsaga under a steady load: {len(plan)} flows at {rate:.0f}/s for {seconds} s ({routes};"
          f" {out} to {CITY} via the origin's 驻京 branch)")
    print(f"  registry + organizations in this process, relay poll {relay_poll:g} s, timers off; each flow polled"
          f" at {POLL_FRACTION:.0%} of its age ({POLL_MIN_SECONDS * 1000:.0f}-{POLL_MAX_SECONDS * 1000:.0f} ms)")
    complete = [f for f in flows if f.at_origin is not None and f.at_destination is not None]
    print(f"  achieved {len(flows) / result['load_seconds']:.2f} flows/s registered, {len(complete)} of {len(plan)}"
          f" offered and seen at both ends; {result['polls']:,} poll calls"
          f" ({result['polls'] / result['elapsed']:.0f}/s)")
    for failure in result["failures"][:3]:
        print(f"  failed: {type(failure).__name__}: {failure}")
    rows = {"rpc": line("RegisterFlow RPC", [f.rpc for f in flows], count=f"{len(flows)} flows")}
    if complete:
        n = f"{len(complete)} flows"
        rows["stamp"] = line("offer stamped at destination", [f.stamped - f.registered for f in complete], count=n)
        rows["destination"] = line("offer recorded at destination (poll)",
                                   [f.at_destination - f.registered for f in complete], count=n)
        rows["origin"] = line("origin sees the offer (poll)", [f.at_origin - f.registered for f in complete], count=n)
        for kind, subset in (("in province", [f for f in complete if f.placing != f.origin]),
                             (f"to {CITY}", [f for f in complete if f.placing == f.origin])):
            if subset:
                line(f"  of which {kind}", [f.at_origin - f.registered for f in subset],
                     count=f"{len(subset)} flows")
    if floor and "origin" in rows:
        base = next(iter(floor.values()))["p50_ms"]
        print(f"  floor for the round trip, 2 hops x publish→pull p50: {2 * base:.1f} ms; origin sees the offer"
              f" p50 {rows['origin']['p50_ms'] / (2 * base):.1f}x that")
    return rows


async def main() -> None:
    """Run the saga figures alone, on a throwaway PostgreSQL and NATS."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-bench-saga-"))
    with Sandbox(prefix="jinqiao-bench-saga-") as box:
        dsns = {}
        for service in ("registry", "organizations"):
            db = await provision_service_database(admin_dsn=box.admin_dsn, service=service, app_password="bench")
            await migrate(service=service, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
            dsns[service] = db.app_dsn
        private, public = generate_signing_keypair()
        (root / "public.pem").write_bytes(public)
        registry = KitSettings(
            service_name="registry", grpc_port=0, database_url=dsns["registry"], nats_url=box.nats_url,
            nats_user="registry", nats_password=box.nats_login("registry").password,
            jwt_public_key_file=root / "public.pem", pii_keys=encode_keyring({1: generate_key()}),
            blind_index_key=base64.b64encode(generate_key()).decode(), db_pool_max=10, log_level="warning",
            relay_poll_seconds=0.1, timer_interval_seconds=0,
        )
        organizations = registry.model_copy(update={
            "service_name": "organizations", "database_url": dsns["organizations"], "nats_user": "organizations",
            "nats_password": SecretStr(box.nats_login("organizations").password)})
        issuer = TokenIssuer(private_key_pem=private, issuer="jinqiao", audience="jinqiao", ttl_seconds=3600)
        floor = await event_floor(box.nats_url_as())  # the runner's login: the floor declares streams of its own
        await bench_saga(registry=registry, organizations=organizations, issuer=issuer, floor=floor)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
