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

    async def commit(self) -> None:
        """Write queued outbox rows and commit, once."""
        if self._committed:
            raise RuntimeError("a unit of work commits once")
        await self._write_outbox_and_commit()
        self._committed = True
        if self.events:
            self.db.outbox_committed()

    async def _write_outbox_and_commit(self) -> None:
        rows = [(e.tenant_id, e.event_id, e.subject, e.event_type, e.event_version, e.payload, e.traceparent)
                for e in self.events]
        if len(rows) == 1:
            await self._conn.execute(_INSERT_OUTBOX, *rows[0])
        elif rows:
            await self._conn.executemany(_INSERT_OUTBOX, rows)
        await self._conn.execute("COMMIT")

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
