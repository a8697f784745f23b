"""The embedded runner's configuration: the service catalogue, ``deploy/embedded.toml``, environment overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jinqiao.kit import catalog

# What every service process runs with unless the operator's environment says otherwise (memory at rest, issue 16).
SERVICE_ENV_DEFAULTS: dict[str, str] = {
    # glibc gives every thread that allocates an arena of its own (gRPC, asyncpg and the default executor run
    # threads), each keeping its freed pages: two arenas serve a mostly idle service.
    "MALLOC_ARENA_MAX": "2",
    # One connection kept open per pool at rest (an idle backend is several MiB of PostgreSQL); the pool still
    # opens up to db_pool_max under load.
    "JINQIAO_DB_POOL_MIN": "1",
}


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
    # The key directory (JINQIAO_KEY_DIR), never inside the data directory; None: next to it (see key_directory).
    key_dir: Path | None = None
    # The key service (JINQIAO_KMS): "local" (the key directory) or "module:factory" of a real KMS's adapter.
    kms: str = "local"

    @property
    def key_directory(self) -> Path:
        """``JINQIAO_KEY_DIR``, or ``<data dir>-keys`` beside the data directory (``~/.local/share/jinqiao-keys``)."""
        return self.key_dir or default_key_dir(self.data_dir)


def default_data_dir() -> Path:
    """``~/.local/share/jinqiao``; as root ``/var/lib/jinqiao``, since PostgreSQL then runs as an unprivileged OS
    user who cannot pass through root's home (0700)."""
    if os.geteuid() == 0:
        return Path("/var/lib/jinqiao")
    return Path.home() / ".local" / "share" / "jinqiao"


def default_key_dir(data_dir: Path) -> Path:
    """A sibling of the data directory, so a copy or backup of the data carries no key."""
    return data_dir.parent / f"{data_dir.name}-keys"


def config_path() -> Path:
    """``JINQIAO_EMBEDDED_CONFIG``, or deploy/embedded.toml of this checkout."""
    override = os.environ.get("JINQIAO_EMBEDDED_CONFIG")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "deploy" / "embedded.toml"


def _port(env: str, default: int | None) -> int | None:
    value = os.environ.get(env)
    return int(value) if value else default


def load() -> EmbeddedConfig:
    """The catalogue's services with the file's overrides (``[service.<name>]``), then the environment's."""
    raw = tomllib.loads(config_path().read_text())
    overrides = raw.get("service", {})
    services = []
    for entry in catalog.load():
        mine = overrides.get(entry.name, {})
        env = entry.env_name
        http = mine.get("http_port", entry.http_port)
        services.append(ServiceSpec(
            name=entry.name, module=entry.server, database=entry.database,
            grpc_port=_port(f"JINQIAO_{env}_GRPC_PORT", mine.get("grpc_port", entry.grpc_port)),
            http_port=_port("JINQIAO_HTTP_PORT", http) if http is not None else None,
            metrics_port=_port(f"JINQIAO_{env}_METRICS_PORT", mine.get("metrics_port", entry.metrics_port)) or 0,
        ))
    demo = raw.get("demo", {})
    data_dir = Path(os.environ.get("JINQIAO_DATA_DIR") or default_data_dir())
    key_dir = os.environ.get("JINQIAO_KEY_DIR")
    return EmbeddedConfig(
        data_dir=data_dir.expanduser().resolve(),
        pg_port=_port("JINQIAO_PG_PORT", raw["postgres"]["port"]) or 0,
        nats_port=_port("JINQIAO_NATS_PORT", raw["nats"]["port"]) or 0,
        nats_monitor_port=_port("JINQIAO_NATS_MONITOR_PORT", raw["nats"].get("monitor_port")) or 0,
        services=services,
        seed_module=demo.get("seed_module", ""),
        demo_logins=list(demo.get("logins", [])),
        demo_counties=list(demo.get("counties", [])),
        key_dir=Path(key_dir).expanduser().resolve() if key_dir else None,
        kms=os.environ.get("JINQIAO_KMS") or "local",
    )
