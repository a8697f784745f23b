"""The embedded runner's pieces that need no servers: ports, NATS config, service list, environment."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from jinqiao.kit import catalog
from jinqiao.kit.runtime import config
from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.natsauth import logins, new_passwords
from jinqiao.kit.runtime.ports import PortBusy, ensure_free, free_port, port_is_free
from jinqiao.kit.runtime.supervisor import service_env


def test_a_taken_port_is_reported_with_the_setting_to_change():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        with pytest.raises(PortBusy, match="JINQIAO_PG_PORT"):
            ensure_free(host="127.0.0.1", port=port, what="PostgreSQL", setting="JINQIAO_PG_PORT")
    assert port_is_free("127.0.0.1", free_port())


def test_jetstream_fsyncs_every_write_and_listens_on_loopback(tmp_path: Path):
    users = logins(new_passwords({}, catalog.load())).values()
    text = EmbeddedNats(data_dir=tmp_path, port=4999, monitor_port=5999, users=users).config()
    assert "sync_interval: always" in text
    assert "listen: 127.0.0.1:4999" in text and "http: 127.0.0.1:5999" in text
    # Clients may listen elsewhere (a container's address); the monitor never leaves loopback.
    wider = EmbeddedNats(data_dir=tmp_path, port=4999, monitor_port=5999, host="0.0.0.0", users=users).config()
    assert "http: 127.0.0.1:5999" in wider and "0.0.0.0:5999" not in wider


def test_services_come_from_the_catalogue_and_ports_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JINQIAO_REGISTRY_GRPC_PORT", "61001")
    monkeypatch.setenv("JINQIAO_HTTP_PORT", "61080")
    loaded = config.load()
    names = [s.name for s in loaded.services]
    assert names == [e.name for e in catalog.load()]
    assert {"registry", "organizations", "insights", "desk", "notifications", "gateway"} <= set(names)
    assert names[-1] == "gateway"  # started last: it calls the others
    registry = next(s for s in loaded.services if s.name == "registry")
    gateway = next(s for s in loaded.services if s.name == "gateway")
    assert (registry.grpc_port, gateway.http_port, loaded.data_dir) == (61001, 61080, tmp_path.resolve())
    assert registry.module == "jinqiao.registry.server" and registry.database
    assert "411525" in loaded.demo_counties and loaded.seed_module == "jinqiao.demo.seed"


def test_the_embedded_file_may_override_a_services_port(monkeypatch, tmp_path: Path):
    file = tmp_path / "embedded.toml"
    file.write_text("[postgres]\nport = 1\n[nats]\nport = 2\n[service.insights]\ngrpc_port = 61055\n")
    monkeypatch.setenv("JINQIAO_EMBEDDED_CONFIG", str(file))
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    insights = next(s for s in config.load().services if s.name == "insights")
    assert (insights.grpc_port, insights.metrics_port) == (61055, catalog.get("insights").metrics_port)


def test_the_catalogue_keeps_the_published_ports_and_names_stubs_that_exist():
    ports = {e.name: (e.grpc_port, e.metrics_port) for e in catalog.load() if e.grpc_port}
    assert ports.items() >= {"registry": (17051, 17151), "organizations": (17052, 17152), "desk": (17053, 17153),
                             "notifications": (17054, 17154), "insights": (17055, 17155)}.items()
    every = [p for e in catalog.load() for p in (e.grpc_port, e.metrics_port, e.http_port) if p]
    assert len(every) == len(set(every)), "two services share a port"
    assert catalog.get("gateway").http_port == 8080 and catalog.get("desk").package == "jinqiao.desk"
    for entry in catalog.grpc_services():
        assert entry.stub and entry.stub_class().__name__ == entry.stub.rpartition(":")[2]
        assert entry.proto_service and entry.proto_service.startswith(f"jinqiao.{entry.name}.v1.")


def test_the_gateway_finds_every_service_by_catalogue_or_environment(monkeypatch):
    from jinqiao.gateway.settings import GatewaySettings

    monkeypatch.setenv("JINQIAO_INSIGHTS_TARGET", "127.0.10.5:7000")
    settings = GatewaySettings(registry_target="127.0.0.1:1")  # the older keyword still works
    assert settings.target("insights") == "127.0.10.5:7000"
    assert settings.target("registry") == "127.0.0.1:1"
    assert settings.target("desk") == "127.0.0.1:17053"
    assert set(settings.targets) == {e.name for e in catalog.grpc_services()}


def test_a_service_learns_where_every_other_service_listens(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    loaded = config.load()
    gateway = next(s for s in loaded.services if s.name == "gateway")
    stored = {"pii_keys": "1:x", "pii_active_key": 1, "blind_index_key": "y"}
    env = service_env(gateway, config=loaded, stored=stored, nats_url="nats://127.0.0.1:1",
                      app_dsns={"gateway": "postgresql://jq_gateway@127.0.0.1/jinqiao_gateway"})
    assert env["JINQIAO_REGISTRY_TARGET"].startswith("127.0.0.1:")
    assert env["JINQIAO_INSIGHTS_TARGET"].startswith("127.0.0.1:")
    assert env["JINQIAO_DATABASE_URL"].startswith("postgresql://jq_gateway@")
    assert env["JINQIAO_JWT_PRIVATE_KEY_FILE"].endswith("jwt_private.pem")
    registry = next(s for s in loaded.services if s.name == "registry")
    assert "JINQIAO_JWT_PRIVATE_KEY_FILE" not in service_env(registry, config=loaded, stored=stored,
                                                            nats_url="nats://x", app_dsns={})


def test_root_keeps_its_data_where_the_unprivileged_postgres_user_can_reach_it(monkeypatch):
    monkeypatch.setattr(config.os, "geteuid", lambda: 0)
    assert config.default_data_dir() == Path("/var/lib/jinqiao")
    monkeypatch.setattr(config.os, "geteuid", lambda: 1000)
    assert config.default_data_dir() == Path.home() / ".local" / "share" / "jinqiao"


def test_as_root_a_data_directory_behind_a_closed_directory_is_named_before_anything_starts(monkeypatch):
    from jinqiao.kit.runtime import postgres

    monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)
    # Under /tmp itself: pytest's own tmp_path sits in a 0700 directory, which would be the answer.
    root = Path(tempfile.mkdtemp(prefix="jq-reach-"))
    try:
        root.chmod(0o755)
        closed = root / "closed"
        (closed / "data").mkdir(parents=True)
        closed.chmod(0o700)
        assert postgres.unreachable_ancestor(closed / "data" / "postgres") == closed
        closed.chmod(0o711)
        assert postgres.unreachable_ancestor(closed / "data" / "postgres") is None
    finally:
        shutil.rmtree(root)


def test_every_default_port_lies_below_the_ephemeral_range_outgoing_connections_use(monkeypatch):
    for name in [n for n in os.environ if n.startswith("JINQIAO_") and n.endswith("_PORT")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("JINQIAO_DATA_DIR", "/nonexistent-jinqiao-test")
    settings = config.load()
    ports = [settings.pg_port, settings.nats_port, settings.nats_monitor_port]
    ports += [p for s in settings.services for p in (s.grpc_port, s.http_port, s.metrics_port) if p]
    # Linux's default ip_local_port_range; a machine may narrow it, never below 1024.
    assert all(1024 < port < 32768 for port in ports), sorted(ports)
    assert len(ports) == len(set(ports))
