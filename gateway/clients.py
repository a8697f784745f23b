"""gRPC channels and stubs to the catalogued services, built once at start-up; the caller's token rides along."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from jinqiao.desk.v1 import desk_pb2_grpc
from jinqiao.gateway import problems
from jinqiao.insights.v1 import insights_pb2_grpc
from jinqiao.kit import catalog, telemetry
from jinqiao.kit.channels import open_channel, open_settings_channel, service_descriptor
from jinqiao.notifications.v1 import notifications_pb2_grpc
from jinqiao.operations.v1 import operations_pb2_grpc
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import registry_pb2_grpc

if TYPE_CHECKING:
    from google.protobuf.descriptor import ServiceDescriptor

    from jinqiao.gateway.settings import GatewaySettings

# Opens the channel to one service: its target, the interceptors (outermost first) and its descriptors for retries.
_OpenChannel = Callable[[str, list[Any], list["ServiceDescriptor"]], grpc.aio.Channel]


@dataclass
class ServiceClients:
    """One stub per catalogued gRPC service, by name; the services routes call have typed properties."""

    stubs: dict[str, Any]
    channels: list[grpc.aio.Channel]
    timeout: float
    # DeadLetterService of each service that consumes events, over that service's channel (kit/deadletters.py).
    dead_letters: dict[str, operations_pb2_grpc.DeadLetterServiceAsyncStub] = field(default_factory=dict)

    @classmethod
    def connect(cls, *, targets: Mapping[str, str], timeout: float, ca_file: Path | None = None) -> ServiceClients:
        """Open one channel per service (HTTP/2 multiplexes every request over it); TLS when given a CA file."""

        def channel(target: str, interceptors: list[Any], services: list[ServiceDescriptor]) -> grpc.aio.Channel:
            return open_channel(target, ca_file=ca_file, interceptors=interceptors, services=services)

        return cls._connect(targets=targets, timeout=timeout, channel=channel)

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ServiceClients:
        """Channels to ``settings.targets`` as the settings say: plaintext embedded; deployed, TLS against the CA,
        presenting the gateway's own certificate (the services' internal ports are mutual TLS only)."""

        def channel(target: str, interceptors: list[Any], services: list[ServiceDescriptor]) -> grpc.aio.Channel:
            return open_settings_channel(target, settings, interceptors=interceptors, services=services)

        return cls._connect(targets=settings.targets, timeout=settings.grpc_timeout_seconds, channel=channel)

    @classmethod
    def _connect(cls, *, targets: Mapping[str, str], timeout: float, channel: _OpenChannel) -> ServiceClients:
        interceptors = telemetry.client_interceptors()
        stubs: dict[str, Any] = {}
        channels: list[grpc.aio.Channel] = []
        dead_letters: dict[str, operations_pb2_grpc.DeadLetterServiceAsyncStub] = {}
        for entry in catalog.grpc_services():
            # Outermost first: the service's name is put on the error the caller finally sees (after retries).
            services = ([service_descriptor(entry.proto_service, stub=entry.stub)]
                        if entry.proto_service and entry.stub else [])
            opened = channel(targets[entry.name], [NameTheService(entry.name), *interceptors], services)
            channels.append(opened)
            stubs[entry.name] = entry.stub_class()(opened)
            if entry.consumes:
                dead_letters[entry.name] = operations_pb2_grpc.DeadLetterServiceStub(opened)
        return cls(stubs=stubs, channels=channels, timeout=timeout, dead_letters=dead_letters)

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

    @property
    def desk(self) -> desk_pb2_grpc.DeskServiceAsyncStub:
        """The service desk's stub."""
        stub: desk_pb2_grpc.DeskServiceAsyncStub = self.stubs["desk"]
        return stub

    @property
    def notifications(self) -> notifications_pb2_grpc.NotificationsServiceAsyncStub:
        """The notifications service's stub."""
        stub: notifications_pb2_grpc.NotificationsServiceAsyncStub = self.stubs["notifications"]
        return stub

    async def close(self) -> None:
        """Close every channel."""
        for channel in self.channels:
            await channel.close()


_AWAY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class NameTheService(grpc.aio.UnaryUnaryClientInterceptor):
    """Name the service on an UNAVAILABLE or DEADLINE_EXCEEDED error, so the 503/504 can say who is away."""

    def __init__(self, service: str) -> None:
        self.service = service

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        """Run the call; re-raise a failure to reach the service with its name in the trailing metadata."""
        call = await continuation(client_call_details, request)
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in _AWAY:
                raise
            trailing = grpc.aio.Metadata(*(exc.trailing_metadata() or ()), (problems.SERVICE_KEY, self.service))
            raise grpc.aio.AioRpcError(exc.code(), exc.initial_metadata(), trailing, exc.details(),
                                       exc.debug_error_string()) from exc
        return call


def call_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata that carries the caller's bearer token to a service."""
    return (("authorization", f"Bearer {token}"),)
