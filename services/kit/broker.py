"""NATS JetStream for the services: streams, and durable pull consumers that are idempotent and never lose a message.

FastStream's broker keeps the connection and publishes; the durable consumers are our own small loop on nats-py's
JetStream client (``Consumer``), so what is acknowledged, when, and what a failure costs is written here:

- an event is acknowledged (or terminated) only after its effect, or its dead-letter row, has committed;
- a handler error is retried with back-off and dead-lettered after ``RetryPolicy.max_deliver`` deliveries (a domain
  error or a poison message at once);
- a database or broker that is away pauses the consumer on the message in hand, which is kept (``in_progress``) and
  tried again with capped, jittered back-off until it commits: an outage never counts as a failure and never drops
  a message. JetStream's own ``max_deliver`` is unlimited (-1): the server never abandons a message.

``num_delivered`` (``Delivery.deliveries``) is the server's count: a process that crashed or was stopped while
holding a message, or a message not acknowledged within ``ack_wait``, comes back with the count raised, and that
redelivery counts toward ``max_deliver`` like a handler failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from faststream.nats.security import NatsUserPassword
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Server
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Gauge

from jinqiao.kit import events as ev
from jinqiao.kit import telemetry
from jinqiao.kit.availability import unavailable_dependency
from jinqiao.kit.db import Database, UnitOfWork
from jinqiao.kit.errors import DomainError
from jinqiao.kit.retention import StreamLimits
from jinqiao.kit.settings import KitSettings
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant

log = logging.getLogger("jinqiao.broker")

# Both kinds a pull may time out with: nats-py 2.16's fetch raises the builtin one, older paths nats.errors'.
FETCH_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError, nats.errors.TimeoutError)


def inbox_prefix(user: str) -> str:
    """Each login's replies (PubAcks, pulled messages) arrive under its own prefix, which only it may read."""
    return f"_INBOX_{user}" if user else "_INBOX"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential back-off with full jitter: attempt n waits uniformly up to min(cap, base·2ⁿ⁻¹)."""

    base: float = 0.5
    cap: float = 30.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait before attempt ``attempt`` (1 for the first retry)."""
        return min(self.base * 2.0 ** min(max(attempt - 1, 0), 62), self.cap)

    def delay(self, attempt: int) -> float:
        """A jittered wait before attempt ``attempt``, so that many clients do not return in step."""
        return _JITTER.uniform(0.0, self.ceiling(attempt))


# Jitter from a generator of the kit's own: not a secret (S311), and the global `random` state stays the caller's
# (property-based tests watch it for changes while they draw, and a service in their process must not move it).
_JITTER = random.Random()  # noqa: S311
# How long a client waits between reconnects to NATS; it never stops trying.
RECONNECT = Backoff(base=0.5, cap=30.0)


def _reconnect_to(servers: list[Server], _info: dict[str, Any]) -> tuple[Server | None, float]:
    """nats-py's reconnect hook: the server tried least, after a jittered wait growing with its failed attempts."""
    server = min(servers, key=lambda s: s.reconnects)
    return server, RECONNECT.delay(server.reconnects + 1)


async def _report_broker_error(error: Exception) -> None:
    # A refused subject is a missing or wrong grant (services/catalog.toml `consumes`), never worth a retry.
    if "permissions violation" in str(error).lower():
        log.error("NATS 拒绝了本服务无权使用的主题 / NATS refused a subject this login may not use: %s", error)


def _connection_log(name: str) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """Callbacks logging a lost connection once (WARNING) and its return once (INFO), not every attempt."""

    async def disconnected() -> None:
        log.warning("NATS 连接中断，正在重连 / NATS connection of %s lost; reconnecting", name)

    async def reconnected() -> None:
        log.info("NATS 已重新连接 / NATS connection of %s back", name)

    return disconnected, reconnected


