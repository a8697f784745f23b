"""In-process services wired exactly as their ``server.py`` wires them, on free ports."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import uvicorn
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from jinqiao.gateway.app import create_app
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import catalog
from jinqiao.kit.process import RunningService, start_service
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.settings import KitSettings


@dataclass
class Platform:
    """Every catalogued gRPC service and the gateway of this session.

    A service is an attribute by its catalogue name (``platform.registry``, ``platform.desk``) and its stub
    ``<name>_stub``; a test that restarts a service assigns the new one (``platform.organizations = …``).
    """

    services: dict[str, RunningService]
    stubs: dict[str, Any]
    http: httpx.AsyncClient
    base_url: str

    def __getattr__(self, name: str) -> Any:
        services, stubs = self.__dict__.get("services", {}), self.__dict__.get("stubs", {})
        if name in services:
            return services[name]
        if name.endswith("_stub") and name.removesuffix("_stub") in stubs:
            return stubs[name.removesuffix("_stub")]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("services", {}):
            self.services[name] = value
        else:
            super().__setattr__(name, value)


async def start_catalogued(entry: catalog.ServiceEntry, settings: KitSettings) -> RunningService:
    """Start one catalogued service in-process, wired by its own ``server.setup``."""
    assert entry.proto_service is not None, entry.name
    server = importlib.import_module(entry.server)
    return await start_service(settings, service=entry.name, service_names=[entry.proto_service],
                               produces_events=entry.produces_events, setup=server.setup)


async def serves_health_and_reflection(entry: catalog.ServiceEntry, settings: KitSettings) -> bool:
    """Start a catalogued service alone; True when it answers health SERVING and reflection lists it."""
    running = await start_catalogued(entry, settings)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=entry.proto_service), timeout=5)
            ask = reflection_pb2.ServerReflectionRequest(list_services="")
            async for answer in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(iter([ask]),
                                                                                                      timeout=5):
                listed = {service.name for service in answer.list_services_response.service}
                break
        return reply.status == health_pb2.HealthCheckResponse.SERVING and entry.proto_service in listed
    finally:
        await running.stop()


async def run_platform(settings_for: Callable[..., KitSettings]) -> AsyncIterator[Platform]:
    """Every catalogued service (with its consumers) and the gateway over real PostgreSQL and NATS.

    The session fixture ``platform`` (tests/conftest.py) runs this once for every suite: a second platform per
    folder would double the services' connection pools and exhaust PostgreSQL's connection slots.
    """
    services: dict[str, RunningService] = {}
    for entry in catalog.grpc_services():
        services[entry.name] = await start_catalogued(entry, settings_for(entry.name))
    port = free_port()
    gateway_settings = settings_for(
        "gateway", GatewaySettings, http_port=port,
        targets={name: f"127.0.0.1:{service.port}" for name, service in services.items()},
    )
    server = uvicorn.Server(uvicorn.Config(create_app(gateway_settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    channels = {name: grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") for name, service in services.items()}
    stubs = {entry.name: entry.stub_class()(channels[entry.name]) for entry in catalog.grpc_services()}
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
        running = Platform(services=services, stubs=stubs, http=http, base_url=base_url)
        yield running
    for channel in channels.values():
        await channel.close()
    server.should_exit = True
    await serving
    # A test may have restarted a service in place: stop whichever instance runs now.
    for service in reversed(running.services.values()):
        await service.stop()


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
