"""gRPC channels and stubs to the catalogued services, built once at start-up; the caller's token rides along."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from jinqiao.insights.v1 import insights_pb2_grpc
from jinqiao.kit import catalog, telemetry
from jinqiao.kit.channels import open_channel
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import registry_pb2_grpc


@dataclass
class ServiceClients:
    """One stub per catalogued gRPC service, by name; the services routes call have typed properties."""

    stubs: dict[str, Any]
    channels: list[grpc.aio.Channel]
    timeout: float

    @classmethod
    def connect(cls, *, targets: Mapping[str, str], timeout: float, ca_file: Path | None = None) -> ServiceClients:
        """Open one channel per service (HTTP/2 multiplexes every request over it); TLS when given a CA file."""
        interceptors = telemetry.client_interceptors()
        stubs: dict[str, Any] = {}
        channels: list[grpc.aio.Channel] = []
        for entry in catalog.grpc_services():
            channel = open_channel(targets[entry.name], ca_file=ca_file, interceptors=interceptors)
            channels.append(channel)
            stubs[entry.name] = entry.stub_class()(channel)
        return cls(stubs=stubs, channels=channels, timeout=timeout)

    def stub(self, service: str) -> Any:
        """The stub of a catalogued service."""
        return self.stubs[service]

    @property
    def registry(self) -> registry_pb2_grpc.RegistryServiceAsyncStub:
        """The registry's stub."""
        stub: registry_pb2_grpc.RegistryServiceAsyncStub = self.stubs["registry"]
        return stub

    @property
    def organizations(self) -> organizations_pb2_grpc.OrganizationsServiceAsyncStub:
        """The organizations service's stub."""
        stub: organizations_pb2_grpc.OrganizationsServiceAsyncStub = self.stubs["organizations"]
        return stub

    @property
    def insights(self) -> insights_pb2_grpc.InsightsServiceAsyncStub:
        """The insights service's stub."""
        stub: insights_pb2_grpc.InsightsServiceAsyncStub = self.stubs["insights"]
        return stub

    async def close(self) -> None:
        """Close every channel."""
        for channel in self.channels:
            await channel.close()


def call_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata that carries the caller's bearer token to a service."""
    return (("authorization", f"Bearer {token}"),)
