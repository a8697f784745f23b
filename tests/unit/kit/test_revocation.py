"""Revoked sessions: the in-memory set, and the feed that fills it from the gateway's stream (a real NATS, with the
runner's logins and grants, and no PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import nats
import pytest
from prometheus_client import CollectorRegistry

from jinqiao.events.v1.gateway_events_pb2 import SessionRevoked
from jinqiao.kit import events as ev
from jinqiao.kit.broker import build_broker
from jinqiao.kit.revocation import CLOCK_MARGIN_SECONDS, REVOCATION_SUBJECT, RevocationFeed, RevokedSessions
from jinqiao.kit.runtime.sandbox import Sandbox

# ------------------------------------------------------------------------------------------------ the set


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_revoked_session_is_refused_until_its_tokens_could_have_expired():
    clock = Clock()
    revoked = RevokedSessions(clock=clock)
    revoked.revoke("a", until=clock.now + 300)
    assert revoked.is_revoked("a") and not revoked.is_revoked("b")
    clock.now += 299
    assert revoked.is_revoked("a")
    clock.now += 1
    assert not revoked.is_revoked("a")
    assert len(revoked) == 0  # forgotten, so the set stays as small as the sessions that still matter


def test_a_later_revocation_extends_and_an_earlier_one_does_not_shorten():
    clock = Clock()
    revoked = RevokedSessions(clock=clock)
    revoked.revoke("a", until=clock.now + 100)
    revoked.revoke("a", until=clock.now + 500)
    revoked.revoke("a", until=clock.now + 50)
    clock.now += 400
    assert revoked.is_revoked("a") and len(revoked) == 1
    revoked.revoke("b", until=clock.now - 1)  # already past: nothing to remember
    assert not revoked.is_revoked("b") and len(revoked) == 1


# ------------------------------------------------------------------------------------------------ the feed


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(prefix="jinqiao-revocation-", postgres=False) as sandbox:
        yield sandbox


async def _publish_revocation(box: Sandbox, *, session: str, expires_in: float = 300.0, scope: str = "411525") -> None:
    """Publish as the gateway's own login would (its relay), so the grants are the real ones."""
    nc = await nats.connect(box.nats_url, **box.nats_login("gateway").options)
    try:
        now = datetime.now(UTC)
        message = SessionRevoked(session_id=session, reason="LOGOUT")
        message.meta.event_id, message.meta.tenant_id = str(uuid.uuid4()), scope
        message.revoked_at.FromDatetime(now)
        message.expires_at.FromDatetime(now + timedelta(seconds=expires_in))
        subject = REVOCATION_SUBJECT.replace("*", scope)
        await nc.jetstream().publish(subject, message.SerializeToString(), stream=ev.stream_name("gateway"),
                                     headers={ev.HEADER_MSG_ID: message.meta.event_id})
    finally:
        await nc.close()


@pytest.fixture
async def feed_of(box: Sandbox) -> AsyncIterator[object]:
    """Start feeds logged in as a catalogued service; all stopped at the end."""
    started: list[tuple[RevocationFeed, object]] = []

    async def start(service: str = "registry", *, replay_seconds: float = 3600.0,
                    clock: object = time.time) -> tuple[RevocationFeed, RevokedSessions]:
        login = box.nats_login(service)
        broker = build_broker(url=box.nats_url, name=f"test-{service}", user=login.user, password=login.password)
        await broker.connect()
        revoked = RevokedSessions()
        feed = RevocationFeed(broker=broker, revoked=revoked, service=service, replay_seconds=replay_seconds,
                              fetch_timeout=0.5, retry_seconds=0.2, clock=clock, registry=CollectorRegistry())
        await feed.start()
        started.append((feed, broker))
        return feed, revoked

    yield start
    for feed, broker in started:
        await feed.stop()
        await broker.stop()  # type: ignore[attr-defined]


async def eventually(check, *, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the timeout")
        await asyncio.sleep(0.05)


async def test_a_process_started_after_a_revocation_refuses_it_from_the_start(box, feed_of):
    session = str(uuid.uuid4())
    await _publish_revocation(box, session=session)
    feed, revoked = await feed_of("insights")
    # start() returns once the replay has caught up: no polling needed.
    assert feed.up and revoked.is_revoked(session)


async def test_a_live_revocation_reaches_every_process_not_just_one(box, feed_of):
    first, first_revoked = await feed_of("registry")
    second, second_revoked = await feed_of("registry")  # a second replica of the same service
    desk, desk_revoked = await feed_of("desk")  # a service that consumes no other stream
    session = str(uuid.uuid4())
    await _publish_revocation(box, session=session)
    await eventually(lambda: all(r.is_revoked(session) for r in (first_revoked, second_revoked, desk_revoked)))


async def test_the_replay_reaches_back_only_as_far_as_a_token_can_live(box, feed_of):
    session = str(uuid.uuid4())
    await _publish_revocation(box, session=session, expires_in=10_000)
    # A process whose replay window (an hour) ends before the revocation was published does not replay it.
    _, revoked = await feed_of("organizations", clock=lambda: time.time() + 7200)
    assert not revoked.is_revoked(session)


async def test_a_revocation_is_kept_until_its_tokens_have_expired_plus_a_margin(box, feed_of):
    session = str(uuid.uuid4())
    await _publish_revocation(box, session=session, expires_in=-(CLOCK_MARGIN_SECONDS + 5))
    expired = str(uuid.uuid4())
    await _publish_revocation(box, session=expired, expires_in=-(CLOCK_MARGIN_SECONDS - 30))
    _, revoked = await feed_of("registry")
    assert not revoked.is_revoked(session)  # every token of it expired more than the margin ago
    assert revoked.is_revoked(expired)  # within the margin: still refused


async def test_with_the_feed_down_a_process_keeps_what_it_knows_and_says_so(box, feed_of):
    feed, revoked = await feed_of("registry")
    session = str(uuid.uuid4())
    await _publish_revocation(box, session=session)
    await eventually(lambda: revoked.is_revoked(session))
    # The broker connection goes away (as when NATS is down): the feed reports it, the set stays.
    await feed._broker.stop()
    await eventually(lambda: not feed.up)
    assert feed._up_gauge._value.get() == 0
    assert revoked.is_revoked(session)


async def test_a_feed_whose_consumer_vanished_resumes_after_the_last_revocation_it_applied(box, feed_of):
    feed, revoked = await feed_of("organizations")
    before = str(uuid.uuid4())
    await _publish_revocation(box, session=before)
    await eventually(lambda: revoked.is_revoked(before))
    applied = feed.applied
    # The server forgets every consumer of the stream (as after a restart of an in-memory consumer's server).
    admin = await nats.connect(box.nats_url, **box.nats_login().options)
    try:
        js = admin.jetstream()
        for info in await js.consumers_info(ev.stream_name("gateway")):
            await js.delete_consumer(ev.stream_name("gateway"), info.name)
        during = str(uuid.uuid4())
        await _publish_revocation(box, session=during)
    finally:
        await admin.close()
    await eventually(lambda: revoked.is_revoked(during))
    assert feed.applied == applied + 1  # nothing replayed twice: it resumed after the last sequence it applied
