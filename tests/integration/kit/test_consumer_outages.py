"""Consumers under real faults (issue 11): a database cut through a relay, a NATS server restarted in place.

An outage pauses a consumer on the message in hand; it is neither counted as a failure nor dropped, and once the
dependency is back every event is applied exactly once, with no dead letter.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js.api import ConsumerConfig
from prometheus_client import CollectorRegistry

from jinqiao.events.v1 import gateway_events_pb2, registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit import events as ev
from jinqiao.kit.db import Database
from jinqiao.kit.migrations import migrate
from jinqiao.kit.outbox import OutboxRelay
from jinqiao.kit.revocation import REVOCATION_SOURCE, RevocationFeed, RevokedSessions
from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.natsauth import ADMIN
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.provision import provision_service_database
from tests.faults import relayed
from tests.integration.conftest import eventually
from tests.integration.kit.test_event_delivery import built_event, republish

TENANT = "411525"


class Probe:
    """A stream of its own and a durable consumer over a database reached through a relay that can be cut."""

    def __init__(self, *, db: Database, relay: Any, broker: kit_broker.Broker, service: str, consumer: str) -> None:
        self.db, self.relay, self.broker, self.service, self.consumer = db, relay, broker, service, consumer
        self.calls: dict[str, list[int]] = {}
        self.fail_always = False

    async def handler(self, uow: Any, event: Any, delivery: kit_broker.Delivery) -> None:
        self.calls.setdefault(event.meta.event_id, []).append(delivery.deliveries)
        if self.fail_always:
            raise ConnectionError("transient")


@pytest.fixture
async def probe(databases, infra):
    dsn, relay = await relayed(databases["insights"].app_dsn)
    db = await Database.connect(dsn, min_size=1, max_size=4)
    admin = infra.nats_logins[ADMIN]  # a stream no catalogued service produces: only the runner may declare it
    broker = kit_broker.build_broker(url=infra.nats_url, name="outage-test", user=admin.user, password=admin.password)
    await broker.connect()
    service = f"probe{uuid.uuid4().hex[:8]}"
    await kit_broker.ensure_stream(broker, service=service)
    probe = Probe(db=db, relay=relay, broker=broker, service=service, consumer=f"probe-{uuid.uuid4().hex[:8]}")
    # ack_wait is shorter than the outages below: only in_progress keeps a held message from being redelivered.
    kit_broker.subscribe(broker, db=db, consumer=probe.consumer, source_service=service,
                         event=registry_events_pb2.MemberRegistered, handler=probe.handler,
                         retry=kit_broker.RetryPolicy(max_deliver=3, base_delay=0.05, max_delay=0.3, ack_wait=1.5))
    await broker.start()
    yield probe
    await broker.stop()
    if not relay.is_open:
        await relay.open()
    await db.close()
    await relay.cut()


_insights: dict[int, object] = {}


async def insights_conn(admin_conn_factory):
    """One superuser connection per session for the polls below (the factory keeps each one open till the end)."""
    key = id(admin_conn_factory)
    if key not in _insights:
        _insights[key] = await admin_conn_factory("insights")
    return _insights[key]


async def rows(admin_conn_factory, sql: str, *args: object) -> int:
    conn = await insights_conn(admin_conn_factory)
    return int(await conn.fetchval(sql, *args))


async def settled(probe: Probe) -> bool:
    """Nothing waits for this consumer on the server: every message was acknowledged."""
    js = probe.broker.config.connection_state.stream
    info = await js.consumer_info(ev.stream_name(probe.service), probe.consumer)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_events_arriving_while_the_database_is_cut_are_applied_once_with_no_dead_letter(
        probe, infra, admin_conn_factory):
    await probe.relay.cut()
    events = [built_event(TENANT) for _ in range(5)]
    for event in events:
        await republish(infra, tenant=TENANT, event=event, service=probe.service)
    # Far longer than max_deliver × the handler back-off, and than ack_wait: a counting consumer would have
    # dead-lettered (and, failing that, dropped) the first message by now.
    await asyncio.sleep(4.5)
    assert probe.calls == {}
    await probe.relay.open()

    ids = [e.meta.event_id for e in events]

    async def all_applied() -> bool:
        return await rows(admin_conn_factory, "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = ANY($2"
                          "::uuid[])", probe.consumer, ids) == len(ids)

    await eventually(all_applied, timeout=60)
    await eventually(lambda: settled(probe), timeout=30)
    assert await rows(admin_conn_factory, "SELECT count(*) FROM dead_letters WHERE consumer = $1", probe.consumer) == 0
    # Each handler ran once, on the first delivery: the outage neither counted nor let the server redeliver.
    assert probe.calls == {event_id: [1] for event_id in ids}


async def test_a_dead_letter_write_that_meets_an_outage_is_retried_and_nothing_is_lost(
        probe, infra, admin_conn_factory, monkeypatch):
    probe.fail_always = True
    real = kit_broker.file_dead_letter
    cuts: list[float] = []

    async def cut_first(db: Database, **kwargs: Any) -> None:
        # The database goes away exactly when the handler's last failure is about to be filed.
        if not cuts:
            cuts.append(time.monotonic())
            await probe.relay.cut()
            asyncio.get_running_loop().call_later(3.0, lambda: asyncio.ensure_future(probe.relay.open()))
        await real(db, **kwargs)

    monkeypatch.setattr(kit_broker, "file_dead_letter", cut_first)
    event = built_event(TENANT)
    await republish(infra, tenant=TENANT, event=event, service=probe.service)

    async def dead() -> object:
        conn = await insights_conn(admin_conn_factory)
        return await conn.fetch("SELECT * FROM dead_letters WHERE consumer = $1", probe.consumer)

    found = await eventually(dead, timeout=60)
    await eventually(lambda: settled(probe), timeout=30)
    assert cuts, "the dead letter never met the outage"
    assert [(r["deliveries"], r["error"].split(":")[0]) for r in found] == [(3, "ConnectionError")]
    # Exactly max_deliver handler failures: the outage while filing added neither a call nor a delivery.
    assert probe.calls == {event.meta.event_id: [1, 2, 3]}
    assert await rows(admin_conn_factory, "SELECT count(*) FROM inbox WHERE consumer = $1", probe.consumer) == 0


async def test_a_durable_made_with_a_server_side_limit_is_brought_up_to_date(infra, databases):
    """Durables created before issue 11 had JetStream's max_deliver=5; a service's own login lifts it to -1."""
    consumer = f"legacy-{uuid.uuid4().hex[:8]}"
    stream = ev.stream_name("registry")
    filter_subject = f"jinqiao.*.registry.{ev.event_subject_name(registry_events_pb2.MemberRegistered)}"
    admin = infra.broker_as(ADMIN)
    await admin.connect()
    js = admin.config.connection_state.stream
    await kit_broker.ensure_stream(admin, service="registry")
    await js.add_consumer(stream, config=ConsumerConfig(name=consumer, durable_name=consumer, max_deliver=5,
                                                        ack_wait=30, filter_subject=filter_subject))
    db = await Database.connect(databases["insights"].app_dsn, min_size=1, max_size=2)
    broker = infra.broker_as("insights")

    async def handler(uow: Any, event: Any, delivery: kit_broker.Delivery) -> None:
        return None

    kit_broker.subscribe(broker, db=db, consumer=consumer, source_service="registry",
                         event=registry_events_pb2.MemberRegistered, handler=handler,
                         retry=kit_broker.RetryPolicy(ack_wait=20))
    await broker.start()
    try:
        async def updated() -> bool:
            config = (await js.consumer_info(stream, consumer)).config
            return config.max_deliver in (-1, None, 0) and config.ack_wait == 20

        await eventually(updated, timeout=20)
        assert kit_broker.subscriptions_of(broker)[consumer].handler is handler
    finally:
        await broker.stop()
        await db.close()
        await js.delete_consumer(stream, consumer)
        await admin.stop()


@pytest.fixture
async def own_db(infra):
    """A database of its own with the registry's schema (outbox, inbox, dead letters), unseen by other relays."""
    db = await provision_service_database(admin_dsn=infra.admin_dsn, service="outagetest", app_password="pw-outage")
    await migrate(service="registry", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    return db


async def test_after_a_nats_restart_the_relay_consumer_and_revocation_feed_resume_and_nothing_is_lost(
        infra, own_db, tmp_path):
    server = EmbeddedNats(data_dir=tmp_path / "nats", port=free_port(), users=infra.nats_logins.values())
    server.start()
    admin = server.login()
    broker = kit_broker.build_broker(url=server.url, name="restart-test", user=admin.user, password=admin.password)
    db = await Database.connect(own_db.app_dsn, min_size=1, max_size=4)
    relay: OutboxRelay | None = None
    feed: RevocationFeed | None = None
    try:
        await broker.connect()
        service = f"probe{uuid.uuid4().hex[:8]}"
        for producer in (service, REVOCATION_SOURCE):
            await kit_broker.ensure_stream(broker, service=producer)
        consumer = f"probe-{uuid.uuid4().hex[:8]}"
        applied: list[str] = []

        async def handler(uow: Any, event: Any, delivery: kit_broker.Delivery) -> None:
            applied.append(event.meta.event_id)

        kit_broker.subscribe(broker, db=db, consumer=consumer, source_service=service,
                             event=registry_events_pb2.MemberRegistered, handler=handler,
                             retry=kit_broker.RetryPolicy(max_deliver=3, base_delay=0.05, max_delay=2.0, ack_wait=5))
        await broker.start()
        relay = OutboxRelay(dsn=own_db.app_dsn, broker=broker, service=service, poll_seconds=0.2,
                            publish_timeout=1.0)
        db.on_outbox_commit(relay.wake)
        relay.start()
        revoked = RevokedSessions()
        feed = RevocationFeed(broker=broker, revoked=revoked, service="restart-test", replay_seconds=60,
                              registry=CollectorRegistry())
        await feed.start()

        async def write(n: int) -> list[str]:
            ids = []
            for _ in range(n):
                event = ev.new_event(registry_events_pb2.MemberRegistered(member_id=str(uuid.uuid4())),
                                     service=service, tenant=TENANT, aggregate_id=str(uuid.uuid4()),
                                     aggregate_version=1, traceparent=None)
                async with db.unit_of_work(tenant=TENANT) as uow:
                    uow.add_event(event)
                    await uow.commit()
                ids.append(event.event_id)
            return ids

        before = await write(5)
        await eventually(lambda: _contains(applied, before), timeout=30)

        server.stop()
        during = await write(5)  # accepted while the bus is away: they wait in the outbox
        await asyncio.sleep(10)
        server.start()

        await eventually(lambda: _contains(applied, before + during), timeout=120)
        after = await write(5)
        await eventually(lambda: _contains(applied, before + during + after), timeout=60)
        assert sorted(applied) == sorted(before + during + after)  # each once: nothing lost, nothing twice
        conn = await db.pool.acquire()
        try:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant', $1, true)", TENANT)
                assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
                assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
        finally:
            await db.pool.release(conn)

        # The revocation feed's ordered consumer lived in memory on the old server: it is made afresh.
        session = str(uuid.uuid4())
        expires = Timestamp()
        expires.FromSeconds(int(time.time()) + 3600)
        await broker.publish(gateway_events_pb2.SessionRevoked(session_id=session, expires_at=expires)
                             .SerializeToString(), f"jinqiao.{TENANT}.gateway.session_revoked",
                             stream=ev.stream_name(REVOCATION_SOURCE))
        await eventually(lambda: _true(revoked.is_revoked(session)), timeout=60)
        assert feed.up
    finally:
        if feed is not None:
            await feed.stop()
        if relay is not None:
            await relay.stop()
        await broker.stop()
        await db.close()
        server.stop()


async def _contains(applied: list[str], ids: list[str]) -> bool:
    return set(ids) <= set(applied)


async def _true(value: bool) -> bool:
    return value
