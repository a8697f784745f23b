"""The relay holding the lock is woken by commits of any process, not by its poll; its fair pick reads little."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.db import Database
from jinqiao.kit.events import new_event, stream_name
from jinqiao.kit.migrations import migrate
from jinqiao.kit.outbox import CHANNEL, OutboxRelay
from jinqiao.kit.runtime.natsauth import ADMIN
from jinqiao.kit.runtime.provision import provision_service_database
from tests.integration.conftest import eventually

# Far longer than any wait below: a row published in time was published because a commit woke the relay.
POLL = 60.0


@pytest.fixture(scope="module")
async def wake_db(infra):
    """A database of its own with the registry's schema, so no other relay holds its lock or sees its rows."""
    db = await provision_service_database(admin_dsn=infra.admin_dsn, service="relaywake", app_password="pw-wake")
    await migrate(service="registry", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    return db


@pytest.fixture
async def broker(infra):
    """A broker logged in as the runner (it may declare a stream no catalogued service produces)."""
    admin = infra.nats_logins[ADMIN]
    connected = kit_broker.build_broker(url=infra.nats_url, name="wake-test", user=admin.user,
                                        password=admin.password)
    await connected.connect()
    yield connected
    await connected.stop()


async def _stream_messages(broker, service: str) -> int:
    return (await broker.config.connection_state.stream.stream_info(stream_name(service))).state.messages


async def _leader(wake_db, broker, service: str) -> OutboxRelay:
    relay = OutboxRelay(dsn=wake_db.app_dsn, broker=broker, service=service, poll_seconds=POLL)
    relay.start()

    async def leading() -> bool:
        return relay.holds_lock

    await eventually(leading)
    return relay


def _event(service: str) -> object:
    return new_event(registry_events_pb2.MemberRegistered(member_id="m"), service=service, tenant="411525",
                     aggregate_id="m", aggregate_version=1, traceparent=None)


async def test_a_commit_in_a_process_whose_relay_stands_by_wakes_the_relay_holding_the_lock(wake_db, broker):
    service = f"wakeprobe{uuid.uuid4().hex[:8]}"
    await kit_broker.ensure_stream(broker, service=service)
    leader = await _leader(wake_db, broker, service)
    # Another process's pool and relay, wired as kit/process.py wires them: its relay cannot take the lock.
    database = await Database.connect(wake_db.app_dsn, min_size=1, max_size=1)
    standby = OutboxRelay(dsn=wake_db.app_dsn, broker=broker, service=service, poll_seconds=POLL)
    database.on_outbox_commit(standby.wake)
    standby.start()
    try:
        async with database.unit_of_work(tenant="411525") as uow:
            uow.add_event(_event(service))
            await uow.commit()

        async def published() -> bool:
            return leader.published == 1  # counted once the row is marked sent, after its PubAck

        await eventually(published, timeout=20)
        assert await _stream_messages(broker, service) == 1
        assert standby.published == 0 and not standby.holds_lock
    finally:
        await standby.stop()
        await leader.stop()
        await database.close()


async def test_a_notify_from_any_connection_wakes_the_relay_holding_the_lock(wake_db, broker):
    service = f"wakeprobe{uuid.uuid4().hex[:8]}"
    await kit_broker.ensure_stream(broker, service=service)
    leader = await _leader(wake_db, broker, service)
    conn = await asyncpg.connect(wake_db.app_dsn)
    try:
        # A commit whose process has no relay at all (so nothing calls wake): only the poll would find it...
        event = _event(service)
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant', '411525', true)")
            await conn.execute(
                "INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload)"
                " VALUES ('411525', $1, $2, $3, 1, $4)", uuid.UUID(event.event_id), event.subject, event.event_type,
                event.payload)
        # ...until a NOTIFY on the channel, from any connection, says there is something to publish.
        await conn.execute(f"NOTIFY {CHANNEL}")

        async def published() -> bool:
            return leader.published == 1

        await eventually(published, timeout=20)
        assert await _stream_messages(broker, service) == 1
    finally:
        await leader.stop()
        await conn.close()


async def test_the_bounded_fair_pick_takes_the_same_rows_in_the_same_order_as_the_window_over_the_backlog(wake_db):
    conn = await asyncpg.connect(wake_db.admin_dsn_for_db)
    try:
        await conn.execute("DELETE FROM outbox")
        # Three counties with backlogs of different sizes, interleaved in id order, some rows already sent.
        counts = {"411524": 40, "410103": 3, "411521": 12}
        rows = [(county, uuid.uuid4()) for k in range(40) for county, n in counts.items() if k < n]
        await conn.executemany(
            "INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload)"
            " VALUES ($1, $2, 's', 't', 1, '')", rows)
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE id % 7 = 0")
        for batch in (1, 2, 3, 5, 10, 20, 50, 1000):
            picked = [r["id"] for r in await conn.fetch("SELECT id FROM outbox_pending_all_tenants($1)", batch)]
            window = [r["id"] for r in await conn.fetch(
                "SELECT id FROM (SELECT o.id, row_number() OVER (PARTITION BY o.tenant_id ORDER BY o.id) AS turn"
                " FROM outbox o WHERE o.sent_at IS NULL) p ORDER BY turn, id LIMIT $1", batch)]
            assert picked == window, batch
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = 'outbox_unsent_tenant'") == 1
    finally:
        await conn.execute("DELETE FROM outbox")
        await conn.close()
