"""Revoked login sessions: an in-memory set every process keeps, fed by the gateway's SessionRevoked events.

The gateway records a revocation (logout, a reused refresh token, an account changed) and publishes
``SessionRevoked`` through its outbox. Each process follows those events with an ordered consumer of its own:
ephemeral, created afresh at start from (the longest access-token lifetime + leeway) ago, then following live,
resumed after the last stream sequence it applied when the broker comes back. Every replica must see every
revocation, so it is never a shared durable consumer. The token verifier asks the set on every call, with no
database call and no broker round trip.

If the feed is down the process keeps serving with the revocations it already knows, logs the outage once and
reports it in ``jinqiao_revocation_feed_up``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import weakref
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faststream.nats import NatsBroker
from google.protobuf.message import DecodeError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import CollectorRegistry, Counter, Gauge

from jinqiao.events.v1.gateway_events_pb2 import SessionRevoked
from jinqiao.kit import events as ev
from jinqiao.kit import telemetry

if TYPE_CHECKING:
    from jinqiao.kit.settings import KitSettings

log = logging.getLogger("jinqiao.revocation")

# The producer of revocations and the one subject the feed reads (natsauth grants exactly this to every login).
REVOCATION_SOURCE = "gateway"
REVOCATION_SUBJECT = f"jinqiao.*.{REVOCATION_SOURCE}.{ev.event_subject_name(SessionRevoked)}"
# Clocks of the gateway, the broker and this process may differ a little; a revocation is kept that much longer.
CLOCK_MARGIN_SECONDS = 60.0
# TokenVerifier accepts a token this long past its exp.
VERIFIER_LEEWAY_SECONDS = 5.0


def replay_seconds(settings: KitSettings) -> float:
    """How far back a fresh process reads revocations: the longest access token any issuer may sign, and leeway."""
    return settings.jwt_ttl_seconds + VERIFIER_LEEWAY_SECONDS + CLOCK_MARGIN_SECONDS


class RevokedSessions:
    """Session ids revoked lately, each kept until no token of its session can still be valid."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []

    def revoke(self, session: str, *, until: float) -> None:
        """Refuse ``session`` until the epoch second ``until`` (a later revocation of it only extends this)."""
        self._forget_expired()
        if until <= self._clock() or until <= self._until.get(session, 0.0):
            return
        self._until[session] = until
        heapq.heappush(self._expiry, (until, session))

    def is_revoked(self, session: str) -> bool:
        """True while ``session`` is revoked and a token of it could still be valid."""
        until = self._until.get(session)
        return until is not None and self._clock() < until

    def __len__(self) -> int:
        self._forget_expired()
        return len(self._until)

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._expiry and self._expiry[0][0] <= now:
            until, session = heapq.heappop(self._expiry)
            if self._until.get(session) == until:
                del self._until[session]


_metrics_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, tuple[Gauge, Counter, Gauge]] = (
    weakref.WeakKeyDictionary()
)


def _metrics(registry: CollectorRegistry) -> tuple[Gauge, Counter, Gauge]:
    # One set per registry: the services of one process (tests) share it, told apart by their label.
    found = _metrics_by_registry.get(registry)
    if found is None:
        found = (
            Gauge("jinqiao_revocation_feed_up", "1 while the revocation feed follows the gateway's stream, else 0.",
                  ("service",), registry=registry),
            Counter("jinqiao_revocations_received_total", "SessionRevoked events applied by the revocation feed.",
                    ("service",), registry=registry),
            Gauge("jinqiao_revoked_sessions", "Sessions currently known to be revoked.", ("service",),
                  registry=registry),
        )
        _metrics_by_registry[registry] = found
    return found


