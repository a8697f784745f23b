"""Bounded growth (issue 11, finding 6): stream limits, and sent outbox and inbox rows pruned on a schedule.

Why pruning keeps the no-duplicate guarantee (the inbox horizon):
- A stream keeps a message at most ``stream_max_age`` (7 days by default); older ones no longer exist in the
  stream, so they can never be redelivered to be checked against the inbox.
- An inbox row is written when its message is processed, which is after it was published; it is kept
  ``stream_max_age`` plus a margin (1 day by default), so it outlives every copy of its message in the stream.
- The relay re-publishes an outbox row only while the row is pending; a sent row is never published again, so
  pruning sent rows cannot bring an event back. The margin also covers a copy re-published after the first one
  was processed (a row left pending by a PubAck lost in an outage, up to a day).
- Dead letters are never pruned here: operators replay or keep them (the province's policy prunes them after its
  period, kit/lifecycle.py).

The province's retention policy (kit/lifecycle.py, deploy/retention.toml) is loaded with these settings: its
``outbox_sent`` period wins over ``outbox_retention_seconds``, and its optional ``inbox_processed`` may only lengthen
the inbox horizon (a shorter one is refused at start). The records job runs within this pass, on its own schedule.

A full stream (``stream_max_bytes``) refuses new messages (DiscardPolicy.NEW) instead of dropping unconsumed
ones; the relay then keeps its rows pending until there is room again: backpressure, never silent loss.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from jinqiao.kit import lifecycle
from jinqiao.kit.db import Database
from jinqiao.kit.settings import KitSettings

log = logging.getLogger("jinqiao.retention")

# The SECURITY DEFINER functions (kit/migrations.py create_retention) through which pruning crosses counties.
OUTBOX_PRUNE = "outbox_prune_sent_all_tenants"
INBOX_PRUNE = "inbox_prune_all_tenants"
# One replica of a service prunes at a time; advisory locks are per database, so services never contend.
_LOCK_KEY = "hashtextextended('jinqiao.retention', 0)"
# Keep each DELETE small: a batch holds row locks and WAL for a moment only, never a long transaction.
MAX_BATCH = 5000


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How much a producer's stream may hold: by age (seconds) and by size (bytes)."""

    max_age: float = 7 * 86400.0
    max_bytes: int = 1024**3

    @classmethod
    def from_settings(cls, settings: KitSettings) -> StreamLimits:
        """The limits ``JINQIAO_STREAM_MAX_AGE_SECONDS`` and ``JINQIAO_STREAM_MAX_BYTES`` configure."""
        return cls(max_age=settings.stream_max_age_seconds, max_bytes=settings.stream_max_bytes)

    @classmethod
    def configured(cls) -> StreamLimits:
        """The limits of this process's environment (every process the runner starts sees the same)."""
        return cls.from_settings(KitSettings())


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long sent outbox rows and inbox rows are kept, and how many rows one statement deletes."""

    outbox: timedelta = timedelta(days=1)
    inbox_horizon: timedelta = timedelta(days=8)
    batch: int = MAX_BATCH
    # The province's policy of records (None: no records job, e.g. tests that build a policy by hand).
    records: lifecycle.LifecyclePolicy | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"retention batch must be 1..{MAX_BATCH}, not {self.batch}")

    @classmethod
    def from_settings(cls, settings: KitSettings) -> RetentionPolicy:
        """Built from the retention settings and the province's policy file (refused when invalid: PolicyError).

        The policy's outbox_sent period wins over ``outbox_retention_seconds``; the inbox horizon is the stream's
        max_age plus the margin, or the policy's longer inbox_processed (never shorter: parse_policy refuses it).
        """
        records = lifecycle.load_policy(settings)
        outbox = records.get("outbox_sent")
        inbox = records.get("inbox_processed")
        return cls(outbox=outbox.period if outbox else timedelta(seconds=settings.outbox_retention_seconds),
                   inbox_horizon=max(inbox_horizon(settings), inbox.period if inbox else timedelta(0)),
                   batch=settings.retention_batch, records=records)


def inbox_horizon(settings: KitSettings) -> timedelta:
    """Stream max_age + margin: an inbox row outlives every copy of its message in the stream."""
    return timedelta(seconds=settings.stream_max_age_seconds + settings.inbox_horizon_margin_seconds)


@dataclass(frozen=True, slots=True)
class PruneReport:
    """Rows one pass deleted; ``ran`` is False when another replica held the lock."""

    outbox: int = 0
    inbox: int = 0
    ran: bool = True


async def prune_once(db: Database, *, policy: RetentionPolicy) -> PruneReport:
    """One pass: delete in batches until nothing is left to prune, under the database's retention lock."""
    async with db.pool.acquire() as conn:
        if not await conn.fetchval(f"SELECT pg_try_advisory_lock({_LOCK_KEY})"):
            return PruneReport(ran=False)
        try:
            present = set(await conn.fetchval(
                "SELECT coalesce(array_agg(proname::text), '{}') FROM pg_proc"
                " WHERE pronamespace = 'public'::regnamespace AND proname = ANY($1::text[])",
                [OUTBOX_PRUNE, INBOX_PRUNE]))
            outbox = await _drain(conn, OUTBOX_PRUNE, policy.outbox, policy.batch) if OUTBOX_PRUNE in present else 0
            inbox = (await _drain(conn, INBOX_PRUNE, policy.inbox_horizon, policy.batch)
                     if INBOX_PRUNE in present else 0)
        finally:
            await conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
    return PruneReport(outbox=outbox, inbox=inbox)


async def _drain(conn: asyncpg.Connection, function: str, older_than: timedelta, batch: int) -> int:
    total = 0
    while True:
        # Each call is its own statement and transaction (autocommit): locks are held for one batch only.
        deleted = int(await conn.fetchval(f"SELECT {function}($1::interval, $2::integer)", older_than, batch))
        total += deleted
        if deleted < batch:
            return total


async def run_pruning(db: Database, *, policy: RetentionPolicy, interval: float, service: str) -> None:
    """Prune every ``interval`` seconds while the service runs; an unreachable database waits for the next pass.

    With a policy of records, the records job (kit/lifecycle.py) runs in the same loop when it is due.
    """
    schedule = lifecycle.Schedule(policy.records) if policy.records is not None else None
    while True:
        await asyncio.sleep(interval)
        try:
            report = await prune_once(db, policy=policy)
            if schedule is not None:
                await schedule.maybe_run(db, service=service)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The database away is readiness's news (kit/health.py logs it once); this pass waits for the next.
            log.debug("retention pass of %s skipped: %s", service, type(exc).__name__)
            continue
        if report.outbox or report.inbox:
            log.info("pruned %d sent outbox rows and %d inbox rows of %s", report.outbox, report.inbox, service)
