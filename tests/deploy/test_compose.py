"""The compose stack, validated offline: the Compose Specification's schema, then what the platform needs of it.

No `docker compose` can validate here (no compose plugin; pip's docker-compose 1.29.2 does not build on 3.11), so
the file is checked against the Compose Specification's JSON schema that check-jsonschema ships (vendor.compose-spec),
and the NATS configuration by the real nats-server's own config test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import catalog
from jinqiao.kit.runtime import deploy
from jinqiao.kit.runtime.natsauth import ADMIN, service_grants

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
BIN = Path(sys.executable).parent
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_committed_deployment_files_match_the_catalogue() -> None:
    """scripts/deploy_gen.py --check: compose.yaml, nats.conf, env.example and the NATS logins are up to date."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "deploy_gen.py"), "--check"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_compose_file_is_valid_under_the_compose_specification() -> None:
    """check-jsonschema's vendored Compose Specification schema accepts compose.yaml."""
    tool = shutil.which("check-jsonschema", path=str(BIN)) or "check-jsonschema"
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE / "compose.yaml")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_does_reject_a_broken_compose_file(tmp_path: Path, stack: dict[str, Any]) -> None:
    """The same check fails a file whose service has a misspelt key (the schema forbids unknown properties)."""
    broken = dict(stack, services={**stack["services"], "registry": {**stack["services"]["registry"], "imagee": "x"}})
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    tool = shutil.which("check-jsonschema", path=str(BIN)) or "check-jsonschema"
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0 and "imagee" in result.stdout + result.stderr


def test_every_catalogued_service_runs_from_the_one_image(stack: dict[str, Any]) -> None:
    """Each catalogued service (gateway included) is a compose service of the image, named as in the catalogue."""
    services = stack["services"]
    for entry in catalog.load():
        assert entry.name in services, f"{entry.name} is missing from compose.yaml"
        assert services[entry.name]["image"] == services["migrate"]["image"]
        assert services[entry.name]["environment"]["JINQIAO_SERVICE_NAME"] == entry.name
        assert "healthcheck" in services[entry.name]