class RevocationFeed:
    """The process's ordered consumer of SessionRevoked events, feeding a ``RevokedSessions``."""

    def __init__(
        self,
        *,
        broker: NatsBroker,
        revoked: RevokedSessions,
        service: str,
        replay_seconds: float,
        fetch_timeout: float = 2.0,
        retry_seconds: float = 1.0,
        inactive_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._broker = broker
        self._revoked = revoked
        self._service = service
        self._replay = replay_seconds
        self._fetch_timeout = fetch_timeout
        self._retry = retry_seconds
        self._inactive = inactive_seconds
        self._clock = clock
        up, received, known = _metrics(registry or telemetry.default_registry())
        self._up_gauge = up.labels(service)
        self._received = received.labels(service)
        self._known = known.labels(service)
        # None until the first attempt, so a feed that never comes up is reported too.
        self._up: bool | None = None
        self._caught_up = asyncio.Event()
        self._next_sequence: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.applied = 0

    @property
    def up(self) -> bool:
        """Whether the feed currently follows the stream."""
        return bool(self._up)

    async def start(self, *, wait_seconds: float = 10.0) -> None:
        """Start following; wait (bounded) until the replay has caught up, so a fresh process knows past revocations."""
        self._up_gauge.set(0)
        self._task = asyncio.create_task(self._run(), name=f"revocation-feed-{self._service}")
        try:
            await asyncio.wait_for(self._caught_up.wait(), timeout=wait_seconds)
        except TimeoutError:
            log.warning("撤销通知尚未追上，先以已知信息服务 / revocation feed not caught up after %.0fs; serving with "
                        "what it knows", wait_seconds)

    async def stop(self) -> None:
        """Stop following (the ephemeral consumer is removed by the server once inactive)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._up = False
        self._up_gauge.set(0)

    async def _run(self) -> None:
        while True:
            sub: Any = None
            try:
                js = self._broker.config.connection_state.stream
                sub = await js.pull_subscribe(REVOCATION_SUBJECT, stream=ev.stream_name(REVOCATION_SOURCE),
                                              config=self._consumer_config())
                if (await sub.consumer_info()).num_pending == 0:
                    self._caught_up.set()
                self._set_up(True)
                await self._follow(sub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker away, stream missing, consumer gone: keep what is known, retry from where we were.
                self._set_up(False, reason=type(exc).__name__)
                await asyncio.sleep(self._retry)
            finally:
                if sub is not None:
                    with suppress(Exception):
                        await sub.unsubscribe()

    def _consumer_config(self) -> ConsumerConfig:
        # What an ordered consumer is: no acks, one delivery, in memory, one replica; resumed by stream sequence.
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, max_deliver=1, mem_storage=True, num_replicas=1,
                                inactive_threshold=self._inactive)
        if self._next_sequence is None:
            config.deliver_policy = DeliverPolicy.BY_START_TIME
            config.opt_start_time = datetime.fromtimestamp(self._clock() - self._replay, tz=UTC)
        else:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self._next_sequence
        return config

    async def _follow(self, sub: Any) -> None:
        while True:
            try:
                messages = await sub.fetch(batch=64, timeout=self._fetch_timeout)
            except TimeoutError:
                # Nothing new: ask for the consumer, which fails if the broker or the consumer went away.
                await sub.consumer_info()
                self._caught_up.set()
                self._set_up(True)
                continue
            for message in messages:
                self._apply(message.data)
                self._next_sequence = message.metadata.sequence.stream + 1
                if message.metadata.num_pending == 0:
                    self._caught_up.set()
            self._set_up(True)

    def _apply(self, data: bytes) -> None:
        try:
            event = SessionRevoked.FromString(data)
        except DecodeError:
            log.warning("ignored a SessionRevoked that does not decode")
            return
        if not event.session_id:
            return
        if event.HasField("expires_at"):
            until = event.expires_at.ToMicroseconds() / 1_000_000
        else:
            until = event.revoked_at.ToMicroseconds() / 1_000_000 + self._replay
        self._revoked.revoke(event.session_id, until=until + CLOCK_MARGIN_SECONDS)
        self.applied += 1
        self._received.inc()
        self._known.set(len(self._revoked))

    def _set_up(self, up: bool, *, reason: str = "") -> None:
        # Logged on a change only: an outage is one line, not one per retry.
        if up and self._up is not True:
            log.info("撤销通知已连接 / revocation feed following")
        elif not up and self._up is not False:
            log.warning("撤销通知中断，以已知的撤销继续服务 / revocation feed down (%s); serving with the "
                        "revocations already known", reason)
        self._up = up
        self._up_gauge.set(1 if up else 0)
