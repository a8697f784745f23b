"""`jinqiao migrate`'s plan and reporting (fakes for the database and broker), the image's entrypoint and probe."""

from __future__ import annotations

import http.server
import io
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jinqiao.kit import catalog
from jinqiao.kit.runtime import deploy

DATABASES = [e.name for e in catalog.load() if e.database]


def _env(**extra: str) -> dict[str, str]:
    env = {"JINQIAO_ADMIN_DATABASE_URL": "postgresql://admin:pw@db:5432/postgres",
           **{f"JINQIAO_{catalog.get(n).env_name}_DB_PASSWORD": f"pw-{n}" for n in DATABASES}}
    env.update(extra)
    return env


class FakeMigrations:
    """Records each call; fails the services named in ``failing``."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failing = failing

    async def migrate_one(self, **kwargs: Any) -> list[str]:
        self.calls.append(kwargs)
        if kwargs["service"] in self.failing:
            raise ConnectionRefusedError("db down")
        return ["0001"]

    async def declare(self, **kwargs: Any) -> list[str]:
        self.calls.append({"streams": kwargs})
        return ["JINQIAO_REGISTRY"]


async def _run(env: dict[str, str], fake: FakeMigrations, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await deploy.run_migrate(env=env, out=out, err=err, migrate_one=fake.migrate_one, declare=fake.declare,
                                    **kwargs)
    return code, out.getvalue(), err.getvalue()


async def test_migrate_provisions_every_database_service_with_its_own_password_and_one_line_each() -> None:
    """Every catalogued database service is migrated with its JINQIAO_<NAME>_DB_PASSWORD; one line per service."""
    fake = FakeMigrations()
    code, out, _ = await _run(_env(), fake, streams=False)
    assert code == 0
    assert [c["service"] for c in fake.calls] == DATABASES
    assert all(c["app_password"] == f"pw-{c['service']}" for c in fake.calls)
    assert [line.split(":")[0] for line in out.splitlines()] == DATABASES


async def test_migrate_names_every_missing_variable_in_chinese_first_and_touches_nothing() -> None:
    """Without the admin URL and a password, it exits 2 naming both, before any database is touched."""
    env = _env()
    del env["JINQIAO_ADMIN_DATABASE_URL"], env["JINQIAO_DESK_DB_PASSWORD"]
    fake = FakeMigrations()
    code, _, err = await _run(env, fake, streams=False)
    assert code == 2 and fake.calls == []
    assert err.startswith("jinqiao migrate: 缺少环境变量")
    assert "JINQIAO_ADMIN_DATABASE_URL" in err and "JINQIAO_DESK_DB_PASSWORD" in err


async def test_migrate_limited_to_named_services_needs_only_their_passwords() -> None:
    """--service limits the run (and its required variables) to the named services, and skips the streams."""
    env = {"JINQIAO_ADMIN_DATABASE_URL": "postgresql://a:b@db/postgres", "JINQIAO_REGISTRY_DB_PASSWORD": "x"}
    fake = FakeMigrations()
    code, out, _ = await _run(env, fake, names=["registry"])
    assert code == 0 and [c["service"] for c in fake.calls] == ["registry"]
    assert out.startswith("registry: ")


async def test_migrate_refuses_an_unknown_service_name() -> None:
    """A name that is no catalogued database service is an error listing the known ones."""
    code, _, err = await _run(_env(), FakeMigrations(), names=["nosuch"])
    assert code == 2 and "nosuch" in err and "registry" in err


async def test_one_failing_database_fails_the_run_but_the_others_still_migrate() -> None:
    """A service whose migration raises is reported by name; the rest run; the exit code is 1."""
    fake = FakeMigrations(failing=("organizations",))
    code, out, err = await _run(_env(), fake, streams=False)
    assert code == 1
    assert len(fake.calls) == len(DATABASES)
    assert "organizations: 失败 / failed" in err and "incomplete: organizations" in err
    assert "organizations" not in out


async def test_streams_are_declared_with_the_runners_login_when_given() -> None:
    """With JINQIAO_NATS_URL and the admin password the streams are declared after the databases."""
    fake = FakeMigrations()
    env = _env(JINQIAO_NATS_URL="nats://a:4222,nats://b:4222", JINQIAO_NATS_ADMIN_PASSWORD="secret")
    code, out, _ = await _run(env, fake)
    assert code == 0
    assert fake.calls[-1]["streams"]["nats_url"] == "nats://a:4222,nats://b:4222"
    assert fake.calls[-1]["streams"]["admin_password"] == "secret"
    assert out.splitlines()[-1].startswith("streams: 已声明 / declared")


async def test_streams_without_the_brokers_admin_login_are_an_error_unless_skipped() -> None:
    """Streams wanted but no admin password: exit 1 naming the variable; --no-streams makes it fine."""
    code, _, err = await _run(_env(), FakeMigrations())
    assert code == 1 and "JINQIAO_NATS_ADMIN_PASSWORD" in err
    code, _, _ = await _run(_env(), FakeMigrations(), streams=False)
    assert code == 0


def test_the_deployed_broker_config_names_every_login_with_a_variable_password() -> None:
    """One user per catalogued service plus the runner; each password is a $VARIABLE, never a literal."""
    block = deploy.nats_authorization()
    for user in ("jinqiao_runner", *(e.name for e in catalog.load())):
        assert f'user: "{user}", password: ${deploy.nats_password_variable(user)}' in block
    assert '"password' not in block


class _Ready(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(self.status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ready_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_probe_asks_a_services_metrics_port_and_the_gateways_http_port(ready_server: http.server.HTTPServer) -> None:
    """The health check GETs /readyz on the metrics port (services) or the HTTP port (gateway): 0 on 200."""
    port = str(ready_server.server_address[1])
    assert deploy.probe_url({"JINQIAO_SERVICE_NAME": "registry"}) == "http://127.0.0.1:17151/readyz"
    assert deploy.probe_url({"JINQIAO_SERVICE_NAME": "gateway"}) == "http://127.0.0.1:8080/readyz"
    assert deploy.probe({"JINQIAO_SERVICE_NAME": "registry", "JINQIAO_METRICS_PORT": port}) == 0
    assert deploy.probe({"JINQIAO_SERVICE_NAME": "gateway", "JINQIAO_HTTP_PORT": port}) == 0
    _Ready.status = 503
    try:
        assert deploy.probe({"JINQIAO_SERVICE_NAME": "registry", "JINQIAO_METRICS_PORT": port}) == 1
    finally:
        _Ready.status = 200


def test_probe_of_a_closed_port_fails_and_of_the_migrate_job_passes(ready_server: http.server.HTTPServer) -> None:
    """Nothing listening is not ready; a container serving nothing (no service name) has nothing to probe."""
    closed = ready_server.server_address[1]
    ready_server.server_close()
    assert deploy.probe({"JINQIAO_SERVICE_NAME": "registry", "JINQIAO_METRICS_PORT": str(closed)}) == 1
    assert deploy.probe({}) == 0


def test_serve_runs_the_catalogued_server_module_of_the_name() -> None:
    """The entrypoint's command for a name is its catalogue `server` module under this interpreter."""
    for entry in catalog.load():
        assert deploy.server_command(entry.name) == [sys.executable, "-m", entry.server]
    with pytest.raises(KeyError):
        deploy.server_command("nosuch")
