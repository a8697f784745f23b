"""The consume loop without a broker: back-off, silent fetch timeouts, and what is acknowledged when (issue 11)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import asyncpg
import nats.errors
import pytest
from nats.aio.client import Server

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker
from jinqiao.kit import events as ev
from jinqiao.kit.errors import FailedPrecondition

RETRY = broker.RetryPolicy(max_deliver=3, base_delay=0.001, max_delay=0.004, ack_wait=0.03)


def test_back_off_grows_to_its_cap_and_is_jittered():
    backoff = broker.Backoff(base=0.5, cap=30.0)
    assert [backoff.ceiling(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.ceiling(7) == 30.0 and backoff.ceiling(10_000) == 30.0
    for attempt in (1, 3, 8, 500):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= backoff.ceiling(attempt) for d in delays)
        assert len(set(delays)) > 150  # jittered: clients that failed together do not return together


def test_clients_reconnect_forever_with_jittered_back_off_and_log_only_changes():
    built = broker.build_broker(url="nats://127.0.0.1:1", name="t", user="insights", password="p")
    options = built._connection_kwargs
    assert options["max_reconnect_attempts"] == -1 and options["allow_reconnect"] is True
    assert options["reconnect_to_server_handler"] is broker._reconnect_to
    assert options["disconnected_cb"] is not None and options["reconnected_cb"] is not None
    servers = [Server(uri=urlparse("nats://127.0.0.1:1"), reconnects=900),
               Server(uri=urlparse("nats://127.0.0.1:2"), reconnects=4)]
    chosen, wait = broker._reconnect_to(servers, {})
    assert chosen is servers[1] and 0.0 <= wait <= broker.RECONNECT.ceiling(5)
    assert max(broker._reconnect_to(servers[:1], {})[1] for _ in range(100)) <= broker.RECONNECT.cap


@dataclass
class FakeMsg:
    """A pulled JetStream message recording how it was settled."""

    subject: str
    data: bytes
    headers: dict[str, str]
    num_delivered: int = 1
    settled: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> Any:
        return SimpleNamespace(num_delivered=self.num_delivered)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")

    async def in_progress(self) -> None:
        self.settled.append("wip")


def event_msg(*, deliveries: int = 1) -> FakeMsg:
    pending = ev.new_event(registry_events_pb2.MemberRegistered(member_id=str(uuid.uuid4())), service="registry",
                           tenant="411525", aggregate_id=str(uuid.uuid4()), aggregate_version=1, traceparent=None)
    headers = ev.headers_for(event_id=pending.event_id, event_type=ev.event_type(registry_events_pb2.MemberRegistered),
                             event_version=1, tenant="411525", traceparent=None)
    return FakeMsg(subject="jinqiao.411525.registry.member_registered", data=pending.payload, headers=headers,
                   num_delivered=deliveries)


def db_away() -> Exception:
    return asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")


class Script:
    """What apply_event and file_dead_letter do, call by call (an exception is raised, anything else returned)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, apply: list[Any], dead: list[Any] | None = None,
                 away_while: Callable[[], bool] | None = None) -> None:
        self.apply, self.dead = list(apply), list(dead or [])
        self.applied = 0
        self.dead_letters: list[tuple[str, int]] = []

        async def apply_event(db: Any, **kwargs: Any) -> bool:
            if away_while is not None and away_while():
                raise db_away()
            outcome = self.apply.pop(0) if self.apply else True
            if isinstance(outcome, BaseException):
                raise outcome
            self.applied += 1
            return bool(outcome)

        async def file_dead_letter(db: Any, *, error: BaseException, deliveries: int, **kwargs: Any) -> None:
            outcome = self.dead.pop(0) if self.dead else None
            if isinstance(outcome, BaseException):
                raise outcome
            self.dead_letters.append((type(error).__name__, deliveries))

        monkeypatch.setattr(broker, "apply_event", apply_event)
        monkeypatch.setattr(broker, "file_dead_letter", file_dead_letter)


def consumer(retry: broker.RetryPolicy = RETRY) -> broker.Consumer:
    async def handler(uow: Any, event: Any, delivery: broker.Delivery) -> None:
        raise AssertionError("apply_event is scripted")

    subscription = broker.Subscription(consumer="c1", source="registry", event=registry_events_pb2.MemberRegistered,
                                       handler=handler)
    return broker.Consumer(broker=None, db=None, subscription=subscription, retry=retry)  # type: ignore[arg-type]


async def test_a_database_outage_holds_the_message_without_counting_it_and_acks_after_the_commit(monkeypatch,
                                                                                                   caplog):
    script = Script(monkeypatch, apply=[db_away()] * 6)
    msg = event_msg()
    with caplog.at_level(logging.INFO, logger="jinqiao.broker"):
        await consumer().settle(msg)  # type: ignore[arg-type]
    assert msg.settled == ["ack"] and script.applied == 1 and script.dead_letters == []
    # One line when the consumer pauses and one when it resumes, not one per attempt.
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


