"""Dead letters on real JetStream and PostgreSQL (issue 11): filed with their reason, listed, inspected, replayed
through the consumer's own handler and inbox, applied once however often they are replayed, audited."""

from __future__ import annotations

import json
import uuid

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit import deadletters
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.db import Database
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from jinqiao.kit.runtime import deadletters as command
from jinqiao.kit.runtime.natsauth import ADMIN
from tests.integration.conftest import eventually
from tests.integration.kit.test_event_delivery import built_event, republish

COUNTY, OTHER = "411525", "411502"


def admin_of(county: str) -> Principal:
    return Principal(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county, tenant=county)


OPERATOR = Principal(user="operator:test", role=Role.SERVICE, scope=COUNTY, tenant=COUNTY)


@pytest.fixture
async def probe(settings_for, infra):
    """A stream of its own and a consumer whose handler fails with a domain error until the test fixes it."""
    settings = settings_for("insights")
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    admin = infra.nats_logins[ADMIN]
    broker = kit_broker.build_broker(url=infra.nats_url, name="dead-letter-test", user=admin.user,
                                     password=admin.password)
    await broker.connect()
    service = f"probe{uuid.uuid4().hex[:8]}"
    await kit_broker.ensure_stream(broker, service=service)
    state: dict = {"broken": True, "applied": {}, "service": service, "db": db}

    async def handler(uow, event, delivery):
        if state["broken"]:
            raise FailedPrecondition("该党员尚未登记（测试）")
        state["applied"][event.meta.event_id] = state["applied"].get(event.meta.event_id, 0) + 1

    consumer = f"probe-dl-{uuid.uuid4().hex[:8]}"
    kit_broker.subscribe(broker, db=db, consumer=consumer, source_service=service,
                         event=registry_events_pb2.MemberRegistered, handler=handler,
                         retry=kit_broker.RetryPolicy(max_deliver=3, base_delay=0.05, max_delay=0.2, ack_wait=5))
    await broker.start()
    state["subscriptions"] = kit_broker.subscriptions_of(broker)
    yield state, consumer
    await broker.stop()
    await db.close()


async def _dead_letter_of(conn, consumer: str, event_id: str) -> str:
    async def filed() -> object:
        return await conn.fetchval("SELECT id FROM dead_letters WHERE consumer = $1 AND event_id = $2",
                                   consumer, event_id)

    return str(await eventually(filed))


