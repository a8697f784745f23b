"""What `jinqiao up` runs its children with for memory at rest: service environment and the server's settings."""

from __future__ import annotations

from pathlib import Path

from jinqiao.kit.runtime import config
from jinqiao.kit.runtime.postgres import EMBEDDED_SETTINGS, EmbeddedPostgres
from jinqiao.kit.runtime.supervisor import service_env


def _registry_env(monkeypatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    loaded = config.load()
    registry = next(s for s in loaded.services if s.name == "registry")
    return service_env(registry, config=loaded, stored={}, nats_url="nats://127.0.0.1:1", app_dsns={})


def test_services_run_with_two_malloc_arenas_and_one_idle_connection_per_pool(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("JINQIAO_DB_POOL_MIN", raising=False)
    env = _registry_env(monkeypatch, tmp_path)
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert env["JINQIAO_DB_POOL_MIN"] == "1"


def test_the_operators_environment_wins_over_the_runners_defaults(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    monkeypatch.setenv("JINQIAO_DB_POOL_MIN", "4")
    env = _registry_env(monkeypatch, tmp_path)
    assert (env["MALLOC_ARENA_MAX"], env["JINQIAO_DB_POOL_MIN"]) == ("8", "4")


def test_the_embedded_server_is_sized_for_the_stack_and_the_test_sandbox_keeps_its_own(tmp_path: Path):
    embedded = EmbeddedPostgres(data_dir=tmp_path, port=1, superuser_password="x", settings=EMBEDDED_SETTINGS)
    assert embedded.max_connections == 100
    assert embedded.settings["shared_buffers"] == "64MB"
    assert embedded.settings["io_method"] == "sync"
    assert embedded.settings["fsync"] == "on"
    sandbox = EmbeddedPostgres(data_dir=tmp_path, port=1, superuser_password="x", max_connections=400)
    assert (sandbox.max_connections, sandbox.settings["shared_buffers"]) == (400, "128MB")
    assert "io_method" not in sandbox.settings
