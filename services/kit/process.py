"""Running a service process: settings, telemetry, pool, broker, relay and gRPC wired once for all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import grpc
from faststream.nats import NatsBroker

from jinqiao.kit import broker as kit_broker
from jinqiao.kit import catalog, deadletters, grpcserver, health, lifecycle, retention, telemetry
from jinqiao.kit.auth import TokenVerifier
from jinqiao.kit.db import Database
from jinqiao.kit.outbox import OutboxRelay
from jinqiao.kit.revocation import RevocationFeed, RevokedSessions, replay_seconds
from jinqiao.kit.settings import KitSettings

Register = Callable[[grpc.aio.Server], None]


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """The shared parts a service's ``setup`` wires its servicers and consumers to."""

    settings: KitSettings
    db: Database
    broker: NatsBroker
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)

    def run_in_background(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a loop (e.g. policy timers) while the service serves; it is cancelled on stop."""
        self.background.append(loop)

    def subscribe(self, *subscriptions: kit_broker.Subscription) -> None:
        """Register durable consumers over the service's pool, with its redelivery policy."""
        for s in subscriptions:
            kit_broker.subscribe(self.broker, db=self.db, consumer=s.consumer, source_service=s.source, event=s.event,
                                 handler=s.handler, retry=self.retry_policy(), route=s.route)

    def retry_policy(self) -> kit_broker.RetryPolicy:
        """The consumers' redelivery policy from settings."""
        return kit_broker.RetryPolicy(
            max_deliver=self.settings.consumer_max_deliver, ack_wait=self.settings.consumer_ack_wait_seconds
        )


Setup = Callable[[ServiceContext], Awaitable[Sequence[Register]]]


@dataclass
class RunningService:
    """A started service: its gRPC server, pool, broker and relay, stopped in the right order."""

    name: str
    app: grpcserver.GrpcApp
    db: Database
    broker: NatsBroker
    relay: OutboxRelay | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    revocations: RevocationFeed | None = None

    @property
    def port(self) -> int:
        """The bound gRPC port."""
        return self.app.port

    async def stop(self) -> None:
        """Drain gRPC calls, then background loops, the relay, the broker and the pool."""
        await self.app.stop()
        for task in self.tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if self.revocations is not None:
            await self.revocations.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.broker.stop()
        await self.db.close()


async def start_service(
    settings: KitSettings,
    *,
    service: str,
    service_names: Sequence[str],
    produces_events: bool,
    setup: Setup,
) -> RunningService:
    """Open the pool and broker, let ``setup`` wire the service, start consumers and gRPC."""
    # A bad retention policy stops the process before it serves, naming the kind (not hours later, at the first run).
    lifecycle.load_policy(settings)
    telemetry.instrument()
    db = await Database.connect(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    broker = kit_broker.build_broker(url=settings.nats_url, name=service, user=settings.nats_user,
                                     password=settings.nats_password.get_secret_value())
    await broker.connect()
    relay: OutboxRelay | None = None
    if produces_events:
        await kit_broker.ensure_stream(broker, service=service)
        relay = OutboxRelay(dsn=settings.database_url, broker=broker, service=service,
                            batch=settings.relay_batch, poll_seconds=settings.relay_poll_seconds)
        db.on_outbox_commit(relay.wake)
        relay.start()
    ctx = ServiceContext(settings=settings, db=db, broker=broker)
    registers = await setup(ctx)
    if deadletters.serves(service):
        registers = [*registers, deadletters.register(db=db, broker=broker)]
    await broker.start()
    # Revoked sessions are known (replayed) before the first call is served, and followed while it serves.
    revoked = RevokedSessions()
    revocations = RevocationFeed(broker=broker, revoked=revoked, service=service,
                                 replay_seconds=replay_seconds(settings))
    await revocations.start()
    app = await grpcserver.start_server(
        verifier=TokenVerifier.from_settings(settings, revocations=revoked), service_names=service_names,
        register=registers, host=settings.host, port=settings.grpc_port, service=service,
        client_limiter=grpcserver.ClientRateLimiter.from_settings(settings),
        tls=grpcserver.ServerTls.from_settings(settings), internal=grpcserver.InternalPort.from_settings(settings),
    )
    tasks = [asyncio.create_task(loop(), name=f"{service}-background") for loop in ctx.background]
    tasks.extend(await _watch_and_prune(settings, service=service, db=db, broker=broker, app=app))
    return RunningService(name=service, app=app, db=db, broker=broker, relay=relay, tasks=tasks,
                          revocations=revocations)


async def _watch_and_prune(settings: KitSettings, *, service: str, db: Database, broker: NatsBroker,
                           app: grpcserver.GrpcApp) -> list[asyncio.Task[None]]:
    """Readiness probes driving gRPC health (probed once before returning), and the retention schedule."""
    readiness = health.Readiness(
        service=service, interval=settings.readiness_interval_seconds, listener=app.report_dependencies,
        checks={health.POSTGRESQL: health.database_check(db, timeout=settings.readiness_timeout_seconds),
                health.NATS: health.broker_check(broker)},
    )
    await readiness.probe()
    tasks = [asyncio.create_task(readiness.run(), name=f"{service}-readiness")]
    if settings.retention_interval_seconds > 0:
        tasks.append(asyncio.create_task(retention.run_pruning(
            db, policy=retention.RetentionPolicy.from_settings(settings),
            interval=settings.retention_interval_seconds, service=service), name=f"{service}-retention"))
    return tasks


async def serve(
    settings: KitSettings,
    *,
    service: str,
    service_names: Sequence[str],
    produces_events: bool,
    setup: Setup,
) -> None:
    """Start the service, serve until SIGTERM or SIGINT, stop in order."""
    log = telemetry.get_logger(f"jinqiao.{service}")
    running = await start_service(
        settings, service=service, service_names=service_names, produces_events=produces_events, setup=setup
    )
    probes = start_probes(settings, running.app)
    log.info("serving", port=running.port, internal_port=running.app.internal_port)
    try:
        await grpcserver.wait_for_shutdown_signal()
    finally:
        # The app's stop turns health NOT_SERVING first, so /readyz says 503 while calls drain.
        await running.stop()
        if probes is not None:
            probes.stop()
        log.info("stopped")


def start_probes(settings: KitSettings, app: grpcserver.GrpcApp) -> telemetry.ProbeServer | None:
    """The metrics port (``metrics_port``, 0 none) with the app's liveness and readiness; on the running loop."""
    live, ready = app.http_probes()
    return telemetry.start_metrics_server(port=settings.metrics_port, host=settings.host, live=live, ready=ready)


def run_service(main: Callable[[KitSettings], Coroutine[Any, Any, None]], *, service: str) -> None:
    """Read settings, configure telemetry, run ``main`` on uvloop."""
    settings = KitSettings(service_name=service)
    telemetry.configure_logging(service=service, level=settings.log_level, json=settings.log_json)
    telemetry.configure_tracing(service=service)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(settings))
    else:
        uvloop.run(main(settings))


def run_catalogued(*, service: str, setup: Setup) -> None:
    """Run a catalogued gRPC service as its own process: its gRPC name and outbox come from the catalogue."""
    entry = catalog.get(service)
    if entry.proto_service is None:
        raise ValueError(f"{service} serves no gRPC service in services/catalog.toml")
    names = [entry.proto_service]

    async def main(settings: KitSettings) -> None:
        await serve(settings, service=service, service_names=names, produces_events=entry.produces_events,
                    setup=setup)

    run_service(main, service=service)