async def test_a_dead_letter_is_listed_inspected_and_replayed_once(probe, infra, admin_conn_factory):
    state, consumer = probe
    db, subs = state["db"], state["subscriptions"]
    event = built_event(COUNTY)
    event_id = event.meta.event_id
    await republish(infra, tenant=COUNTY, event=event, service=state["service"])
    conn = await admin_conn_factory("insights")
    letter_id = await _dead_letter_of(conn, consumer, event_id)

    # Listed newest first with its reason, pending; the replayed filter leaves it out.
    page = await deadletters.list_dead_letters(db, admin_of(COUNTY), page_size=0, page_token="", consumer=consumer,
                                               replayed=None)
    assert [str(d.id) for d in page.items] == [letter_id]
    assert "FailedPrecondition" in page.items[0].error and "尚未登记" in page.items[0].error
    assert page.items[0].deliveries == 1 and page.items[0].replayed_at is None
    assert (await deadletters.list_dead_letters(db, admin_of(COUNTY), page_size=0, page_token="", consumer=consumer,
                                                replayed=True)).items == []

    # Inspected: the county's admin sees the reason, never the event; the operator reads it decoded.
    shown = await deadletters.get_dead_letter(db, admin_of(COUNTY), letter_id=letter_id, subscriptions=subs)
    assert shown.payload_json == "" and shown.letter.event_type == "jinqiao.events.v1.MemberRegistered"
    operator = await deadletters.get_dead_letter(db, OPERATOR, letter_id=letter_id, subscriptions=subs)
    assert json.loads(operator.payload_json)["member_id"] == event.member_id

    # Another county's admin finds nothing, neither by id nor in its list.
    with pytest.raises(NotFound):
        await deadletters.get_dead_letter(db, admin_of(OTHER), letter_id=letter_id, subscriptions=subs)
    with pytest.raises(NotFound):
        await deadletters.replay_dead_letter(db, admin_of(OTHER), letter_id=letter_id, subscriptions=subs)
    other = await deadletters.list_dead_letters(db, admin_of(OTHER), page_size=0, page_token="", consumer=consumer,
                                                replayed=None)
    assert other.items == []

    # Still broken: the replay fails again, says why, and the dead letter stays pending.
    failed = await deadletters.replay_dead_letter(db, admin_of(COUNTY), letter_id=letter_id, subscriptions=subs)
    assert failed.outcome is deadletters.Outcome.FAILED and "尚未登记" in (failed.letter.last_replay_error or "")
    assert failed.letter.replayed_at is None and failed.letter.replays == 1
    pending = await deadletters.list_dead_letters(db, admin_of(COUNTY), page_size=0, page_token="",
                                                  consumer=consumer, replayed=False)
    assert [str(d.id) for d in pending.items] == [letter_id]
    assert state["applied"] == {}

    # Fixed: the replay applies it once, through the consumer's inbox.
    state["broken"] = False
    applied = await deadletters.replay_dead_letter(db, admin_of(COUNTY), letter_id=letter_id, subscriptions=subs)
    assert applied.outcome is deadletters.Outcome.APPLIED
    assert applied.letter.replayed_by == f"admin-{COUNTY}" and applied.letter.replayed_at is not None
    assert applied.letter.last_replay_error is None and applied.letter.replays == 2
    assert state["applied"] == {event_id: 1}
    assert await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2::uuid",
                               consumer, event_id) == 1

    # Again: nothing is applied twice, and the answer says so.
    again = await deadletters.replay_dead_letter(db, admin_of(COUNTY), letter_id=letter_id, subscriptions=subs)
    assert again.outcome is deadletters.Outcome.ALREADY_APPLIED and "未重复应用" in again.message
    assert state["applied"] == {event_id: 1}
    assert again.letter.replayed_at == applied.letter.replayed_at and again.letter.replays == 3
    replayed = await deadletters.list_dead_letters(db, admin_of(COUNTY), page_size=0, page_token="",
                                                   consumer=consumer, replayed=True)
    assert [str(d.id) for d in replayed.items] == [letter_id]

    # Each replay left an audit row naming who, what and how it ended.
    rows = await conn.fetch("SELECT actor, role, reason FROM audit_log WHERE tenant_id = $1 AND action = $2"
                            " AND object_id = $3 ORDER BY seq", COUNTY, deadletters.REPLAY_ACTION,
                            f"{consumer}/{letter_id}")
    assert [(r["actor"], r["role"], r["reason"]) for r in rows] == [
        (f"admin-{COUNTY}", "county_admin", "failed"), (f"admin-{COUNTY}", "county_admin", "applied"),
        (f"admin-{COUNTY}", "county_admin", "already_applied")]


async def test_replaying_an_event_the_consumer_applied_meanwhile_applies_nothing(probe, infra, admin_conn_factory):
    state, consumer = probe
    db, subs = state["db"], state["subscriptions"]
    event = built_event(COUNTY)
    await republish(infra, tenant=COUNTY, event=event, service=state["service"])
    conn = await admin_conn_factory("insights")
    letter_id = await _dead_letter_of(conn, consumer, event.meta.event_id)
    # The producer publishes it again (a new message id past the dedupe window) and, fixed, the consumer applies it.
    state["broken"] = False
    await republish(infra, tenant=COUNTY, event=event, service=state["service"], msg_id=str(uuid.uuid4()))

    async def applied() -> bool:
        return state["applied"].get(event.meta.event_id) == 1

    await eventually(applied)
    done = await deadletters.replay_dead_letter(db, admin_of(COUNTY), letter_id=letter_id, subscriptions=subs)
    assert done.outcome is deadletters.Outcome.ALREADY_APPLIED
    assert state["applied"] == {event.meta.event_id: 1}