async def test_a_held_batch_is_kept_in_progress_so_the_server_does_not_redeliver_it(monkeypatch):
    outage = broker.RetryPolicy(max_deliver=3, base_delay=0.02, max_delay=0.02, ack_wait=0.03)
    held, behind = event_msg(), event_msg()
    # The database stays away until the keeper has spoken for both messages twice (or 5 s, when it never does): a
    # count of failed attempts would make the test a race with the keeper's timer on a loaded machine.
    deadline = time.monotonic() + 5

    def away() -> bool:
        kept = min(held.settled.count("wip"), behind.settled.count("wip"))
        return kept < 2 and time.monotonic() < deadline

    script = Script(monkeypatch, apply=[], away_while=away)
    await consumer(outage)._settle_batch([held, behind])  # type: ignore[list-item]
    assert held.settled.count("wip") >= 2 and held.settled[-1] == "ack" and "nak" not in held.settled
    assert behind.settled.count("wip") >= 2 and behind.settled[-1] == "ack"
    assert script.applied == 2


async def test_a_handler_error_is_retried_then_dead_lettered_at_the_limit(monkeypatch):
    script = Script(monkeypatch, apply=[ConnectionError("transient")] * 3)
    first, last = event_msg(deliveries=1), event_msg(deliveries=3)
    await consumer().settle(first)  # type: ignore[arg-type]
    await consumer().settle(last)  # type: ignore[arg-type]
    assert first.settled == ["nak"] and last.settled == ["ack"]
    assert script.dead_letters == [("ConnectionError", 3)]


async def test_a_domain_error_is_dead_lettered_at_once(monkeypatch):
    script = Script(monkeypatch, apply=[FailedPrecondition("该流动党员的外出登记已结束")])
    msg = event_msg()
    await consumer().settle(msg)  # type: ignore[arg-type]
    assert msg.settled == ["ack"] and script.dead_letters == [("FailedPrecondition", 1)]


async def test_a_dead_letter_that_cannot_be_written_is_retried_not_lost(monkeypatch):
    script = Script(monkeypatch, apply=[ConnectionError("transient")], dead=[db_away(), db_away(), db_away()])
    msg = event_msg(deliveries=3)
    await consumer().settle(msg)  # type: ignore[arg-type]
    assert msg.settled == ["ack"] and script.dead_letters == [("ConnectionError", 3)]
    assert script.applied == 0  # the handler is not run again: only its dead letter waited for the database


async def test_nothing_is_acknowledged_while_the_loop_is_stopped_mid_outage(monkeypatch):
    Script(monkeypatch, apply=[db_away()] * 10_000)
    msg = event_msg()
    task = asyncio.create_task(consumer().settle(msg))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "ack" not in msg.settled and "nak" not in msg.settled and "term" not in msg.settled


class IdleSub:
    """A pull subscription with nothing to deliver: its fetches time out, in both of nats-py's ways."""

    def __init__(self, fetches: int) -> None:
        self.fetches = fetches

    async def fetch(self, *, batch: int, timeout: float) -> list[Any]:
        self.fetches -= 1
        if self.fetches < 0:
            raise asyncio.CancelledError
        await asyncio.sleep(0)
        raise (TimeoutError() if self.fetches % 2 else nats.errors.TimeoutError())

    async def consumer_info(self) -> None:
        return None


async def test_fetch_timeouts_at_rest_are_silent(caplog):
    sub = IdleSub(fetches=20)
    with caplog.at_level(logging.DEBUG), pytest.raises(asyncio.CancelledError):
        await consumer()._pull(sub)
    assert sub.fetches < 0
    assert [r for r in caplog.records if r.levelno >= logging.INFO or r.exc_info] == []


async def test_a_broker_that_is_away_is_waited_for_with_back_off_not_spun_on(monkeypatch, caplog):
    waits: list[float] = []
    real_sleep = asyncio.sleep
    me = asyncio.current_task()

    async def sleep(delay: float) -> None:
        if asyncio.current_task() is not me:  # asyncio's sleep is shared: other tasks' waits are not the loop's
            await real_sleep(delay)
            return
        waits.append(delay)
        if len(waits) >= 8:
            raise asyncio.CancelledError
        await real_sleep(0)

    async def bind() -> Any:
        raise nats.errors.ConnectionClosedError()

    slow = broker.RetryPolicy(max_deliver=3, base_delay=0.5, max_delay=30.0)
    running = consumer(slow)
    monkeypatch.setattr(running, "_bind", bind)
    monkeypatch.setattr(broker.asyncio, "sleep", sleep)
    with caplog.at_level(logging.INFO, logger="jinqiao.broker"), pytest.raises(asyncio.CancelledError):
        await running._run()
    assert len(waits) == 8 and all(0.0 <= w <= slow.pause.ceiling(n) for n, w in enumerate(waits, start=1))
    assert sum(waits) > 0.5  # the waits grow: eight attempts are not a spin
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_consumer_lag_is_exported_as_pending_and_unsettled_counts():
    from jinqiao.kit import telemetry

    consumer()._report_lag(SimpleNamespace(num_pending=42, num_ack_pending=3))
    registry = telemetry.default_registry()
    assert registry.get_sample_value("jinqiao_consumer_pending", {"consumer": "c1", "state": "pending"}) == 42
    assert registry.get_sample_value("jinqiao_consumer_pending", {"consumer": "c1", "state": "ack_pending"}) == 3
