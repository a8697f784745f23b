"""Readiness tells the truth: health and /readyz follow the database, through a real outage (a cut TCP relay)."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.gateway.app import create_app
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import catalog
from jinqiao.kit.runtime.ports import free_port
from tests.faults import Relay, via
from tests.integration.conftest import eventually, start_catalogued

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
POSTGRESQL, NATS = "jinqiao.dependency.postgresql", "jinqiao.dependency.nats"


@contextlib.asynccontextmanager
async def relayed(dsn: str):
    """The DSN through a relay that the test can cut, and the relay."""
    _, target = via(dsn, 0)
    relay = Relay(target)
    await relay.open()
    try:
        yield via(dsn, relay.port)[0], relay
    finally:
        with contextlib.suppress(Exception):
            await relay.cut()


async def test_grpc_health_is_not_serving_while_the_database_is_away_and_serving_once_it_is_back(settings_for):
    # notifications consumes no stream: a second instance beside the shared platform takes nobody's messages.
    entry = catalog.get("notifications")
    async with relayed(settings_for("notifications").database_url) as (dsn, relay):
        running = await start_catalogued(entry, settings_for(
            "notifications", database_url=dsn, readiness_interval_seconds=0.2, readiness_timeout_seconds=0.5,
            db_pool_min=1, retention_interval_seconds=0))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)

                async def status(name: str) -> int:
                    return (await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)).status

                assert [await status(n) for n in ("", POSTGRESQL, NATS, entry.proto_service)] == [SERVING] * 4

                await relay.cut()

                async def away() -> bool:
                    return await status("") == NOT_SERVING and await status(POSTGRESQL) == NOT_SERVING

                await eventually(away, timeout=15)
                # Health still answers during the outage, and says what is away and what is not.
                assert await status(NATS) == SERVING and await status(entry.proto_service) == SERVING

                await relay.open()

                async def back() -> bool:
                    return await status("") == SERVING and await status(POSTGRESQL) == SERVING

                await eventually(back, timeout=20)
        finally:
            await running.stop()


async def test_readyz_names_the_gateway_database_while_it_is_away_and_healthz_stays_live(platform, settings_for):
    targets = {name: f"127.0.0.1:{service.port}" for name, service in platform.services.items()}
    async with relayed(settings_for("gateway", GatewaySettings).database_url) as (dsn, relay):
        app = create_app(settings_for("gateway", GatewaySettings, http_port=free_port(), targets=targets,
                                      database_url=dsn, db_pool_max=2, readiness_timeout_seconds=0.5))
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ok"
            assert ready.json()["dependencies"] == {"postgresql": "ok", "nats": "ok",
                                                    **{e.name: "ok" for e in catalog.grpc_services()}}

            await relay.cut()

            async def refused() -> httpx.Response | None:
                reply = await http.get("/readyz")
                return reply if reply.status_code == 503 else None

            reply = await eventually(refused, timeout=15)
            assert isinstance(reply, httpx.Response)
            body = reply.json()
            assert body["unavailable"] == ["postgresql"] and body["dependencies"]["postgresql"] == "unavailable"
            assert body["dependencies"]["nats"] == "ok" and "数据库" in body["detail"]
            assert reply.headers["retry-after"] and reply.headers["content-type"].startswith("application/problem")
            assert (await http.get("/healthz")).status_code == 200

            await relay.open()

            async def ok() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(ok, timeout=20)
            await asyncio.sleep(0)
