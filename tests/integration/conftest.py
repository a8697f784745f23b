"""In-process services wired exactly as their ``server.py`` wires them, on free ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import httpx
import pytest
import uvicorn

from jinqiao.gateway.app import create_app
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.insights import server as insights_server
from jinqiao.insights.v1 import insights_pb2_grpc
from jinqiao.kit.process import RunningService, start_service
from jinqiao.kit.runtime.ports import free_port
from jinqiao.organizations import server as organizations_server
from jinqiao.registry import server as registry_server
from jinqiao.registry.v1 import registry_pb2_grpc


@dataclass
class Platform:
    """The running registry, insights and gateway of this session."""

    registry: RunningService
    insights: RunningService
    organizations: RunningService
    registry_stub: registry_pb2_grpc.RegistryServiceStub
    insights_stub: insights_pb2_grpc.InsightsServiceStub
    http: httpx.AsyncClient
    base_url: str


@pytest.fixture(scope="session")
async def platform(settings_for: Callable[..., object]) -> AsyncIterator[Platform]:
    """Registry, insights (with its consumer) and the gateway over real PostgreSQL and NATS."""
    registry = await start_service(
        settings_for("registry"), service="registry", service_names=[registry_server.SERVICE_NAME],
        produces_events=True, setup=registry_server.setup,
    )
    organizations = await start_service(
        settings_for("organizations"), service="organizations", service_names=[organizations_server.SERVICE_NAME],
        produces_events=True, setup=organizations_server.setup,
    )
    insights = await start_service(
        settings_for("insights"), service="insights", service_names=[insights_server.SERVICE_NAME],
        produces_events=False, setup=insights_server.setup,
    )
    port = free_port()
    gateway_settings = settings_for(
        "gateway", GatewaySettings, http_port=port, registry_target=f"127.0.0.1:{registry.port}",
        insights_target=f"127.0.0.1:{insights.port}", organizations_target=f"127.0.0.1:{organizations.port}",
    )
    server = uvicorn.Server(uvicorn.Config(create_app(gateway_settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    registry_channel = grpc.aio.insecure_channel(f"127.0.0.1:{registry.port}")
    insights_channel = grpc.aio.insecure_channel(f"127.0.0.1:{insights.port}")
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
        running = Platform(
            registry=registry, insights=insights, organizations=organizations,
            registry_stub=registry_pb2_grpc.RegistryServiceStub(registry_channel),
            insights_stub=insights_pb2_grpc.InsightsServiceStub(insights_channel),
            http=http, base_url=base_url,
        )
        yield running
    await registry_channel.close()
    await insights_channel.close()
    server.should_exit = True
    await serving
    # A test may have restarted a service in place: stop whichever instance runs now.
    await running.insights.stop()
    await running.organizations.stop()
    await running.registry.stop()


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata with a bearer token."""
    return (("authorization", f"Bearer {token}"),)


async def eventually(check: Callable[[], object], *, timeout: float = 15.0, interval: float = 0.1) -> object:
    """Poll an async check until it returns a truthy value (events are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()  # type: ignore[misc]
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the timeout")
        await asyncio.sleep(interval)
