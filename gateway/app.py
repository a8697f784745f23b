"""The FastAPI application: routes, problem+json errors, health, and the console's static files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jinqiao.gateway import apidocs, idempotency, problems, routes, security, session
from jinqiao.gateway.clients import ServiceClients
from jinqiao.gateway.deps import Gateway, authorize
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import availability, catalog, health, retention, telemetry
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.auth import TokenIssuer, TokenVerifier
from jinqiao.kit.db import Database
from jinqiao.kit.outbox import OutboxRelay
from jinqiao.kit.revocation import RevocationFeed, RevokedSessions, replay_seconds

WEB = Path(__file__).parent / "web"


def create_app(settings: GatewaySettings) -> FastAPI:
    """Build the app; its parts are opened in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = await Database.connect(settings.database_url, min_size=1, max_size=settings.db_pool_max)
        # The gateway produces SessionRevoked (its outbox, relayed to its stream) and, like every service, follows
        # it: a revocation made by another replica is refused here too.
        broker = kit_broker.build_broker(url=settings.nats_url, name="gateway", user=settings.nats_user,
                                         password=settings.nats_password.get_secret_value())
        await broker.connect()
        await kit_broker.ensure_stream(broker, service="gateway")
        relay = OutboxRelay(dsn=settings.database_url, broker=broker, service="gateway",
                            batch=settings.relay_batch, poll_seconds=settings.relay_poll_seconds)
        db.on_outbox_commit(relay.wake)
        relay.start()
        revoked = RevokedSessions()
        feed = RevocationFeed(broker=broker, revoked=revoked, service="gateway",
                              replay_seconds=replay_seconds(settings))
        await feed.start()
        app.state.revoked_sessions = revoked
        clients = ServiceClients.from_settings(settings)
        # Readiness (GET /readyz): this process's database and broker, and each upstream service's own readiness.
        app.state.readiness = health.Readiness(service="gateway", checks={
            health.POSTGRESQL: health.database_check(db, timeout=settings.readiness_timeout_seconds),
            health.NATS: health.broker_check(broker),
            **{entry.name: health.grpc_check(channel, timeout=settings.readiness_timeout_seconds)
               for entry, channel in zip(catalog.grpc_services(), clients.channels, strict=True)},
        })
        app.state.gateway = Gateway(
            settings=settings, db=db, clients=clients, issuer=TokenIssuer.from_settings(settings),
            verifier=TokenVerifier.from_settings(settings, revocations=revoked),
        )
        # Sent SessionRevoked rows are pruned on the same schedule as every service's outbox (kit/retention.py).
        pruning = (asyncio.create_task(retention.run_pruning(
            db, policy=retention.RetentionPolicy.from_settings(settings),
            interval=settings.retention_interval_seconds, service="gateway"), name="gateway-retention")
            if settings.retention_interval_seconds > 0 else None)
        try:
            yield
        finally:
            if pruning is not None:
                pruning.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruning
            await clients.close()
            await feed.stop()
            await relay.stop()
            await broker.stop()
            await db.close()

    app = FastAPI(title="金桥 Jinqiao API", version="1", lifespan=lifespan, docs_url=None,
                  openapi_url="/api/openapi.json", redoc_url=None)
    problems.install(app)
    # Security headers, no-store on the API, the token before the body, bounded bodies (gateway/security.py).
    # Idempotency-Key on every unsafe method, inside the edge so the body it reads is already bounded
    # (gateway/idempotency.py; the last added middleware is the outermost).
    app.add_middleware(idempotency.IdempotencyMiddleware)
    app.add_middleware(security.EdgeMiddleware)
    apidocs.install(app)

    # A SERVER span per request continuing the caller's traceparent; gRPC calls made inside it carry it on.
    telemetry.instrument(app=app)

    # Every route passes the one authorization table (gateway/deps.py ROUTES → kit/authz.py) before it runs.
    for router in (session.router, *routes.all_routers()):
        app.include_router(router, dependencies=[Depends(authorize)])

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # Liveness is /healthz; this answers whether requests can be served now, probing every dependency.
        state = await app.state.readiness.probe()
        dependencies = {name: "ok" if up else "unavailable" for name, up in state.items()}
        away = [name for name, up in state.items() if not up]
        if not away:
            return JSONResponse({"status": "ok", "dependencies": dependencies})
        named = "、".join(health.NAMES.get(name, name) for name in away)
        return problems.problem(503, "服务未就绪 / not ready", f"{named}暂不可用 / unavailable: {', '.join(away)}",
                                headers={"Retry-After": str(availability.RETRY_AFTER_SECONDS)},
                                extra={"status": "unavailable", "dependencies": dependencies, "unavailable": away})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        # The kit's registry: process metrics and the revocation feed's (jinqiao_revocation_feed_up).
        return Response(generate_latest(telemetry.default_registry()), media_type=CONTENT_TYPE_LATEST)

    _serve_console(app)
    return app


class _HashedAssets(StaticFiles):
    """Vite names every asset by its content's hash: a browser may keep it for a year without asking again."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def _serve_console(app: FastAPI) -> None:
    """The built console (``make console`` → web/dist): hashed assets, and index.html for every page's address."""
    dist = WEB / "dist"
    app.mount("/assets", _HashedAssets(directory=dist / "assets", check_dir=False), name="assets")

    @app.get("/{page:path}", include_in_schema=False)
    async def console(page: str) -> Response:
        # The console's own addresses (/members/…) are history-mode routes: the page is always index.html. An
        # unknown API or asset path is a 404, never the page.
        if page.startswith(("api/", "assets/")):
            return problems.problem(404, "未找到", "请求的地址不存在")
        index = dist / "index.html"
        if not index.is_file():
            return Response("控制台尚未构建：请运行 make console", status_code=503,
                            media_type="text/plain; charset=utf-8")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
