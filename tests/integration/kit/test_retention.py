"""Retention prunes only what it should, across counties, one replica at a time; streams carry their limits."""

from __future__ import annotations

import uuid
from datetime import timedelta

import nats
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from jinqiao.kit import broker as kit_broker
from jinqiao.kit import events as ev
from jinqiao.kit.db import Database
from jinqiao.kit.retention import PruneReport, RetentionPolicy, StreamLimits, prune_once

COUNTIES = ("411525", "411502")
POLICY = RetentionPolicy(outbox=timedelta(hours=1), inbox_horizon=timedelta(days=8), batch=2)


async def _outbox_row(conn, tenant: str, *, age: timedelta, sent: bool) -> uuid.UUID:
    event_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload, created_at, sent_at)"
        " VALUES ($1, $2, 'jinqiao.' || $1 || '.registry.retention_test', 'RetentionTest', 1, '\\x00',"
        " now() - $3::interval, CASE WHEN $4 THEN now() - $3::interval END)",
        tenant, event_id, age, sent)
    return event_id


async def _inbox_row(conn, tenant: str, *, age: timedelta) -> uuid.UUID:
    event_id = uuid.uuid4()
    await conn.execute("INSERT INTO inbox (tenant_id, consumer, event_id, processed_at)"
                       " VALUES ($1, 'retention-test', $2, now() - $3::interval)", tenant, event_id, age)
    return event_id


async def test_pruning_deletes_old_sent_outbox_and_inbox_rows_of_every_county_and_nothing_else(
        databases, admin_conn_factory):
    admin = await admin_conn_factory("registry")
    doomed_outbox, kept_outbox, doomed_inbox, kept_inbox = [], [], [], []
    for tenant in COUNTIES:
        for _ in range(3):  # more than one batch of two
            doomed_outbox.append(await _outbox_row(admin, tenant, age=timedelta(days=2), sent=True))
            doomed_inbox.append(await _inbox_row(admin, tenant, age=timedelta(days=9)))
        kept_outbox.append(await _outbox_row(admin, tenant, age=timedelta(days=2), sent=False))  # pending: never
        kept_outbox.append(await _outbox_row(admin, tenant, age=timedelta(minutes=5), sent=True))  # young
        kept_inbox.append(await _inbox_row(admin, tenant, age=timedelta(days=7, hours=23)))  # inside the horizon

    db = await Database.connect(databases["registry"].app_dsn, min_size=1, max_size=2)
    try:
        report = await prune_once(db, policy=POLICY)
        # Other tests' rows are minutes old: only these are beyond the retention.
        assert report == PruneReport(outbox=6, inbox=6)
        assert await prune_once(db, policy=POLICY) == PruneReport(outbox=0, inbox=0)
    finally:
        await db.close()
    outbox_left = {r["event_id"] for r in await admin.fetch("SELECT event_id FROM outbox WHERE event_id = ANY($1)",
                                                            doomed_outbox + kept_outbox)}
    inbox_left = {r["event_id"] for r in await admin.fetch("SELECT event_id FROM inbox WHERE event_id = ANY($1)",
                                                           doomed_inbox + kept_inbox)}
    assert outbox_left == set(kept_outbox) and inbox_left == set(kept_inbox)
    await admin.execute("DELETE FROM outbox WHERE event_id = ANY($1)", kept_outbox)
    await admin.execute("DELETE FROM inbox WHERE event_id = ANY($1)", kept_inbox)


async def test_one_replica_prunes_at_a_time(databases, admin_conn_factory):
    admin = await admin_conn_factory("registry")
    old = await _outbox_row(admin, COUNTIES[0], age=timedelta(days=2), sent=True)
    db = await Database.connect(databases["registry"].app_dsn, min_size=1, max_size=2)
    try:
        async with db.pool.acquire() as other_replica:
            assert await other_replica.fetchval("SELECT pg_try_advisory_lock(hashtextextended('jinqiao.retention', 0))")
            assert await prune_once(db, policy=POLICY) == PruneReport(ran=False)
            await other_replica.execute("SELECT pg_advisory_unlock(hashtextextended('jinqiao.retention', 0))")
        assert (await prune_once(db, policy=POLICY)).outbox >= 1
    finally:
        await db.close()
    assert not await admin.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", old)


async def test_a_service_without_an_outbox_prunes_its_inbox_only(databases, admin_conn_factory):
    admin = await admin_conn_factory("insights")
    old = await _inbox_row(admin, COUNTIES[1], age=timedelta(days=30))
    db = await Database.connect(databases["insights"].app_dsn, min_size=1, max_size=1)
    try:
        report = await prune_once(db, policy=POLICY)
    finally:
        await db.close()
    assert report.inbox >= 1 and report.outbox == 0
    assert not await admin.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", old)


async def test_an_existing_stream_without_limits_is_updated_to_carry_them(infra):
    service = f"retention{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(infra.nats_url, **infra.nats_options())
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=ev.stream_name(service), subjects=ev.stream_subjects(service),
                                     storage=StorageType.FILE, duplicate_window=120.0))
    broker = infra.broker_as("jinqiao_runner")
    await broker.connect()
    try:
        limits = StreamLimits(max_age=3600.0, max_bytes=8 * 1024 * 1024)
        await kit_broker.ensure_stream(broker, service=service, limits=limits)
        found = (await js.stream_info(ev.stream_name(service))).config
        assert found.max_age == 3600.0 and found.max_bytes == 8 * 1024 * 1024
        assert str(getattr(found.discard, "value", found.discard)) == DiscardPolicy.NEW.value
        # Found as configured: left alone (a service's login may only look it up).
        await kit_broker.ensure_stream(broker, service=service, limits=limits)
    finally:
        await js.delete_stream(ev.stream_name(service))
        await broker.stop()
        await nc.close()
