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


class OutboxRelay:
    """Background task draining the outbox in id order; rows left behind are retried on every pass."""

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

    def wake(self) -> None:
        """Ask for a pass now (called after a commit that wrote outbox rows)."""
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
                # Polling the database lock: no in-process event can say when another relay lets go.
                while not await conn.fetchval(_RELAY_LOCK):  # noqa: ASYNC110
                    await asyncio.sleep(self._poll)
                while True:
                    sent = await self.drain_once(conn)
                    if self._stuck is not None:
                        await self._failed(self._stuck)
                        continue
                    self._recovered()
                    if sent < self._batch:
                        self._wake.clear()
                        with suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Database or broker down: keep the rows, back off, retry them later.
                await self._failed(exc)
            finally:
                if conn is not None:
                    with suppress(Exception):
                        await conn.close()

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
            await self._broker.publish(
                bytes(row["payload"]), row["subject"], headers=headers, stream=self._stream, timeout=self._timeout
            )