async def test_pages_run_newest_first_without_gaps_or_repeats(probe, infra, admin_conn_factory):
    state, consumer = probe
    db = state["db"]
    conn = await admin_conn_factory("insights")
    ids = []
    for _ in range(3):
        event = built_event(COUNTY)
        await republish(infra, tenant=COUNTY, event=event, service=state["service"])
        ids.append(await _dead_letter_of(conn, consumer, event.meta.event_id))
    seen, token = [], ""
    while True:
        page = await deadletters.list_dead_letters(db, admin_of(COUNTY), page_size=2, page_token=token,
                                                   consumer=consumer, replayed=None)
        seen.extend(str(d.id) for d in page.items)
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))


async def test_bad_ids_and_tokens_name_their_field(probe):
    state, _ = probe
    db, subs = state["db"], state["subscriptions"]
    with pytest.raises(InvalidArgument) as caught:
        await deadletters.replay_dead_letter(db, admin_of(COUNTY), letter_id="abc", subscriptions=subs)
    assert [v.field for v in caught.value.violations] == ["id"]
    with pytest.raises(InvalidArgument) as caught:
        await deadletters.list_dead_letters(db, admin_of(COUNTY), page_size=0, page_token="%%", consumer="",
                                            replayed=None)
    assert [v.field for v in caught.value.violations] == ["page_token"]
    with pytest.raises(NotFound):
        await deadletters.get_dead_letter(db, admin_of(COUNTY), letter_id=str(2**62), subscriptions=subs)


async def test_the_operator_command_lists_shows_and_replays_over_grpc(platform, secrets, admin_conn_factory):
    county = "650204"  # no other test counts this county's members
    event = built_event(county)
    subject = ev.subject(tenant=county, service="registry", message_cls=registry_events_pb2.MemberRegistered)
    headers = ev.headers_for(event_id=event.meta.event_id, event_type=ev.event_type(type(event)), event_version=1,
                             tenant=county, traceparent=None)
    conn = await admin_conn_factory("insights")
    letter = str(await conn.fetchval(
        "INSERT INTO dead_letters (tenant_id, consumer, subject, event_id, event_type, headers, payload, error,"
        " deliveries) VALUES ($1, 'insights-member-counts', $2, $3, $4, $5::jsonb, $6, 'FailedPrecondition: 测试', 5)"
        " RETURNING id", county, subject, event.meta.event_id, ev.event_type(type(event)), json.dumps(headers),
        event.SerializeToString()))
    operator = command.Operator(
        targets={e.name: f"127.0.0.1:{platform.services[e.name].port}" for e in deadletters.consuming_services()},
        issuer=command.issuer_from(secrets.jwt_private), user="operator:test")
    said: list[str] = []
    complaints: list[str] = []

    assert await command.list_letters(operator, tenants=[county], services=sorted(operator.targets), pending=False,
                                      detailed=False, say=said.append, complain=complaints.append) == command.OK
    assert complaints == [] and any("insights-member-counts" in line and line.split()[-2:] == ["1", "0"]
                                    for line in said)
    said.clear()
    assert await command.show_letter(operator, tenant=county, service="insights", letter_id=letter,
                                     say=said.append, complain=complaints.append) == command.OK
    text = "\n".join(said)
    assert "FailedPrecondition: 测试" in text and event.member_id in text  # the operator reads the event
    said.clear()
    assert await command.replay_letter(operator, tenant=county, service="insights", letter_id=letter,
                                       say=said.append, complain=complaints.append) == command.OK
    assert "已应用" in said[-1]
    assert await command.replay_letter(operator, tenant=county, service="insights", letter_id=letter,
                                       say=said.append, complain=complaints.append) == command.OK
    assert "未重复应用" in said[-1]
    actor = await conn.fetchval("SELECT actor FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY seq DESC"
                                " LIMIT 1", county, deadletters.REPLAY_ACTION)
    assert actor == "operator:test"
    assert await command.show_letter(operator, tenant=county, service="insights", letter_id=str(2**62),
                                     say=said.append, complain=complaints.append) == command.FAILED
    assert "NOT_FOUND" in complaints[-1]
