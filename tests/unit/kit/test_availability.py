"""Which failures mean the database (or the broker) is away (UNAVAILABLE / 503) and which are faults in the code."""

from __future__ import annotations

import asyncpg
import nats.errors
import pytest

from jinqiao.kit.availability import unavailable_dependency


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    ConnectionRefusedError(111, "Connect call failed"),
    TimeoutError(),
])
def test_a_database_that_is_away_is_named(exc):
    assert unavailable_dependency(exc) == "postgresql"


def test_the_cause_of_a_wrapped_failure_is_looked_at():
    try:
        try:
            raise ConnectionResetError(104, "reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("while reading members") from inner
    except RuntimeError as outer:
        assert unavailable_dependency(outer) == "postgresql"


@pytest.mark.parametrize("exc", [
    ValueError("bad"), KeyError("x"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
])
def test_a_fault_in_the_code_is_not_blamed_on_the_database(exc):
    assert unavailable_dependency(exc) is None


@pytest.mark.parametrize("exc", [
    nats.errors.ConnectionClosedError(), nats.errors.NoServersError(), nats.errors.NoRespondersError(),
    nats.errors.ConnectionReconnectingError(), nats.errors.TimeoutError(),
])
def test_a_broker_that_is_away_is_named(exc):
    # nats-py's timeout is also a builtin TimeoutError: it is the broker's, not the database's.
    assert unavailable_dependency(exc) == "nats"


def test_a_lost_socket_is_the_database_only_when_asyncpg_lost_it():
    import asyncpg.connect_utils as inside

    from jinqiao.kit import availability

    raised_by_asyncpg: ConnectionError | None = None
    try:
        exec(compile("raise ConnectionError('unexpected connection_lost() call')", inside.__file__, "exec"),
             vars(inside).copy() | {"__name__": "asyncpg.connect_utils"})
    except ConnectionError as exc:
        raised_by_asyncpg = exc
    assert raised_by_asyncpg is not None
    assert availability.unavailable_dependency(raised_by_asyncpg) == availability.POSTGRESQL
    assert availability.unavailable_dependency(ConnectionError("a handler's own call failed")) is None
    left_mid_operation = asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2)")
    assert availability.unavailable_dependency(left_mid_operation) == availability.POSTGRESQL
