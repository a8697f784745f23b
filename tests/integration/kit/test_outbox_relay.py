"""The outbox relay marks rows only after a PubAck and retries what it left behind."""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg
import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Backoff
from jinqiao.kit.db import Database
from jinqiao.kit.events import new_event, stream_name
from jinqiao.kit.migrations import migrate
from jinqiao.kit.outbox import OutboxRelay
from jinqiao.kit.runtime.natsauth import ADMIN
from jinqiao.kit.runtime.provision import provision_service_database
from tests.integration.conftest import eventually


@pytest.fixture(scope="module")
async def relay_db(infra):
    """A database of its own with the registry's schema, so no other relay sees its rows."""
    db = await provision_service_database(admin_dsn=infra.admin_dsn, service="relaytest", app_password="pw-relay")
    await migrate(service="registry", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    return db


async def test_rows_left_behind_are_published_once_the_broker_accepts_them(relay_db, infra):
    service = f"relayprobe{uuid.uuid4().hex[:8]}"
    database = await Database.connect(relay_db.app_dsn, min_size=1, max_size=1)
    admin = infra.nats_logins[ADMIN]  # a stream no catalogued service produces: only the runner may declare it
    broker = kit_broker.build_broker(url=infra.nats_url, name="relay-test", user=admin.user, password=admin.password)
    await broker.connect()
    conn = await asyncpg.connect(relay_db.app_dsn)
    try:
        event = new_event(registry_events_pb2.MemberRegistered(member_id="m"), service=service, tenant="411525",
                          aggregate_id="m", aggregate_version=1, traceparent=None)
        async with database.unit_of_work(tenant="411525") as uow:
            uow.add_event(event)
            await uow.commit()
        relay = OutboxRelay(dsn=relay_db.app_dsn, broker=broker, service=service, publish_timeout=0.5)

        assert await relay.drain_once(conn) == 0  # no stream takes the subject yet: no PubAck, row kept
        admin = await asyncpg.connect(relay_db.admin_dsn_for_db)
        try:
            assert await admin.fetchval("SELECT sent_at FROM outbox WHERE event_id = $1::uuid", event.event_id) is None
            await kit_broker.ensure_stream(broker, service=service)
            assert await relay.drain_once(conn) == 1
            assert await admin.fetchval("SELECT sent_at FROM outbox WHERE event_id = $1::uuid",
                                        event.event_id) is not None
        finally:
            await admin.close()
        assert await relay.drain_once(conn) == 0
        info = await broker.config.connection_state.stream.stream_info(stream_name(service))
        assert info.state.messages == 1
    finally:
        await conn.close()
        await broker.stop()
        await database.close()


async def test_the_app_role_sees_other_tenants_outbox_rows_only_through_the_relay_function(relay_db):
    database = await Database.connect(relay_db.app_dsn, min_size=1, max_size=1)
    event = new_event(registry_events_pb2.MemberRegistered(member_id="m"), service="nowhere", tenant="411503",
                      aggregate_id="m", aggregate_version=1, traceparent=None)
    async with database.unit_of_work(tenant="411503") as uow:
        uow.add_event(event)
        await uow.commit()
    await database.close()
    conn = await asyncpg.connect(relay_db.app_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0  # no tenant set: RLS shows nothing
        pending = await conn.fetch("SELECT id, event_id FROM outbox_pending_all_tenants(1000)")
        assert event.event_id in {str(r["event_id"]) for r in pending}
        ids = [r["id"] for r in pending if str(r["event_id"]) == event.event_id]
        assert await conn.fetchval("SELECT outbox_mark_sent_all_tenants($1::bigint[])", ids) == 1
    finally:
        await conn.close()


async def test_one_countys_backlog_does_not_hold_back_another_countys_event(relay_db):
    conn = await asyncpg.connect(relay_db.admin_dsn_for_db)
    try:
        await conn.execute("DELETE FROM outbox")
        await conn.executemany(
            "INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload)"
            " VALUES ($1, $2, 's', 't', 1, '')", [("411524", uuid.uuid4()) for _ in range(500)])
        late = uuid.uuid4()
        await conn.execute("INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload)"
                           " VALUES ('410103', $1, 's', 't', 1, '')", late)
        picked = await conn.fetch("SELECT * FROM outbox_pending_all_tenants(10)")
        assert late in {r["event_id"] for r in picked}
        backlog = [r["id"] for r in picked if r["tenant_id"] == "411524"]
        assert backlog == sorted(backlog) and len(picked) == 10
    finally:
        await conn.execute("DELETE FROM outbox")
        await conn.close()


async def test_a_relay_that_cannot_publish_backs_off_and_logs_the_outage_once(relay_db, infra, caplog):
    service = f"relayprobe{uuid.uuid4().hex[:8]}"
    database = await Database.connect(relay_db.app_dsn, min_size=1, max_size=1)
    admin = infra.nats_logins[ADMIN]
    broker = kit_broker.build_broker(url=infra.nats_url, name="relay-test", user=admin.user, password=admin.password)
    await broker.connect()
    admin_conn = await asyncpg.connect(relay_db.admin_dsn_for_db)
    relay = OutboxRelay(dsn=relay_db.app_dsn, broker=broker, service=service, poll_seconds=0.05, publish_timeout=0.3,
                        backoff=Backoff(base=0.05, cap=0.2))
    try:
        await admin_conn.execute("DELETE FROM outbox")
        event = new_event(registry_events_pb2.MemberRegistered(member_id="m"), service=service, tenant="411525",
                          aggregate_id="m", aggregate_version=1, traceparent=None)
        async with database.unit_of_work(tenant="411525") as uow:
            uow.add_event(event)
            await uow.commit()
        with caplog.at_level(logging.INFO, logger="jinqiao.outbox"):
            relay.start()
            # No stream takes the subject yet: every pass fails for a while.
            await asyncio.sleep(2.0)
            failing = [r.levelname for r in caplog.records]
            await kit_broker.ensure_stream(broker, service=service)

            async def sent() -> bool:
                return await admin_conn.fetchval("SELECT sent_at FROM outbox WHERE event_id = $1::uuid",
                                                 event.event_id) is not None

            await eventually(sent, timeout=20)
            await asyncio.sleep(0.3)
        assert failing == ["WARNING"]  # one line for the outage, however many passes failed
        assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]  # and one when it recovered
        assert relay.published == 1
    finally:
        await relay.stop()
        await admin_conn.execute("DELETE FROM outbox")
        await admin_conn.close()
        await broker.stop()
        await database.close()
