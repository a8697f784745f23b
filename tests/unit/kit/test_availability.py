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