def test_dependencies_exist_and_wait_for_health_or_completion(stack: dict[str, Any]) -> None:
    """Every depends_on names a service of the file, with a condition; services wait for migrate to finish."""
    services = stack["services"]
    for name, service in services.items():
        for target, how in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert how["condition"] in {"service_healthy", "service_completed_successfully"}
            if how["condition"] == "service_healthy":
                assert not services[target].get("healthcheck", {}).get("disable"), f"{target} has no health check"
    for entry in catalog.load():
        assert services[entry.name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert {"postgres", "nats-1", "nats-2", "nats-3"} <= set(services["migrate"]["depends_on"])


def test_each_process_is_given_what_its_catalogue_entry_needs(stack: dict[str, Any]) -> None:
    """Database, broker login, keys it holds (and only those), cluster URLs at R3, a target per gRPC service."""
    fields = {f"JINQIAO_{name.upper()}" for name in GatewaySettings.model_fields}
    targets = {f"JINQIAO_{e.env_name}_TARGET" for e in catalog.grpc_services()}
    for entry in catalog.load():
        env = stack["services"][entry.name]["environment"]
        # Every variable is a setting the process reads: a misspelt name would be silently ignored.
        assert set(env) <= fields | targets, set(env) - fields - targets
        assert targets <= set(env)
        assert env["JINQIAO_NATS_URL"].split(",") == [f"nats://nats-{i}:4222" for i in (1, 2, 3)]
        assert env["JINQIAO_NATS_STREAM_REPLICAS"] == "3"
        assert env["JINQIAO_NATS_USER"] == entry.name
        assert ("JINQIAO_DATABASE_URL" in env) == entry.database
        assert ("JINQIAO_PII_KEYS" in env) == ("pii" in entry.keys)
        assert ("JINQIAO_BLIND_INDEX_KEY" in env) == ("blind_index" in entry.keys)
        assert ("JINQIAO_JWT_PRIVATE_KEY_FILE" in env) == ("jwt_signing" in entry.keys)
        secrets = set(stack["services"][entry.name]["secrets"])
        assert {Path(v).name for k, v in env.items() if k.endswith("_FILE")} <= secrets <= set(stack["secrets"])


def test_only_the_gateway_and_county_facing_grpc_ports_are_published(stack: dict[str, Any]) -> None:
    """Published: the gateway's HTTP port and the public gRPC ports of registry, organizations and insights."""
    published = {name: s["ports"] for name, s in stack["services"].items() if s.get("ports")}
    assert set(published) == {"gateway", "registry", "organizations", "insights"}
    for name in ("registry", "organizations", "insights"):
        port = catalog.get(name).grpc_port
        assert published[name] == [f"{port}:{port}"]


def test_no_password_or_key_is_written_in_the_files(stack: dict[str, Any]) -> None:
    """Every secret value is a required ${VARIABLE}; env.example declares each variable, with placeholders only."""
    secretish = re.compile(r"PASSWORD|_KEYS?$|DATABASE_URL")
    referenced: set[str] = set()
    for name, service in stack["services"].items():
        for key, value in service.get("environment", {}).items():
            referenced |= set(VARIABLE.findall(str(value)))
            if secretish.search(key):
                # A DSN's password part (user:password@host), or the whole value, is one required variable.
                dsn = re.fullmatch(r"postgresql://[^:@]+:(.+)@[^@]+", str(value))
                secret = dsn.group(1) if dsn else str(value)
                assert VARIABLE.fullmatch(secret) and ":?" in secret, f"{name}: {key} is not a required variable"
    example = dict(line.split("=", 1) for line in (COMPOSE / "env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert referenced <= set(example), referenced - set(example)
    secrets = {k: v for k, v in example.items() if re.search(r"PASSWORD$|_KEYS$|INDEX_KEY$", k)}
    assert secrets and all("change-me" in v for v in secrets.values()), secrets
    for path in (COMPOSE / "nats.conf", ROOT / "deploy" / "nats" / "authorization.conf"):
        for password in re.findall(r"password:\s*([^,}\s]+)", path.read_text()):
            assert password.startswith("$"), f"{path.name}: literal password"


def _quoted(subjects: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{s}"' for s in subjects) + "]"


def test_the_broker_logins_are_natsauths_grants() -> None:
    """deploy/nats/authorization.conf has the runner and one user per service with exactly natsauth's grants."""
    text = (ROOT / "deploy" / "nats" / "authorization.conf").read_text()
    users = re.findall(r'user: "([^"]+)"', text)
    assert users == [ADMIN, *(e.name for e in catalog.load())]
    for entry in catalog.load():
        line = next(x for x in text.splitlines() if f'user: "{entry.name}"' in x)
        publish, subscribe = service_grants(entry)
        assert f"password: ${deploy.nats_password_variable(entry.name)}," in line
        assert f"publish: {{allow: {_quoted(publish)}}}" in line
        assert f"subscribe: {{allow: {_quoted(subscribe)}}}" in line


def test_nats_server_accepts_the_cluster_node_config(tmp_path: Path) -> None:
    """The real nats-server's config test passes with every password variable set, and names one left unset."""
    server = shutil.which("nats-server", path=str(BIN))
    assert server is not None
    shutil.copy(COMPOSE / "nats.conf", tmp_path / "nats.conf")
    shutil.copy(ROOT / "deploy" / "nats" / "authorization.conf", tmp_path / "authorization.conf")
    users = [ADMIN, *(e.name for e in catalog.load())]
    env = {"PATH": os.environ.get("PATH", ""), "NATS_SERVER_NAME": "nats-1",
           **{deploy.nats_password_variable(u): f"test-{u}" for u in users}}
    ok = subprocess.run([server, "-t", "-c", str(tmp_path / "nats.conf")], env=env, capture_output=True, text=True,
                        timeout=60, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    env.pop(deploy.nats_password_variable("registry"))
    missing = subprocess.run([server, "-t", "-c", str(tmp_path / "nats.conf")], env=env, capture_output=True,
                             text=True, timeout=60, check=False)
    assert missing.returncode != 0 and "JINQIAO_REGISTRY_NATS_PASSWORD" in missing.stdout + missing.stderr
