"""asyncpg pool, and the unit of work: one transaction, the tenant set inside it, one commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import asyncpg

from jinqiao.kit.tenancy import parse_scope, parse_tenant

_INSERT_OUTBOX = (
    "INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload, traceparent)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)

# The audit row, appended in the statement that commits the unit of work's writes: ``audit_chain_head`` takes the
# tenant's chain lock and reads the head under it (a volatile plpgsql function, so its read has a snapshot taken
# after the lock: the head another transaction committed while we waited is seen), then the row is stamped and
# hashed here. The hash is audit.chain_hash's: SHA-256 over the previous hash and the canonical JSON of the row,
# whose only parts known here rather than in Python (seq and the time) are spliced between the body's two halves.
# The lock is held from this statement to the COMMIT that follows it: one round trip instead of four.
_AUDIT_ISO = ("to_char(s.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE to_char(s.at AT TIME ZONE 'UTC',"
              " 'US') WHEN '000000' THEN '' ELSE '.' || to_char(s.at AT TIME ZONE 'UTC', 'US') END || '+00:00'")
_AUDIT_CTES = (
    "head AS MATERIALIZED (SELECT h.seq, h.hash FROM audit_chain_head($1) h),"
    " stamp AS MATERIALIZED (SELECT coalesce(h.seq, 0) + 1 AS seq, coalesce(h.hash, $11::bytea) AS prev,"
    " clock_timestamp() AS at FROM (VALUES (1)) one LEFT JOIN head h ON true)"
)
_AUDIT_INSERT = (
    " INSERT INTO audit_log (tenant_id, seq, at, actor, role, action, object_type, object_id, reason, trace_id,"
    " prev_hash, hash) SELECT $1, s.seq, s.at, $4, $5, $6, $7, $8, $9, $10, s.prev,"
    f" sha256(s.prev || $2::bytea || convert_to(s.seq::text || ',\"' || {_AUDIT_ISO} || '\"', 'UTF8') || $3::bytea)"
    " FROM stamp s"
)
_APPEND_AUDIT = f"WITH {_AUDIT_CTES}{_AUDIT_INSERT}"
_APPEND_AUDIT_AND_OUTBOX = (
    "WITH queued AS (INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload,"
    " traceparent) SELECT * FROM unnest($12::text[], $13::uuid[], $14::text[], $15::text[], $16::int[],"
    f" $17::bytea[], $18::text[])), {_AUDIT_CTES}{_AUDIT_INSERT}"
)
GENESIS = b"\x00" * 32


@dataclass(slots=True)
class PendingEvent:
    """An event recorded by a use case; written to the outbox in the same transaction."""

    event_id: str
    tenant_id: str
    subject: str
    event_type: str
    event_version: int
    payload: bytes
    traceparent: str | None


class Database:
    """A pool of connections as the service's app role (no owner rights, subject to RLS)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._after_commit: list[Callable[[], None]] = []

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 10) -> Database:
        """Open the pool; the DSN names the app role, never the owner or a superuser."""
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def close(self) -> None:
        """Close every connection, waiting for borrowed ones to come back."""
        await asyncio.wait_for(self.pool.close(), timeout=10)

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        """Register a callback run after a commit that wrote outbox rows (wakes the relay)."""
        self._after_commit.append(callback)

    def outbox_committed(self) -> None:
        """Say that a commit wrote outbox rows (wakes the relay); units of work call it themselves."""
        for callback in self._after_commit:
            callback()

    def unit_of_work(self, *, tenant: str) -> UnitOfWork:
        """A transaction acting on one county; RLS shows it nothing else."""
        return UnitOfWork(self, setting="app.tenant", value=parse_tenant(tenant))

    def unit_of_work_in_scope(self, *, scope: str) -> UnitOfWork:
        """A transaction on rows keyed by a scope code rather than a county (e.g. province accounts)."""
        return UnitOfWork(self, setting="app.tenant", value=parse_scope(scope))

    def scope_reader(self, *, scope: str) -> UnitOfWork:
        """A read-only transaction over a province, city or county prefix (aggregate tables only)."""
        return UnitOfWork(self, setting="app.scope", value=parse_scope(scope), readonly=True)