def server_urls(url: str) -> list[str]:
    """The servers a (possibly comma-separated) ``nats_url`` names: one server, or the nodes of a cluster."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("nats_url names no server")
    return servers


def build_broker(*, url: str, name: str, user: str = "", password: str = "") -> Broker:
    """A broker logged in as ``user`` that reconnects forever with jittered back-off and logs only state changes.

    ``url`` may name a cluster (comma-separated URLs): nats-py connects to any one of them, learns the others from
    the cluster's gossip, and on a lost connection moves to the server it has tried least (``_reconnect_to``).
    A first ``connect()`` to a server that is not up yet waits for it too (nats-py retries it every second).
    """
    disconnected, reconnected = _connection_log(name)
    return Broker(server_urls(url), name=name, graceful_timeout=10.0,
                  security=NatsUserPassword(username=user, password=password) if user else None,
                  inbox_prefix=inbox_prefix(user), error_cb=_report_broker_error,
                  # Never give up (nats-py's default stops after 60 attempts, about two minutes).
                  max_reconnect_attempts=-1, reconnect_time_wait=1,
                  reconnect_to_server_handler=_reconnect_to,
                  disconnected_cb=disconnected, reconnected_cb=reconnected,
                  # FastStream's own logger writes a traceback on every failed reconnect: ours log the changes.
                  logger=None)


def stream_replicas(replicas: int | None = None) -> int:
    """How many servers keep each stream: ``replicas``, else the environment's (JINQIAO_NATS_STREAM_REPLICAS).

    Every process the runner (or the chart) starts sees the same setting, so a service looking its streams up finds
    them as the runner declared them.
    """
    if replicas is not None:
        if replicas < 1:
            raise ValueError("a stream needs at least one replica")
        return replicas
    return KitSettings().nats_stream_replicas


def stream_config(service: str, *, limits: StreamLimits | None = None, replicas: int | None = None) -> StreamConfig:
    """A producing service's stream: file storage, two-minute duplicate window, bounded by age and size, kept by
    ``replicas`` servers (the environment's ``nats_stream_replicas`` when not given: 1 on one server, 3 on a cluster).

    A full stream refuses new messages (DiscardPolicy.NEW) rather than dropping unconsumed ones: the relay keeps
    its outbox rows pending until there is room (backpressure). Messages older than max_age are gone whatever
    their consumers did, so a consumer may be away up to max_age (kit/retention.py: the inbox horizon outlasts it).
    At R3 a message is acknowledged to the relay once a majority of the three has it, so losing any one server
    loses no acknowledged message; the duplicate window lets the relay publish again after a lost PubAck.
    """
    bounds = limits or StreamLimits.configured()
    return StreamConfig(name=ev.stream_name(service), subjects=ev.stream_subjects(service),
                        storage=StorageType.FILE, duplicate_window=120.0, max_age=bounds.max_age,
                        max_bytes=bounds.max_bytes, discard=DiscardPolicy.NEW, num_replicas=stream_replicas(replicas))


async def ensure_stream(broker: NatsBroker, *, service: str, limits: StreamLimits | None = None,
                        replicas: int | None = None) -> None:
    """Make sure a producing service's stream exists as configured (limits and replicas: the environment's when
    not given).

    The runner declares every stream at start-up (its login may); a service's login may only look a stream up,
    so a stream found as configured is left alone and only a missing or different one (e.g. one made before it
    had limits, or at fewer replicas) is created or updated. A clustered JetStream changes a stream's
    replica count in place (R1 → R3 copies it to two more servers); its durable consumers follow, since they are
    made with ``num_replicas`` 0, "the stream's" (``Consumer.consumer_config``).
    """
    js = broker.config.connection_state.stream
    config = stream_config(service, limits=limits, replicas=replicas)
    try:
        found = (await js.stream_info(config.name)).config
    except NotFoundError:
        await js.add_stream(config)
        return
    if replicas is None and (found.num_replicas or 1) > (config.num_replicas or 1):
        # Only an explicit count scales a stream down: a process merely lacking JINQIAO_NATS_STREAM_REPLICAS (a
        # migrate job, a service) must neither take copies away from a cluster's streams nor fail to start on them.
        config = config.evolve(num_replicas=found.num_replicas)
    if (sorted(found.subjects or []) != sorted(config.subjects or []) or found.storage != config.storage
            or found.duplicate_window != config.duplicate_window or not _same_limits(found, config)
            or (found.num_replicas or 1) != config.num_replicas):
        await js.update_stream(config)


def _same_limits(found: StreamConfig, wanted: StreamConfig) -> bool:
    # The server reports max_age in nanoseconds (read back as float seconds) and the discard policy as text.
    return (abs((found.max_age or 0.0) - (wanted.max_age or 0.0)) < 1e-3 and found.max_bytes == wanted.max_bytes
            and _text(found.discard) == _text(wanted.discard))


def _text(policy: object) -> str:
    return str(getattr(policy, "value", policy))


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a handler may know about the message beyond the event itself."""

    event_id: str
    tenant: str
    subject: str
    deliveries: int


