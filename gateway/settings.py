"""Gateway settings: the kit's, plus the HTTP port and where each catalogued service listens."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, SecretStr, model_validator

from jinqiao.kit import catalog
from jinqiao.kit.settings import KitSettings


class GatewaySettings(KitSettings):
    """Read from ``JINQIAO_*`` like every service; ``JINQIAO_<NAME>_TARGET`` points at a service."""

    http_port: int = 8080
    targets: dict[str, str] = Field(
        default_factory=dict, description="gRPC target per catalogued service; default 127.0.0.1:<grpc_port>"
    )
    demo_password: SecretStr = SecretStr("jinqiao")
    grpc_timeout_seconds: float = 10.0
    login_account_failures: int = Field(default=5, ge=1, description="failures that lock an account")
    login_account_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1, description="how long a locked account refuses every login")
    login_address_failures: int = Field(default=20, ge=1, description="failures that block an address")
    login_address_window_seconds: int = Field(default=900, ge=1)
    login_limit_storage: str = Field(default="async+memory://",
                                     description="limits storage URI; a shared one (async+redis://…) for replicas")
    # Short access tokens, renewed with a rotating refresh token (gateway/sessions.py); jwt_ttl_seconds caps them.
    access_token_ttl_seconds: int = Field(default=300, ge=30, description="lifetime of an access token")
    session_lifetime_seconds: int = Field(default=8 * 3600, ge=60, description="a session ends this long after login")
    session_idle_seconds: int = Field(default=1800, ge=60, description="a session ends after this long unrefreshed")
    # Behind a reverse proxy every request comes from the proxy's address, which would put all users under one
    # per-address login limit; naming the proxies lets uvicorn take the client's address from X-Forwarded-For.
    trusted_proxies: str = Field(default="", description="comma-separated proxy addresses whose "
                                 "X-Forwarded-For is believed; empty: none (the socket's peer is the client)")

    @model_validator(mode="before")
    @classmethod
    def _named_targets(cls, data: Any) -> Any:
        # ``registry_target=…`` (the older spelling, one keyword per service) still works.
        if isinstance(data, dict):
            named = {k.removesuffix("_target"): data.pop(k) for k in [k for k in data if k.endswith("_target")]}
            data["targets"] = {**named, **dict(data.get("targets") or {})}
        return data

    @model_validator(mode="after")
    def _catalogued_targets(self) -> GatewaySettings:
        # One variable per service, so the catalogue alone decides which exist.
        for entry in catalog.grpc_services():
            if entry.name not in self.targets:
                self.targets[entry.name] = (os.environ.get(f"JINQIAO_{entry.env_name}_TARGET")
                                            or f"127.0.0.1:{entry.grpc_port}")
        return self

    def target(self, service: str) -> str:
        """``host:port`` of a catalogued service."""
        return self.targets[service]