@dataclass(slots=True)
class UnitOfWork:
    """``async with db.unit_of_work(tenant=…) as uow: …; await uow.commit()`` — commits once or rolls back."""

    db: Database
    setting: str
    value: str
    readonly: bool = False
    events: list[PendingEvent] = field(default_factory=list)
    audits: list[tuple[Any, ...]] = field(default_factory=list)
    _conn: Any = None
    _committed: bool = False

    @property
    def conn(self) -> asyncpg.Connection:
        """The transaction's connection, for repositories."""
        return self._conn

    @property
    def tenant(self) -> str:
        """The county this unit of work acts on."""
        return self.value

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self.db.pool.acquire()
        try:
            # One round trip: BEGIN and the transaction-local setting (set_config(..., true) dies with the
            # transaction, so the pool can never leak a tenant). The value is safe to inline: parse_tenant and
            # parse_scope admitted only ASCII digits, and the setting name is one of two constants.
            mode = "READ ONLY" if self.readonly else "READ WRITE"
            await self._conn.execute(f"BEGIN {mode}; SELECT set_config('{self.setting}', '{self.value}', true)")
        except BaseException:
            # A connection that could not even begin is not trusted again (see ``__aexit__``).
            self._conn.terminate()
            raise
        return self

    def add_event(self, event: PendingEvent) -> None:
        """Queue an event; it is written to the outbox by ``commit`` in this transaction."""
        if event.tenant_id != self.value:
            raise ValueError("an event must belong to the unit of work's tenant")
        self.events.append(event)

    def append_audit(self, row: tuple[Any, ...]) -> None:
        """Queue an audit row (audit.record builds it); ``commit`` appends it to the tenant's chain, in order."""
        self.audits.append(row)

    async def commit(self) -> None:
        """Write queued outbox rows and commit, once."""
        if self._committed:
            raise RuntimeError("a unit of work commits once")
        await self._write_outbox_and_commit()
        self._committed = True
        if self.events:
            self.db.outbox_committed()

    async def _write_outbox_and_commit(self) -> None:
        if self.audits:
            await self._append_audits_and_outbox()
            await self._conn.execute("COMMIT")
            return
        rows = [(e.tenant_id, e.event_id, e.subject, e.event_type, e.event_version, e.payload, e.traceparent)
                for e in self.events]
        if len(rows) == 1:
            await self._conn.execute(_INSERT_OUTBOX, *rows[0])
        elif rows:
            await self._conn.executemany(_INSERT_OUTBOX, rows)
        await self._conn.execute("COMMIT")

    async def _append_audits_and_outbox(self) -> None:
        # The chain lock is taken last, by the statement just before COMMIT, so it is held for one round trip.
        first, *rest = self.audits
        if self.events:
            events = self.events
            await self._conn.execute(
                _APPEND_AUDIT_AND_OUTBOX, *first, GENESIS, [e.tenant_id for e in events], [e.event_id for e in events],
                [e.subject for e in events], [e.event_type for e in events], [e.event_version for e in events],
                [e.payload for e in events], [e.traceparent for e in events])
        else:
            await self._conn.execute(_APPEND_AUDIT, *first, GENESIS)
        for row in rest:
            await self._conn.execute(_APPEND_AUDIT, *row, GENESIS)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            if isinstance(exc, asyncio.CancelledError):
                # Cancelled mid-query (a caller's deadline): the protocol may still be inside that query.
                self._conn.terminate()
                return
            try:
                await self._conn.execute("ROLLBACK")
            except Exception:
                # A connection that cannot roll back (dropped by an outage, or left mid-operation) never goes back
                # to the pool: closed (asyncpg frees its pool slot), a fresh one replaces it, and the transaction
                # dies with it. The caller keeps its own exception, or its read, as if the rollback had run.
                self._conn.terminate()
                return
        with contextlib.suppress(Exception):
            # If asyncpg's reset on release fails, it closes the connection itself; the work is already done.
            await self.db.pool.release(self._conn)
