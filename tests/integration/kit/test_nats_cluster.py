"""A replicated broker under a real fault (issue 17): three JetStream servers, streams at R3, the registry stream's
leader killed by SIGKILL in the middle of a burst of cross-county flows.

The registry and organizations services run in-process against the cluster (``nats_url`` naming all three) with
databases of their own, so that their outbox relays are the only ones publishing those rows and every row counted
here is this test's. Nothing may be lost or applied twice, and the services go on serving and publishing through
the survivors.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import nats.errors
import nats.js.errors
import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit import catalog
from jinqiao.kit import events as ev
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import RunningService
from jinqiao.kit.runtime.natscluster import NatsCluster, wait_for_leader
from jinqiao.kit.runtime.provision import ProvisionedDatabase, provision_service_database
from jinqiao.kit.settings import KitSettings
from jinqiao.organizations.v1 import organizations_pb2 as org_pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.flows.domain import FlowStatus
from jinqiao.registry.v1 import flows_pb2, registry_pb2_grpc
from tests.conftest import Infra
from tests.integration.conftest import bearer, eventually, start_catalogued
from tests.support import member_request

ORIGIN = "411523"  # 新县
DESTINATION = "410108"  # 惠济区
FLOWS = 150
CALLERS = 10
# The leader dies once this many flows are registered: a third of the burst before, two thirds during and after.
KILL_AFTER = FLOWS // 3
REPLICAS = 3


@pytest.fixture
def cluster(infra: Infra, tmp_path: Path) -> Iterator[NatsCluster]:
    """Three JetStream servers with the session's logins; every node stopped by pid at the end, even on failure."""
    nodes = NatsCluster(data_dir=tmp_path / "nats", users=infra.nats_logins.values(), size=3)
    nodes.start()
    try:
        yield nodes
    finally:
        nodes.stop()


