"""Client channels to the platform's gRPC services: TLS when a CA file is configured, plaintext on loopback.

A channel retries what is safe to repeat when the service is away (UNAVAILABLE: restarting, not yet listening, its
database gone): the reads, named by their verb, and the writes whose request carries a ``request_id`` the service
de-duplicates. The retries are gRPC's own (a service config with a retryPolicy), bounded by the call's deadline;
no call waits for a dead service to come back (no waitForReady), so it still answers UNAVAILABLE in seconds.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor

if TYPE_CHECKING:
    from jinqiao.kit.settings import KitSettings

# Methods whose name starts with one of these verbs only read (checked against every proto by a unit test).
READ_VERBS = ("Get", "List", "Search", "Count", "Export", "Check", "Suggest")
# …except these, which start with a read verb but write (报到: a check-in records the member's arrival).
WRITE_PREFIXES = ("CheckIn",)
# A write is repeatable when its request carries this field and the service answers a repeat with the first result.
REQUEST_ID_FIELD = "request_id"

# gRPC caps maxAttempts at 5; the backoff before attempt n is random in [0, min(0.5 s × 2^(n-1), 5 s)].
RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 5,
    "initialBackoff": "0.5s",
    "maxBackoff": "5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
# Retries stop while more than half of the last ~100 calls failed, so an outage is not multiplied by five.
RETRY_THROTTLING: dict[str, Any] = {"maxTokens": 100, "tokenRatio": 0.1}
# Reconnect soon after a service comes back: gRPC's default backoff grows to 120 s, during which every call fails
# at once without trying, and the retries above would be spent before the channel looked again.
RECONNECT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


# The largest message a service takes or a client accepts (an import file, an attachment): the same both ways.
MAX_MESSAGE_BYTES = 21 * 1024 * 1024

def _verb(method: str) -> str:
    """The leading word of a CamelCase method name (``Get`` of ``GetMember``)."""
    for i, char in enumerate(method[1:], start=1):
        if char.isupper():
            return method[:i]
    return method


def is_read(method: str) -> bool:
    """True when the method's name says it only reads."""
    return _verb(method) in READ_VERBS and not method.startswith(WRITE_PREFIXES)


def retryable_methods(service: ServiceDescriptor) -> list[str]:
    """The service's methods safe to repeat: reads, and writes de-duplicated by their request id."""
    return [m.name for m in service.methods
            if is_read(m.name) or REQUEST_ID_FIELD in m.input_type.fields_by_name]


def service_config(services: Sequence[ServiceDescriptor]) -> dict[str, Any]:
    """A gRPC service config retrying UNAVAILABLE on the repeatable methods of ``services`` (no waitForReady)."""
    names = [{"service": s.full_name, "method": m} for s in services for m in retryable_methods(s)]
    if not names:
        return {}
    return {"methodConfig": [{"name": names, "retryPolicy": RETRY_POLICY}], "retryThrottling": RETRY_THROTTLING}


def service_descriptor(full_name: str, *, stub: str) -> ServiceDescriptor:
    """The generated descriptor of a gRPC service, loading its ``_pb2`` module (named from the stub's)."""
    module = stub.partition(":")[0]
    importlib.import_module(module.removesuffix("_grpc"))
    found: ServiceDescriptor = descriptor_pool.Default().FindServiceByName(full_name)
    return found


def channel_options(services: Sequence[ServiceDescriptor] = ()) -> list[tuple[str, Any]]:
    """Channel arguments: retries on, the service config for ``services``, quick reconnects."""
    # Answers as large as a server may receive (an attachment's content), not gRPC's default 4 MiB.
    options: list[tuple[str, Any]] = [("grpc.enable_retries", 1), ("grpc.max_receive_message_length",
                                                                  MAX_MESSAGE_BYTES), *RECONNECT_OPTIONS]
    config = service_config(services)
    if config:
        options.append(("grpc.service_config", json.dumps(config)))
    return options


def open_channel(target: str, *, ca_file: Path | None = None, cert_file: Path | None = None,
                 key_file: Path | None = None, interceptors: Sequence[Any] = (),
                 services: Sequence[ServiceDescriptor] = ()) -> grpc.aio.Channel:
    """A channel to ``target`` retrying the repeatable calls of ``services``; TLS against ``ca_file`` when given.

    With ``cert_file`` and ``key_file`` as well, the channel presents that certificate (mutual TLS: a service's
    internal port demands one); a server that asks for none never sees it.
    """
    options = channel_options(services)
    if (cert_file is None) != (key_file is None):
        raise ValueError("客户端证书和私钥须同时提供 / cert_file and key_file are given together")
    if ca_file is None:
        if cert_file is not None:
            raise ValueError("客户端证书须与 CA 文件一同提供 / a client certificate needs ca_file to verify the server")
        return grpc.aio.insecure_channel(target, options=options, interceptors=list(interceptors) or None)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca_file.read_bytes(),
        private_key=key_file.read_bytes() if key_file is not None else None,
        certificate_chain=cert_file.read_bytes() if cert_file is not None else None,
    )
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=list(interceptors) or None)


def open_settings_channel(target: str, settings: KitSettings, *, interceptors: Sequence[Any] = (),
                          services: Sequence[ServiceDescriptor] = ()) -> grpc.aio.Channel:
    """A channel from the process's settings: plaintext without a CA file (embedded, loopback); TLS against
    ``grpc_tls_ca_file`` otherwise, presenting the process's own certificate (``grpc_tls_cert_file`` / ``_key_file``)
    when it has one, as a service's internal mutual-TLS port requires."""
    ca_file = settings.grpc_tls_ca_file
    with_identity = ca_file is not None and settings.grpc_tls_cert_file is not None
    return open_channel(target, ca_file=ca_file, interceptors=interceptors, services=services,
                        cert_file=settings.grpc_tls_cert_file if with_identity else None,
                        key_file=settings.grpc_tls_key_file if with_identity else None)
