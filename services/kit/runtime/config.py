"""The embedded runner's configuration: ``deploy/embedded.toml`` plus environment overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One supervised process."""

    name: str
    module: str
    database: bool
    grpc_port: int | None
    http_port: int | None
    metrics_port: int

    @property
    def env_name(self) -> str:
        """The name as it appears in environment variables."""
        return self.name.upper().replace("-", "_")


@dataclass(frozen=True, slots=True)
class EmbeddedConfig:
    """Everything `jinqiao up` starts."""

    data_dir: Path
    pg_port: int
    nats_port: int
    nats_monitor_port: int
    services: list[ServiceSpec]
    seed_module: str
    demo_logins: list[str] = field(default_factory=list)
    demo_counties: list[str] = field(default_factory=list)


def config_path() -> Path:
    """``JINQIAO_EMBEDDED_CONFIG``, or deploy/embedded.toml of this checkout."""
    override = os.environ.get("JINQIAO_EMBEDDED_CONFIG")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "deploy" / "embedded.toml"


def _port(env: str, default: int | None) -> int | None:
    value = os.environ.get(env)
    return int(value) if value else default


def load() -> EmbeddedConfig:
    """Read the file and apply the environment's overrides."""
    raw = tomllib.loads(config_path().read_text())
    services = []
    for entry in raw.get("service", []):
        name = entry["name"]
        env = name.upper().replace("-", "_")
        http = _port("JINQIAO_HTTP_PORT", entry.get("http_port")) if "http_port" in entry else None
        services.append(ServiceSpec(
            name=name, module=entry["module"], database=bool(entry.get("database", False)),
            grpc_port=_port(f"JINQIAO_{env}_GRPC_PORT", entry.get("grpc_port")), http_port=http,
            metrics_port=_port(f"JINQIAO_{env}_METRICS_PORT", entry.get("metrics_port", 0)) or 0,
        ))
    demo = raw.get("demo", {})
    data_dir = Path(os.environ.get("JINQIAO_DATA_DIR") or Path.home() / ".local" / "share" / "jinqiao")
    return EmbeddedConfig(
        data_dir=data_dir.expanduser().resolve(),
        pg_port=_port("JINQIAO_PG_PORT", raw["postgres"]["port"]) or 0,
        nats_port=_port("JINQIAO_NATS_PORT", raw["nats"]["port"]) or 0,
        nats_monitor_port=_port("JINQIAO_NATS_MONITOR_PORT", raw["nats"].get("monitor_port")) or 0,
        services=services,
        seed_module=demo.get("seed_module", ""),
        demo_logins=list(demo.get("logins", [])),
        demo_counties=list(demo.get("counties", [])),
    )
