"""Gateway settings: the kit's, plus the HTTP port and the services it calls."""

from __future__ import annotations

from pydantic import SecretStr

from jinqiao.kit.settings import KitSettings


class GatewaySettings(KitSettings):
    """Read from ``JINQIAO_*`` like every service."""

    http_port: int = 8080
    registry_target: str = "127.0.0.1:50051"
    insights_target: str = "127.0.0.1:50055"
    organizations_target: str = "127.0.0.1:50052"
    demo_password: SecretStr = SecretStr("jinqiao")
    grpc_timeout_seconds: float = 10.0
