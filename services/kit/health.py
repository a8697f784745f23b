"""Readiness that tells the truth (issue 11, finding 5): the dependencies are probed, and health follows them.

A service is ready while its database answers ``SELECT 1`` and its broker connection is up. gRPC health reports
the overall state under "" and each dependency under its own name (``jinqiao.dependency.postgresql``,
``jinqiao.dependency.nats``); the gateway's ``GET /readyz`` answers from the same probes. A dependency going away
is logged once as a WARNING and its return once as INFO; the probes themselves log nothing.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, Gauge

from jinqiao.kit import telemetry
from jinqiao.kit.db import Database

log = logging.getLogger("jinqiao.health")

POSTGRESQL = "postgresql"
NATS = "nats"
# The gRPC health service names of the dependencies (``jinqiao status`` reads them by these names).
HEALTH_PREFIX = "jinqiao.dependency."
NAMES = {POSTGRESQL: "数据库（PostgreSQL）", NATS: "消息总线（NATS）"}

Check = Callable[[], Awaitable[bool]]
Listener = Callable[[Mapping[str, bool]], Awaitable[None]]


def health_name(dependency: str) -> str:
    """The gRPC health service name of a dependency, e.g. ``jinqiao.dependency.postgresql``."""
    return f"{HEALTH_PREFIX}{dependency}"


def database_check(db: Database, *, timeout: float = 1.0) -> Check:
    """True while a pooled connection answers ``SELECT 1`` within ``timeout`` seconds."""

    async def check() -> bool:
        async def ask() -> Any:
            async with db.pool.acquire(timeout=timeout) as conn:
                return await conn.fetchval("SELECT 1", timeout=timeout)

        try:
            return bool(await asyncio.wait_for(ask(), timeout=timeout * 2) == 1)
        except asyncio.CancelledError:
            raise
        except Exception:
            return False

    return check


def broker_check(broker: Any) -> Check:
    """True while the FastStream broker's NATS connection is up (nats-py ``is_connected``)."""

    async def check() -> bool:
        try:
            return bool(broker.config.connection_state.connection.is_connected)
        except Exception:
            # Not connected yet, or closed: FastStream raises instead of answering.
            return False

    return check


def grpc_check(channel: grpc.aio.Channel, *, timeout: float = 1.0) -> Check:
    """True while a gRPC service answers overall health ("") SERVING: its own dependencies are up too."""
    stub: Any = health_pb2_grpc.HealthStub(channel)  # the generated stub is untyped for mypy

    async def check() -> bool:
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


_gauges: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


def _gauge(registry: CollectorRegistry) -> Gauge:
    found = _gauges.get(registry)
    if found is None:
        found = _gauges[registry] = Gauge("jinqiao_dependency_up", "1 while the dependency answers its probe, else 0.",
                                          ("service", "dependency"), registry=registry)
    return found


class Readiness:
    """Probes the dependencies, remembers the last answer of each, and tells a listener when any changes."""

    def __init__(self, *, service: str, checks: Mapping[str, Check], interval: float = 2.0,
                 listener: Listener | None = None, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self._checks = dict(checks)
        self._interval = interval
        self._listener = listener
        self._gauge = _gauge(registry or telemetry.default_registry())
        # Assumed present until a probe says otherwise: the first probe logs only what is away.
        self.state: dict[str, bool] = dict.fromkeys(self._checks, True)
        self._probed = False

    @property
    def ready(self) -> bool:
        """True while every dependency answered its last probe."""
        return all(self.state.values())

    def away(self) -> list[str]:
        """The dependencies that did not answer their last probe."""
        return [name for name, up in self.state.items() if not up]

    async def probe(self) -> dict[str, bool]:
        """Probe every dependency at once, log what changed, tell the listener; the new state."""
        names = list(self._checks)
        answers = await asyncio.gather(*(self._checks[name]() for name in names))
        previous, self.state = self.state, dict(zip(names, answers, strict=True))
        for name, up in self.state.items():
            self._gauge.labels(self.service, name).set(1 if up else 0)
            if up == previous.get(name) and self._probed:
                continue
            if not up:
                log.warning("%s 不可用 / %s is unavailable: %s is not ready", NAMES.get(name, name), name,
                            self.service)
            elif self._probed:
                log.info("%s 已恢复 / %s is back: %s", NAMES.get(name, name), name, self.service)
        self._probed = True
        if self._listener is not None:
            await self._listener(self.state)
        return dict(self.state)

    async def run(self) -> None:
        """Probe every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A listener that failed once (e.g. health during shutdown) must not end the probing.
                log.debug("readiness probe of %s failed", self.service, exc_info=True)
