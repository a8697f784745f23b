"""gRPC channels and stubs to the services, built once at start-up; the caller's token rides along."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from jinqiao.insights.v1 import insights_pb2_grpc
from jinqiao.kit import telemetry
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import registry_pb2_grpc


@dataclass
class ServiceClients:
    """Stubs of every service the gateway calls."""

    registry: registry_pb2_grpc.RegistryServiceStub
    insights: insights_pb2_grpc.InsightsServiceStub
    organizations: organizations_pb2_grpc.OrganizationsServiceStub
    channels: list[grpc.aio.Channel]
    timeout: float

    @classmethod
    def connect(
        cls, *, registry_target: str, insights_target: str, organizations_target: str, timeout: float
    ) -> ServiceClients:
        """Open one channel per service (HTTP/2 multiplexes every request over it)."""
        interceptors = [telemetry.TracingClientInterceptor()]
        registry = grpc.aio.insecure_channel(registry_target, interceptors=interceptors)
        insights = grpc.aio.insecure_channel(insights_target, interceptors=interceptors)
        organizations = grpc.aio.insecure_channel(organizations_target, interceptors=interceptors)
        return cls(
            registry=registry_pb2_grpc.RegistryServiceStub(registry),
            insights=insights_pb2_grpc.InsightsServiceStub(insights),
            organizations=organizations_pb2_grpc.OrganizationsServiceStub(organizations),
            channels=[registry, insights, organizations],
            timeout=timeout,
        )

    async def close(self) -> None:
        """Close every channel."""
        for channel in self.channels:
            await channel.close()


def call_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata that carries the caller's bearer token to a service."""
    return (("authorization", f"Bearer {token}"),)
