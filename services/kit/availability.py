"""Which failures mean a dependency is away (retry later) rather than a fault in the code (issue 11, finding 7).

A database that is down, restarting or out of connection slots answers UNAVAILABLE over gRPC and 503 with
Retry-After over HTTP, naming the dependency; anything else stays an internal error.
"""

from __future__ import annotations

import asyncpg
import nats.errors

# How long a client should wait before trying again; PostgreSQL's own restart takes a few seconds.
RETRY_AFTER_SECONDS = 5

POSTGRESQL = "postgresql"
NATS = "nats"
# The dependency's name as the user reads it.
NAMES = {POSTGRESQL: "数据库（PostgreSQL）", NATS: "消息总线（NATS）"}

_POSTGRES_AWAY = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08: the connection failed or was dropped
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)
# The broker's connection is away: closed, between reconnects, or no server answers on the subject.
_NATS_AWAY = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.TimeoutError,
)
# asyncpg reports a connection lost under an operation as an InterfaceError with one of these messages.
_CLOSED = ("connection is closed", "connection was closed", "pool is closing", "pool is closed")


def unavailable_dependency(exc: BaseException) -> str | None:
    """The dependency ``exc`` shows to be unreachable (``postgresql``, ``nats``), or None for any other failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _POSTGRES_AWAY):
            return POSTGRESQL
        # Before the builtin TimeoutError below: nats-py's timeout is one too.
        if isinstance(current, _NATS_AWAY):
            return NATS
        if isinstance(current, asyncpg.exceptions.InterfaceError) and any(m in str(current) for m in _CLOSED):
            return POSTGRESQL
        # A connection whose protocol was left mid-operation by a dropped socket (asyncpg's "cannot switch to
        # state …; another operation is in progress"): the unit of work discards it, and a retry gets a fresh one.
        if isinstance(current, asyncpg.exceptions.InternalClientError):
            return POSTGRESQL
        # Refused or reset sockets and a pool that cannot hand out a connection in time: the database is away.
        if isinstance(current, (ConnectionRefusedError, ConnectionResetError, TimeoutError)):
            return POSTGRESQL
        # Any other lost socket asyncpg itself raised ("unexpected connection_lost()"); one a handler raised for
        # something else stays that handler's failure.
        if isinstance(current, ConnectionError) and _raised_in(current, "asyncpg"):
            return POSTGRESQL
        current = current.__cause__ or current.__context__
    return None


def _raised_in(exc: BaseException, package: str) -> bool:
    """True when the exception was raised inside ``package`` (its innermost frame's module)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and (tb.tb_frame.f_globals.get("__name__") or "").startswith(f"{package}.")
