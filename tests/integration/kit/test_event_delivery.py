"""Events end to end on real JetStream: outbox → relay → consumer, duplicates, retries, dead letters."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.kit.errors import FailedPrecondition
from jinqiao.kit.runtime.natsauth import ADMIN
from tests.integration.conftest import bearer, eventually
from tests.support import member_request


async def county_count(platform, issuer, county: str) -> int:
    # The county's own view: exact (a province or city sees fewer than 3 members as "<3").
    token, _ = issuer.issue(user="admin", role=Role.COUNTY_ADMIN, scope=county)
    reply = await platform.insights_stub.GetMemberCounts(insights_pb2.GetMemberCountsRequest(scope=county),
                                                         metadata=bearer(token))
    return next((c.members for c in reply.counties if c.tenant_id == county), 0)


async def test_registered_member_reaches_the_insights_count(platform, county_token, issuer, admin_conn_factory):
    before = await county_count(platform, issuer, "411502")
    await platform.registry_stub.CreateMember(member_request("411502"), metadata=bearer(county_token("411502")))
    await eventually(lambda: _equals(county_count(platform, issuer, "411502"), before + 1))
    conn = await admin_conn_factory("registry")
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND tenant_id = '411502'") == 0


async def _equals(value_coro, expected) -> bool:
    return await value_coro == expected


async def republish(infra, *, tenant: str, event: registry_events_pb2.MemberRegistered,
                    msg_id: str | None = None, service: str = "registry") -> None:
    """Publish an already-built event again, as a relay would after losing its 'sent' mark (with the producer's
    login; a probe's stream of its own is the runner's to write)."""
    broker = infra.broker_as(service if service in infra.nats_logins else ADMIN)
    await broker.connect()
    try:
        subject = ev.subject(tenant=tenant, service=service, message_cls=registry_events_pb2.MemberRegistered)
        headers = ev.headers_for(event_id=msg_id or event.meta.event_id, event_type=ev.event_type(type(event)),
                                 event_version=1, tenant=tenant, traceparent=None)
        await broker.publish(event.SerializeToString(), subject, headers=headers, stream=ev.stream_name(service))
    finally:
        await broker.stop()


def built_event(tenant: str) -> registry_events_pb2.MemberRegistered:
    pending = ev.new_event(registry_events_pb2.MemberRegistered(member_id=str(uuid.uuid4())), service="registry",
                           tenant=tenant, aggregate_id=str(uuid.uuid4()), aggregate_version=1, traceparent=None)
    return registry_events_pb2.MemberRegistered.FromString(pending.payload)


async def test_an_event_delivered_twice_counts_once(platform, infra, issuer):
    before = await county_count(platform, issuer, "410103")
    event = built_event("410103")
    await republish(infra, tenant="410103", event=event)
    # A second copy with another Nats-Msg-Id passes the stream's dedupe window: only the inbox stops it.
    await republish(infra, tenant="410103", event=event, msg_id=str(uuid.uuid4()))
    marker = built_event("410103")
    await republish(infra, tenant="410103", event=marker)
    # The marker is published after both copies, so once it is counted both copies have been handled.
    await eventually(lambda: _at_least(county_count(platform, issuer, "410103"), before + 2))
    await asyncio.sleep(0.5)
    assert await county_count(platform, issuer, "410103") == before + 2


async def _at_least(value_coro, expected) -> bool:
    return await value_coro >= expected


@pytest.fixture
async def probe(settings_for, infra):
    """A stream of its own (a fresh 'probe…' service) and a consumer whose handler the test controls."""
    settings = settings_for("insights")
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    admin = infra.nats_logins[ADMIN]  # a stream no catalogued service produces: only the runner may declare it
    broker = kit_broker.build_broker(url=infra.nats_url, name="probe-test", user=admin.user, password=admin.password)
    await broker.connect()
    service = f"probe{uuid.uuid4().hex[:8]}"
    await kit_broker.ensure_stream(broker, service=service)
    state = {"calls": {}, "fail_times": 0, "service": service, "refuse": False}

    async def handler(uow, event, delivery):
        state["calls"][event.meta.event_id] = state["calls"].get(event.meta.event_id, 0) + 1
        if state["refuse"]:
            raise FailedPrecondition("该流动党员的外出登记已结束")
        if state["calls"][event.meta.event_id] <= state["fail_times"]:
            raise ConnectionError("transient")

    consumer = f"probe-{uuid.uuid4().hex[:8]}"
    kit_broker.subscribe(broker, db=db, consumer=consumer, source_service=service,
                         event=registry_events_pb2.MemberRegistered, handler=handler,
                         retry=kit_broker.RetryPolicy(max_deliver=3, base_delay=0.05, max_delay=0.2, ack_wait=5))
    await broker.start()
    yield state, consumer
    await broker.stop()
    await db.close()


async def test_a_transient_failure_is_redelivered_and_applied_once(probe, infra, admin_conn_factory):
    state, consumer = probe
    state["fail_times"] = 2
    event = built_event("411525")
    await republish(infra, tenant="411525", event=event, service=state["service"])
    conn = await admin_conn_factory("insights")

    async def processed() -> bool:
        return await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2::uuid",
                                   consumer, event.meta.event_id) == 1

    await eventually(processed)
    assert state["calls"][event.meta.event_id] == 3
    assert await conn.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", consumer) == 0


async def test_a_message_that_always_fails_lands_in_the_dead_letter_table(probe, infra, admin_conn_factory):
    state, consumer = probe
    state["fail_times"] = 99
    event = built_event("411525")
    await republish(infra, tenant="411525", event=event, service=state["service"])
    conn = await admin_conn_factory("insights")

    async def dead() -> object:
        return await conn.fetchrow("SELECT * FROM dead_letters WHERE consumer = $1 AND event_id = $2",
                                   consumer, event.meta.event_id)

    row = await eventually(dead)
    assert row["deliveries"] == 3 and "ConnectionError" in row["error"] and row["tenant_id"] == "411525"
    assert state["calls"][event.meta.event_id] == 3
    assert await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 0


async def test_an_event_that_cannot_apply_is_dead_lettered_at_once_with_its_reason(probe, infra,
                                                                                 admin_conn_factory):
    state, consumer = probe
    state["refuse"] = True
    event = built_event("411525")
    await republish(infra, tenant="411525", event=event, service=state["service"])
    conn = await admin_conn_factory("insights")

    async def dead() -> object:
        return await conn.fetchrow("SELECT * FROM dead_letters WHERE consumer = $1 AND event_id = $2",
                                   consumer, event.meta.event_id)

    row = await eventually(dead)
    assert row["deliveries"] == 1 and "FailedPrecondition" in row["error"] and "外出登记已结束" in row["error"]
    assert state["calls"][event.meta.event_id] == 1


async def test_an_undecodable_payload_is_dead_lettered(probe, infra, admin_conn_factory):
    state, consumer = probe
    broker = infra.broker_as(ADMIN)
    await broker.connect()
    msg_id = str(uuid.uuid4())
    try:
        await broker.publish(b"\xff\xfenot protobuf", f"jinqiao.411525.{state['service']}.member_registered",
                             headers=ev.headers_for(event_id=msg_id, event_type=ev.event_type(
                                 registry_events_pb2.MemberRegistered), event_version=1, tenant="411525",
                                 traceparent=None), stream=ev.stream_name(state["service"]))
    finally:
        await broker.stop()
    conn = await admin_conn_factory("insights")

    async def dead() -> object:
        return await conn.fetchrow("SELECT * FROM dead_letters WHERE consumer = $1 AND event_id = $2", consumer, msg_id)

    row = await eventually(dead)
    assert "PoisonMessage" in row["error"]
