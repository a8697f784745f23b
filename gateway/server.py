"""Gateway process: the FastAPI app under uvicorn on uvloop."""

from __future__ import annotations

import uvicorn

from jinqiao.gateway.app import create_app
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import telemetry


def main() -> None:
    """Serve HTTP until SIGTERM or SIGINT (uvicorn handles both gracefully)."""
    settings = GatewaySettings(service_name="gateway")
    telemetry.configure_logging(service="gateway", level=settings.log_level, json=settings.log_json)
    telemetry.configure_tracing(service="gateway")
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.http_port, loop="uvloop", log_level="warning",
        access_log=False, timeout_graceful_shutdown=10,
        # X-Forwarded-For is believed only from the named proxies (the login limits key on the client's address).
        proxy_headers=bool(settings.trusted_proxies), forwarded_allow_ips=settings.trusted_proxies or None,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
