"""Client channels to the platform's gRPC services: TLS when a CA file is configured, plaintext on loopback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc


def open_channel(target: str, *, ca_file: Path | None = None, interceptors: Sequence[Any] = ()) -> grpc.aio.Channel:
    """A channel to ``target``, verifying the server against ``ca_file`` when one is given (deploy)."""
    if ca_file is None:
        return grpc.aio.insecure_channel(target, interceptors=list(interceptors) or None)
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_file.read_bytes())
    return grpc.aio.secure_channel(target, credentials, interceptors=list(interceptors) or None)
