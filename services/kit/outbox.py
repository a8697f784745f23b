"""The outbox relay: publishes committed events with ``Nats-Msg-Id``, marks them sent after the PubAck."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import asyncpg
from faststream.nats import NatsBroker

from jinqiao.kit import events as ev
from jinqiao.kit import telemetry
from jinqiao.kit.broker import Backoff

log = logging.getLogger("jinqiao.outbox")

# One relay per database publishes at a time; others stand by (scaled-out replicas).
_RELAY_LOCK = "SELECT pg_try_advisory_lock(hashtextextended('jinqiao.outbox.relay', 0))"
# Commits of a process whose relay stands by reach the relay holding the lock (another process) on this channel.
CHANNEL = "jinqiao_outbox"
# One NOTIFY for any number of commits: it carries nothing, so it need not wait for its own WAL flush. (A trigger
# on the outbox would NOTIFY inside every writing transaction, and PostgreSQL serialises the commits of notifying
# transactions on one lock, fsync included: measured, it halved concurrent commits.)
_NOTIFY = f"BEGIN; SET LOCAL synchronous_commit TO off; SELECT pg_notify('{CHANNEL}', ''); COMMIT"


class OutboxRelay:
    """Background task draining the outbox county by county in turn; rows left behind are retried on every pass.

    A pass runs when a commit wrote outbox rows, whichever process made it: ``wake`` is called after each such
    commit; the relay holding the lock then drains at once, and a relay standing by passes the wake-up on with one
    NOTIFY that the holder LISTENs for. ``poll_seconds`` is only the safety net (a commit from a process without a
    relay, a NOTIFY lost with a connection).
    """

    def __init__(
        self,
        *,
        dsn: str,
        broker: NatsBroker,
        service: str,
        batch: int = 256,
        poll_seconds: float = 1.0,
        publish_timeout: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._dsn = dsn
        self._broker = broker
        self._stream = ev.stream_name(service)
        self._batch = batch
        self._poll = poll_seconds
        self._timeout = publish_timeout
        # After a failed pass: capped and jittered, so relays of every service do not hammer a returning dependency.
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._failures = 0
        self._stuck: BaseException | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.holds_lock = False  # whether this relay is the one publishing (the others stand by)

    @property
    def batch(self) -> int:
        """How many rows a pass reads and publishes at most."""
        return self._batch

    def wake(self) -> None:
        """Ask for a pass now (called after a commit that wrote outbox rows): here, or by the relay holding the lock."""
        self._wake.set()

    def start(self) -> None:
        """Start the relay loop."""
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._stream}")

    async def stop(self) -> None:
        """Stop after the current pass."""
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                await self._stand_by(conn)
                # Commits of other processes (replicas, consumers elsewhere) wake the relay through their NOTIFY.
                await conn.add_listener(CHANNEL, self._notified)
                self.holds_lock = True
                while True:
                    # Cleared before the pass reads, so a commit landing during the pass is not forgotten: the
                    # wait below then returns at once instead of after the poll.
                    self._wake.clear()
                    sent = await self.drain_once(conn)
                    if self._stuck is not None:
                        await self._failed(self._stuck)
                        continue
                    self._recovered()
                    if sent < self._batch:
                        with suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Database or broker down: keep the rows, back off, retry them later.
                await self._failed(exc)
            finally:
                # The session's lock goes with its connection.
                self.holds_lock = False
                if conn is not None:
                    with suppress(Exception):
                        await conn.close()

    async def _stand_by(self, conn: asyncpg.Connection) -> None:
        """Wait for the lock; meanwhile pass this process's commits on to the relay that holds it."""
        loop = asyncio.get_running_loop()
        tried = float("-inf")
        while True:
            # Polling the database lock (every poll_seconds): no event can say when another relay lets go.
            if loop.time() - tried >= self._poll:
                if await conn.fetchval(_RELAY_LOCK):
                    return
                tried = loop.time()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(tried + self._poll - loop.time(), 0.0))
            if self._wake.is_set():
                # Cleared before the NOTIFY: commits made while it is on its way send one more, never none.
                self._wake.clear()
                await conn.execute(_NOTIFY)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _failed(self, exc: BaseException) -> None:
        # One line when an outage starts, not one per pass; then a wait that grows, with jitter.
        self._failures += 1
        if self._failures == 1:
            log.warning("发件箱转发失败，将退避重试 / outbox relay of %s failing (%s); retrying with back-off",
                        self._stream, type(exc).__name__)
        await asyncio.sleep(self._backoff.delay(self._failures))

    def _recovered(self) -> None:
        # One line when an outage ends, not one per pass.
        if self._failures:
            log.info("发件箱转发已恢复 / outbox relay of %s recovered after %d failed passes", self._stream,
                     self._failures)
            self._failures = 0

    async def drain_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of unsent rows; return how many were confirmed and marked sent."""
        self._stuck = None
        rows = await conn.fetch("SELECT * FROM outbox_pending_all_tenants($1)", self._batch)
        if not rows:
            return 0
        # Publishes of a batch are in flight together; per-aggregate order is kept by event versions.
        results = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
        acked = [row["id"] for row, result in zip(rows, results, strict=True) if result is None]
        failed = len(rows) - len(acked)
        # Rows are marked only after their PubAck; a crash before this re-sends them, and the
        # stream's Nats-Msg-Id window plus the consumers' inbox absorb the duplicate.
        if acked:
            await conn.fetchval("SELECT outbox_mark_sent_all_tenants($1::bigint[])", acked)
            self.published += len(acked)
        # Nothing went through: the broker is away (or refuses), so the loop backs off instead of polling.
        self._stuck = next((r for r in results if isinstance(r, BaseException)), None) if not acked else None
        if failed and acked:
            log.warning("outbox relay: %d of %d publishes not acknowledged; will retry", failed, len(rows))
        return len(acked)

    async def _publish(self, row: asyncpg.Record) -> None:
        headers = ev.headers_for(
            event_id=str(row["event_id"]), event_type=row["event_type"], event_version=row["event_version"],
            tenant=row["tenant_id"], traceparent=row["traceparent"],
        )
        with telemetry.start_producer_span(f"publish {row['event_type']}", traceparent=row["traceparent"]):
            # The consumer's span then hangs under this PRODUCER span, still in the request's trace.
            telemetry.inject_headers(headers)
            # nats-py's JetStream publish itself: FastStream's wrapper added a third to each publish's cost and only
            # headers (content-type, correlation id) that no consumer reads. Returns on the PubAck; raises otherwise.
            await self._broker.config.connection_state.stream.publish(
                row["subject"], bytes(row["payload"]), timeout=self._timeout, stream=self._stream, headers=headers
            )