Handler = Callable[[UnitOfWork, Any, Delivery], Awaitable[None]]
# Which county an event's effect belongs to. By default the county that published it; a cross-county
# hand-over (e.g. a flow registered by the origin, placed by the destination) names its addressee instead.
Route = Callable[[Any], str]


def addressed_to(field: str) -> Route:
    """A route to the county an event names in ``field`` (e.g. ``origin_tenant_id`` for an answer to the origin)."""

    def route(event: Any) -> str:
        return str(getattr(event, field))

    return route


@dataclass(frozen=True, slots=True)
class Subscription:
    """One durable consumer: its name (the durable and the inbox key: never rename it), the producing service,
    the event, its handler, and the county its effect is written in (None: the publisher's)."""

    consumer: str
    source: str
    event: type[Message]
    handler: Handler
    route: Route | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Handler failures: redelivery with exponential back-off, a dead-letter row after ``max_deliver`` deliveries.

    ``base_delay``/``max_delay`` also bound the jittered pause while the database or the broker is away.
    """

    max_deliver: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    ack_wait: float = 30.0

    def delay(self, deliveries: int) -> float:
        """Back-off before the next delivery of a message delivered ``deliveries`` times."""
        return min(self.base_delay * 2.0 ** max(deliveries - 1, 0), self.max_delay)

    @property
    def pause(self) -> Backoff:
        """The back-off while a dependency is away."""
        return Backoff(base=self.base_delay, cap=self.max_delay)


class PoisonMessage(Exception):
    """A message that can never be processed (bad headers or payload)."""


class Broker(NatsBroker):
    """FastStream's NATS broker that also runs the service's durable consumers between ``start`` and ``stop``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriptions: dict[str, Subscription] = {}
        self.consumers: list[Consumer] = []

    async def start(self) -> None:
        """Connect, then start every registered consumer's loop."""
        await super().start()
        for consumer in self.consumers:
            consumer.start()

    async def stop(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> None:
        """Stop the consumers (a message in hand is left unacknowledged, so redelivered), then the connection."""
        for consumer in self.consumers:
            await consumer.stop()
        await super().stop(exc_type, exc_val, exc_tb)


def subscriptions_of(broker: NatsBroker) -> dict[str, Subscription]:
    """The durable consumers registered on ``broker`` by consumer name (dead-letter replay finds handlers here)."""
    return broker.subscriptions if isinstance(broker, Broker) else {}


def subscribe(
    broker: NatsBroker,
    *,
    db: Database,
    consumer: str,
    source_service: str,
    event: type[Message],
    handler: Handler,
    retry: RetryPolicy,
    batch_size: int = 32,
    route: Route | None = None,
) -> Consumer:
    """Register a durable pull consumer, run from ``broker.start()``; the effect and its inbox row commit together.

    ``route`` names the county the effect is written in (and its inbox row); it must return a county code,
    else the message is poison. Handlers still see the publisher's county as ``delivery.tenant``.
    """
    if not isinstance(broker, Broker):
        raise TypeError("durable consumers run on a broker from build_broker()")
    if consumer in broker.subscriptions:
        raise ValueError(f"consumer {consumer} is registered twice")
    subscription = Subscription(consumer=consumer, source=source_service, event=event, handler=handler, route=route)
    running = Consumer(broker=broker, db=db, subscription=subscription, retry=retry, batch_size=batch_size)
    broker.subscriptions[consumer] = subscription
    broker.consumers.append(running)
    return running


def decode_event(
    *, subject: str, headers: dict[str, str], payload: bytes, event: type[Message], source_service: str,
    route: Route | None,
) -> tuple[str, str, Any, str]:
    """(publisher's county, event id, decoded event, county the effect belongs to); PoisonMessage if it cannot be."""
    _check_producer(subject, source_service)
    tenant, event_id, decoded = _decode(subject, headers, payload, event)
    return tenant, event_id, decoded, _route(route, decoded, tenant)


async def apply_event(
    db: Database, *, consumer: str, handler: Handler, target: str, event_id: str, decoded: Any, delivery: Delivery
) -> bool:
    """Record the event in ``target``'s inbox and run the handler in one unit of work; False if already applied."""
    async with db.unit_of_work(tenant=target) as uow:
        fresh = await uow.conn.fetchval(
            "INSERT INTO inbox (tenant_id, consumer, event_id) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            target, consumer, event_id,
        )
        if not fresh:
            return False
        await handler(uow, decoded, delivery)
        await uow.commit()
    return True


class Consumer:
    """One durable pull consumer's loop: fetch a batch, settle each message in order, pause while a dependency is
    away."""

    def __init__(self, *, broker: NatsBroker, db: Database, subscription: Subscription, retry: RetryPolicy,
                 batch_size: int = 32, fetch_timeout: float = 5.0, check_seconds: float = 30.0) -> None:
        self.subscription = subscription
        self._broker = broker
        self._db = db
        self._retry = retry
        self._batch = batch_size
        self._fetch_timeout = fetch_timeout
        self._check_seconds = check_seconds
        self._name = subscription.consumer
        self._stream = ev.stream_name(subscription.source)
        self._filter = f"jinqiao.*.{subscription.source}.{ev.event_subject_name(subscription.event)}"
        self._wanted = ev.event_type(subscription.event)
        self._task: asyncio.Task[None] | None = None
        self._away: str | None = None
        self.settled = 0

    def start(self) -> None:
        """Start the loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"consumer-{self._name}")

    async def stop(self) -> None:
        """Cancel the loop; a message in hand stays unacknowledged and comes back."""
        task, self._task = self._task, None
        if task is None:
            return
        # Cancelled until it ends (a cancellation can land where a cleanup absorbs it), bounded: a stop never hangs.
        for _ in range(50):
            task.cancel()
            done, _pending = await asyncio.wait({task}, timeout=0.2)
            if done:
                return
        log.warning("消费者 %s 未能及时停止 / consumer %s did not stop within 10 s", self._name, self._name)

    def consumer_config(self) -> ConsumerConfig:
        """The durable's configuration: explicit acks, unlimited server-side deliveries (our policy counts).

        ``num_replicas`` 0 means the stream's: on a cluster the durable's state (what was delivered and acknowledged)
        is kept by as many servers as its stream's messages, and follows the stream when its replica count changes.
        A durable kept by fewer servers than its stream would forget its acknowledgements with its one server, and
        every message would come back (absorbed by the inbox, but a burst of redeliveries).
        """
        return ConsumerConfig(name=self._name, durable_name=self._name, ack_policy=AckPolicy.EXPLICIT,
                              max_deliver=-1, ack_wait=self._retry.ack_wait, filter_subject=self._filter,
                              num_replicas=0)

    async def _run(self) -> None:
        attempt = 0
        while True:
            sub: Any = None
            try:
                sub = await self._bind()
                self._back("nats")
                attempt = 0
                await self._pull(sub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker away, stream or consumer missing: wait, then bind again; never spin.
                attempt += 1
                self._gone(unavailable_dependency(exc) or "nats", exc)
                await asyncio.sleep(self._retry.pause.delay(attempt))
            finally:
                if sub is not None:
                    with suppress(Exception):
                        await sub.unsubscribe()

    async def _bind(self) -> Any:
        js = self._broker.config.connection_state.stream
        wanted = self.consumer_config()
        try:
            found = (await js.consumer_info(self._stream, self._name)).config
        except NotFoundError:
            await js.add_consumer(self._stream, config=wanted)
        else:
            # Durables made before issue 11 have a server-side max_deliver of 5: bring them up to date (an
            # editable field since NATS 2.10; the login's CONSUMER.CREATE grant covers an update).
            if (found.max_deliver not in (None, 0, -1) or found.filter_subject != self._filter
                    or abs((found.ack_wait or 0.0) - self._retry.ack_wait) > 0.001):
                await js.add_consumer(self._stream, config=found.evolve(
                    name=self._name, max_deliver=-1, ack_wait=self._retry.ack_wait, filter_subject=self._filter))
        # Pulled messages must arrive under the login's own prefix, the only inbox the server lets it read.
        return await js.pull_subscribe_bind(durable=self._name, stream=self._stream,
                                            inbox_prefix=f"{_inbox_of(self._broker)}.".encode())

    async def _pull(self, sub: Any) -> None:
        checked = time.monotonic()
        while True:
            try:
                messages = await sub.fetch(batch=self._batch, timeout=self._fetch_timeout)
            except FETCH_TIMEOUTS:
                # Nothing to do is the normal state. Now and then ask for the consumer, which fails if the
                # broker or the consumer went away, so the loop binds again.
                if time.monotonic() - checked >= self._check_seconds:
                    self._report_lag(await sub.consumer_info())
                    checked = time.monotonic()
                continue
            if time.monotonic() - checked >= self._check_seconds:
                # A busy consumer never idles into the branch above: its lag is read between batches too.
                self._report_lag(await sub.consumer_info())
                checked = time.monotonic()
            await self._settle_batch(messages)

    def _report_lag(self, info: Any) -> None:
        """Consumer lag as a metric: messages not yet delivered, and delivered but not yet settled."""
        gauge = _lag_gauge(telemetry.default_registry())
        gauge.labels(consumer=self._name, state="pending").set(info.num_pending or 0)
        gauge.labels(consumer=self._name, state="ack_pending").set(info.num_ack_pending or 0)

    async def _settle_batch(self, messages: list[Msg]) -> None:
        waiting = list(messages)
        keeper = asyncio.create_task(self._keep(waiting), name=f"consumer-{self._name}-keep")
        try:
            while waiting:
                await self.settle(waiting[0])
                waiting.pop(0)
        finally:
            keeper.cancel()
            # asyncio.wait, not `await keeper` under suppress(CancelledError): a stop() cancelling this task right
            # here must not be swallowed with the keeper's own cancellation (the loop would run on, stop() hang).
            await asyncio.wait({keeper})

    async def _keep(self, waiting: list[Msg]) -> None:
        """Tell the server every message of the batch not yet settled is still being worked on (no redelivery)."""
        every = max(self._retry.ack_wait / 3.0, 0.05)
        while True:
            await asyncio.sleep(every)
            for message in list(waiting):
                # The broker may be away too; the message is then redelivered, which the inbox absorbs.
                with suppress(Exception):
                    await message.in_progress()

    async def settle(self, msg: Msg) -> None:
        """Apply one message, or file it as a dead letter, then acknowledge it; hold it while a dependency is away."""
        headers = dict(msg.headers or {})
        deliveries = msg.metadata.num_delivered
        with telemetry.start_consumer_span(f"{self._name} {self._wanted}", headers=headers):
            outcome = await self._until_committed(lambda: self._apply(msg, headers, deliveries))
            if outcome is None:
                return
            await self._until_committed(lambda: self._dead_letter(msg, headers, outcome, deliveries))

    async def _apply(self, msg: Msg, headers: dict[str, str], deliveries: int) -> Exception | None:
        """None once applied and acknowledged (or nak'd for a retry); the error if it belongs in the dead letters."""
        s = self.subscription
        try:
            tenant, event_id, decoded, target = decode_event(
                subject=msg.subject, headers=headers, payload=msg.data, event=s.event, source_service=s.source,
                route=s.route)
            delivery = Delivery(event_id=event_id, tenant=tenant, subject=msg.subject, deliveries=deliveries)
            await apply_event(self._db, consumer=self._name, handler=s.handler, target=target, event_id=event_id,
                              decoded=decoded, delivery=delivery)
        except Exception as exc:
            if unavailable_dependency(exc) is not None:
                raise
            # A domain error says the event cannot apply (it names nothing we hold, or breaks a rule): asking
            # again gives the same answer, so it goes to the dead letters with its reason at once.
            if isinstance(exc, PoisonMessage | DomainError) or deliveries >= self._retry.max_deliver:
                return exc
            log.warning("handler %s failed (delivery %d), will retry: %s", self._name, deliveries,
                        type(exc).__name__)
            await _quietly(msg.nak(delay=self._retry.delay(deliveries)))
            return None
        await _quietly(msg.ack())
        self.settled += 1
        return None

    async def _dead_letter(self, msg: Msg, headers: dict[str, str], error: Exception, deliveries: int) -> None:
        tenant = _tenant_or_none(msg.subject)
        if tenant is None:
            # Dead letters are tenant rows; a message naming no county can only be terminated and logged.
            log.error("terminated %s message on %s: no tenant to file it under", self._name, msg.subject)
            await _quietly(msg.term())
            return
        await file_dead_letter(self._db, tenant=tenant, consumer=self._name, subject=msg.subject, headers=headers,
                               payload=msg.data, error=error, deliveries=deliveries)
        await _quietly(msg.ack())
        self.settled += 1
        log.error("dead-lettered %s after %d deliveries: %s", self._name, deliveries, type(error).__name__)

    async def _until_committed(self, step: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``step`` until it gets past the database: a dependency that is away pauses, it never counts."""
        attempt = 0
        while True:
            try:
                result = await step()
            except Exception as exc:
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    raise
                attempt += 1
                self._gone(dependency, exc)
                await asyncio.sleep(self._retry.pause.delay(attempt))
                continue
            if attempt:
                self._back(self._away or "postgresql")
            return result

    def _gone(self, dependency: str, exc: BaseException) -> None:
        # Logged on a change only: an outage is one line, not one per retry.
        if self._away is None:
            log.warning("消费者 %s 暂停：%s 不可用，稍后重试 / consumer %s paused, %s away (%s); retrying",
                        self._name, dependency, self._name, dependency, type(exc).__name__)
        self._away = dependency

    def _back(self, dependency: str) -> None:
        if self._away is not None:
            log.info("消费者 %s 已恢复 / consumer %s resumed (%s back)", self._name, self._name, self._away)
        self._away = None


_lag_gauges: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


def _lag_gauge(registry: CollectorRegistry) -> Gauge:
    found = _lag_gauges.get(registry)
    if found is None:
        # Alert on pending growing for hours: a stream keeps messages for max_age (7 days), then drops them.
        found = _lag_gauges[registry] = Gauge(
            "jinqiao_consumer_pending", "Messages of a durable consumer not yet delivered (pending) or not yet"
            " settled (ack_pending), read every 30 s.", ("consumer", "state"), registry=registry)
    return found


async def _quietly(settle: Awaitable[None]) -> None:
    """Send an ack, nak or term; if the broker is away the message comes back and the inbox absorbs it."""
    try:
        await settle
    except Exception as exc:  # the effect is already committed, or nothing was done: never worth failing for
        log.debug("could not settle a message: %s", type(exc).__name__)


async def file_dead_letter(
    db: Database, *, tenant: str, consumer: str, subject: str, headers: dict[str, str], payload: bytes,
    error: BaseException, deliveries: int,
) -> None:
    """Write one dead-letter row with its reason, committed."""
    async with db.unit_of_work(tenant=tenant) as uow:
        await uow.conn.execute(
            "INSERT INTO dead_letters (tenant_id, consumer, subject, event_id, event_type, headers, payload, error,"
            " deliveries) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)",
            tenant, consumer, subject, headers.get(ev.HEADER_MSG_ID), headers.get(ev.HEADER_TYPE),
            json.dumps(headers), payload, f"{type(error).__name__}: {error}"[:2000], deliveries,
        )
        await uow.commit()


def _inbox_of(broker: NatsBroker) -> str:
    """The inbox prefix the broker was built with (``build_broker``), or NATS's default."""
    # FastStream keeps the connection's keyword arguments only in this attribute.
    prefix = getattr(broker, "_connection_kwargs", {}).get("inbox_prefix") or "_INBOX"
    return prefix.decode() if isinstance(prefix, bytes) else str(prefix)


def _route(route: Route | None, decoded: Any, tenant: str) -> str:
    if route is None:
        return tenant
    try:
        return parse_tenant(route(decoded))
    except InvalidTenant as exc:
        raise PoisonMessage("the event names no county to deliver to") from exc


def _decode(subject: str, headers: dict[str, str], payload: bytes, event: type[Message]) -> tuple[str, str, Any]:
    tenant = _tenant_or_none(subject)
    if tenant is None:
        raise PoisonMessage("no valid tenant on the message")
    wanted = ev.event_type(event)
    if headers.get(ev.HEADER_TYPE) != wanted:
        raise PoisonMessage(f"expected {wanted}")
    try:
        decoded = event.FromString(payload)
        # The payload's event id is the identity the inbox keys on: a re-publish after the stream's
        # duplicate window carries a new Nats-Msg-Id but the same event.
        meta = ev.meta_of(decoded)
        event_id = str(uuid.UUID(meta.event_id))
    except (DecodeError, ValueError) as exc:
        raise PoisonMessage("payload is not a valid event") from exc
    if meta.tenant_id != tenant:
        raise PoisonMessage("the payload's tenant differs from the subject's")
    return tenant, event_id, decoded


def _check_producer(subject: str, source_service: str) -> None:
    """The subject's service must be the stream's producer (the consumer's filter says so; this keeps it true)."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[2] != source_service:
        raise PoisonMessage(f"the subject names another producer than {source_service}")


def _tenant_or_none(subject: str) -> str | None:
    """The county in the subject (``jinqiao.<tenant>.<service>.<event>``), or None if it names none."""
    parts = subject.split(".")
    try:
        return parse_tenant(parts[1]) if len(parts) == 4 else None
    except InvalidTenant:
        return None