async def own_database(infra: Infra, *, name: str, schema: str) -> ProvisionedDatabase:
    """A database with ``schema``'s tables that no other test's relay or consumer reads (the relay holds a
    per-database lock: a second relay over the session's registry database would only stand by)."""
    # Afresh each time: a server kept between sessions (JINQIAO_TEST_PG_DSN) would still hold the last run's rows.
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS jinqiao_{name} WITH (FORCE)")
    finally:
        await conn.close()
    db = await provision_service_database(admin_dsn=infra.admin_dsn, service=name, app_password=f"pw-{name}")
    await migrate(service=schema, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    return db


@pytest.fixture
async def services(
    cluster: NatsCluster, infra: Infra, settings_for: Callable[..., KitSettings], monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[dict[str, tuple[RunningService, ProvisionedDatabase]]]:
    """Registry and organizations on the cluster, each over a database of its own, streams declared at R3."""
    # Every process of a clustered deployment has JINQIAO_NATS_STREAM_REPLICAS=3: a service looking its streams up
    # (kit.broker.ensure_stream reads the environment) must find them as the runner declared them.
    monkeypatch.setenv("JINQIAO_NATS_STREAM_REPLICAS", str(REPLICAS))
    await cluster.declare_streams(replicas=REPLICAS)
    started: dict[str, tuple[RunningService, ProvisionedDatabase]] = {}
    try:
        for service in ("registry", "organizations"):
            db = await own_database(infra, name=f"cluster_{service}", schema=service)
            settings = settings_for(service, nats_url=cluster.urls, nats_stream_replicas=REPLICAS,
                                    database_url=db.app_dsn)
            started[service] = (await start_catalogued(catalog.get(service), settings), db)
        yield started
    finally:
        for running, _db in reversed(started.values()):
            await running.stop()


async def destination_tree(orgs: Any, md: tuple[tuple[str, str], ...]) -> None:
    """The destination's committee, a street committee and the branch of the flows' employer (EMPLOYER_BRANCH)."""
    kind = org_pb.OrgKind
    root = (await orgs.CreateOrg(org_pb.CreateOrgRequest(name="中共惠济区委员会", kind=kind.ORG_KIND_COUNTY_COMMITTEE),
                                 metadata=md)).org.id
    street = (await orgs.CreateOrg(org_pb.CreateOrgRequest(parent_id=root, name="新城街道党工委",
                                                           kind=kind.ORG_KIND_TOWNSHIP_COMMITTEE), metadata=md)).org.id
    await orgs.CreateOrg(org_pb.CreateOrgRequest(parent_id=street, name="惠济物流园党支部",
                                                 kind=kind.ORG_KIND_ENTERPRISE_BRANCH, employer="惠济物流园有限公司"),
                         metadata=md)


def flow_request(member_id: str) -> flows_pb2.RegisterFlowRequest:
    """A flow from 新县 to 惠济区, to the employer whose branch the destination has."""
    return flows_pb2.RegisterFlowRequest(member_id=member_id, destination_code=DESTINATION, address="惠济区新城路 8 号",
                                         employer="惠济物流园有限公司", industry="物流",
                                         start_date=date.today().isoformat(), expected_months=6)


async def all_sent(conn: asyncpg.Connection) -> bool:
    """Every outbox row was published (and acknowledged by the stream)."""
    return not await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")


async def per_flow(conn: asyncpg.Connection, sql: str, flow_ids: list[str]) -> dict[str, int]:
    """Rows per flow (superuser: every county's rows)."""
    rows = await conn.fetch(sql, [uuid.UUID(f) for f in flow_ids])
    return {str(row[0]): int(row[1]) for row in rows}


async def test_killing_the_registry_stream_leader_mid_burst_loses_and_duplicates_no_flow(
        cluster: NatsCluster, services: dict[str, tuple[RunningService, ProvisionedDatabase]],
        county_token: Callable[[str], str], capsys: pytest.CaptureFixture[str]) -> None:
    """150 flows from 10 callers; the registry stream's leader is SIGKILLed a third of the way in."""
    (registry, registry_db), (organizations, organizations_db) = services["registry"], services["organizations"]
    origin, destination = bearer(county_token(ORIGIN)), bearer(county_token(DESTINATION))
    admin = cluster.login()
    watcher = kit_broker.build_broker(url=cluster.urls, name="cluster-test", user=admin.user, password=admin.password)
    await watcher.connect()
    js = watcher.config.connection_state.stream
    registry_conn = await asyncpg.connect(registry_db.admin_dsn_for_db)
    organizations_conn = await asyncpg.connect(organizations_db.admin_dsn_for_db)
    registry_channel = grpc.aio.insecure_channel(f"127.0.0.1:{registry.port}")
    organizations_channel = grpc.aio.insecure_channel(f"127.0.0.1:{organizations.port}")
    try:
        registry_stub = registry_pb2_grpc.RegistryServiceStub(registry_channel)
        await destination_tree(organizations_pb2_grpc.OrganizationsServiceStub(organizations_channel), destination)
        # The members exist before the burst: the burst is the flows alone.
        gate = asyncio.Semaphore(CALLERS)

        async def new_member() -> str:
            async with gate:
                return str((await registry_stub.CreateMember(member_request(ORIGIN), metadata=origin,
                                                             timeout=60)).member.id)

        members = list(await asyncio.gather(*(new_member() for _ in range(FLOWS + 1))))
        stream = ev.stream_name("registry")
        for name in (stream, ev.stream_name("organizations")):
            assert (await js.stream_info(name)).config.num_replicas == REPLICAS

        queue: asyncio.Queue[str] = asyncio.Queue()
        for member in members[:FLOWS]:
            queue.put_nowait(member)
        flow_ids: list[str] = []
        enough = asyncio.Event()
        killed: dict[str, Any] = {}

        async def caller() -> None:
            while not queue.empty():
                member = queue.get_nowait()
                flow = (await registry_stub.RegisterFlow(flow_request(member), metadata=origin, timeout=60)).flow
                flow_ids.append(flow.id)
                if len(flow_ids) >= KILL_AFTER:
                    enough.set()

        async def kill_the_leader() -> None:
            await enough.wait()
            leader = await wait_for_leader(js=js, stream=stream)
            killed["node"] = cluster.node_named(leader)
            killed["leader"] = leader
            killed["at"] = time.monotonic()
            killed["registered"] = len(flow_ids)
            cluster.kill(killed["node"])

        async with asyncio.timeout(120):
            await asyncio.gather(kill_the_leader(), *(caller() for _ in range(CALLERS)))
        assert killed["registered"] < FLOWS, "the burst ended before the leader was killed"
        async with asyncio.timeout(60):
            new_leader = await wait_for_leader(js=js, stream=stream)
        assert new_leader != killed["leader"]

        # Each flow's effect at the destination is one membership row (its placement's first attempt).
        offers_sql = "SELECT flow_id, count(*) FROM memberships WHERE flow_id = ANY($1::uuid[]) GROUP BY flow_id"
        offers = await per_flow(organizations_conn, offers_sql, flow_ids)
        deadline = time.monotonic() + 90
        while len(offers) < FLOWS and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            offers = await per_flow(organizations_conn, offers_sql, flow_ids)
        last_effect = time.monotonic() - killed["at"]
        lost = FLOWS - len(offers)
        duplicated = sum(count - 1 for count in offers.values())
        with capsys.disabled():
            print(f"\n集群报告 / cluster report: flows={FLOWS} callers={CALLERS} replicas={REPLICAS}"
                  f" killed={killed['leader']} after {killed['registered']} flows, new leader={new_leader},"
                  f" lost={lost} duplicated={duplicated}, kill→last effect {last_effect:.1f}s")
        assert (lost, duplicated) == (0, 0)

        # The services still answer and publish through the survivors: one more flow arrives.
        after = (await registry_stub.RegisterFlow(flow_request(members[FLOWS]), metadata=origin, timeout=60)).flow
        await eventually(lambda: per_flow(organizations_conn, offers_sql, [after.id]), timeout=60)

        # The answers came back too: every flow is OFFERED at the origin, through the organizations stream.
        everyone = [*flow_ids, after.id]
        offered_sql = ("SELECT id, count(*) FROM flows WHERE id = ANY($1::uuid[])"
                       f" AND status = {int(FlowStatus.OFFERED)} GROUP BY id")

        async def all_offered() -> bool:
            return len(await per_flow(registry_conn, offered_sql, everyone)) == len(everyone)

        await eventually(all_offered, timeout=60)

        # Every outbox row was published once and kept once: the stream holds exactly as many messages (a PubAck
        # lost with the leader made the relay publish again, and the duplicate window absorbed it).
        for conn, name in ((registry_conn, "registry"), (organizations_conn, "organizations")):
            await eventually(functools.partial(all_sent, conn), timeout=60)
            rows = await conn.fetchval("SELECT count(*) FROM outbox")
            assert (await js.stream_info(ev.stream_name(name))).state.messages == rows, name
        assert await organizations_conn.fetchval("SELECT count(*) FROM dead_letters") == 0
        assert await registry_conn.fetchval("SELECT count(*) FROM dead_letters") == 0

        # The killed node comes back on its store and catches up: every stream is at three current copies again.
        cluster.restart(killed["node"])

        async def all_current() -> bool:
            for name in (stream, ev.stream_name("organizations")):
                info = await js.stream_info(name)
                peers = (info.cluster.replicas or []) if info.cluster else []
                if len(peers) != REPLICAS - 1 or not all(peer.current for peer in peers):
                    return False
            return True

        await eventually(all_current, timeout=60)
    finally:
        await registry_channel.close()
        await organizations_channel.close()
        await registry_conn.close()
        await organizations_conn.close()
        await watcher.stop()


async def test_a_stream_declared_at_one_replica_is_scaled_to_three_in_place_with_its_durable(
        cluster: NatsCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """ensure_stream raises R1 to R3 keeping messages and the durable's position; only an explicit count lowers it."""
    admin = cluster.login()
    broker = kit_broker.build_broker(url=cluster.urls, name="scale-test", user=admin.user, password=admin.password)
    await broker.connect()
    try:
        js = broker.config.connection_state.stream
        service = f"probe{uuid.uuid4().hex[:8]}"
        stream = ev.stream_name(service)
        await _settled(lambda: kit_broker.ensure_stream(broker, service=service, replicas=1))
        for n in range(3):
            await _settled(functools.partial(js.publish, f"jinqiao.{ORIGIN}.{service}.member_registered",
                                             str(n).encode(), stream=stream))
        durable = kit_broker.Consumer(
            broker=broker, db=None, retry=kit_broker.RetryPolicy(),  # type: ignore[arg-type]
            subscription=kit_broker.Subscription(consumer=f"probe-{uuid.uuid4().hex[:8]}", source=service,
                                                 event=registry_events_pb2.MemberRegistered, handler=_ignore))
        await _settled(lambda: js.add_consumer(stream, config=durable.consumer_config()))
        pulled = await _settled(lambda: js.pull_subscribe_bind(durable=durable.subscription.consumer, stream=stream))
        first = (await pulled.fetch(batch=1, timeout=10))[0]
        await first.ack_sync()
        assert len((await _settled(lambda: js.stream_info(stream))).cluster.replicas or []) == 0

        await _settled(lambda: kit_broker.ensure_stream(broker, service=service, replicas=REPLICAS))

        async def kept_by_three() -> bool:
            try:
                info = await js.stream_info(stream)
                found = await js.consumer_info(stream, durable.subscription.consumer)
            except _PASSING:
                return False
            peers = (info.cluster.replicas or []) if info.cluster else []
            consumer_peers = (found.cluster.replicas or []) if found.cluster else []
            return (info.config.num_replicas == REPLICAS and len(peers) == REPLICAS - 1
                    and all(peer.current for peer in peers) and len(consumer_peers) == REPLICAS - 1)

        await eventually(kept_by_three, timeout=30)
        info = await _settled(lambda: js.stream_info(stream))
        found = await _settled(lambda: js.consumer_info(stream, durable.subscription.consumer))
        assert info.state.messages == 3 and found.num_pending == 2 and found.num_ack_pending == 0

        # A process without the setting (one replica by default) finds the stream and leaves its three copies.
        monkeypatch.delenv("JINQIAO_NATS_STREAM_REPLICAS", raising=False)
        await _settled(lambda: kit_broker.ensure_stream(broker, service=service))
        assert (await _settled(lambda: js.stream_info(stream))).config.num_replicas == REPLICAS
        await pulled.unsubscribe()
    finally:
        await broker.stop()


# JetStream's API answers nothing for a moment while a connection fails over or a stream's leader moves; on a loaded
# machine that happens even in a cluster of three healthy nodes.
_PASSING = (nats.js.errors.NoStreamResponseError, nats.errors.TimeoutError, nats.errors.NoRespondersError)


async def _settled(call: Callable[[], Any], *, timeout: float = 30) -> Any:
    """The answer of a JetStream API call, retried through the moments the API is unanswered."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except _PASSING:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _ignore(uow: Any, event: Any, delivery: kit_broker.Delivery) -> None:
    return None
