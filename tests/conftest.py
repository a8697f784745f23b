"""Session fixtures: real PostgreSQL and NATS (containers when a Docker daemon answers, else the wheels)."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from faststream.nats import NatsBroker

from jinqiao.kit import catalog
from jinqiao.kit.auth import Role, TokenIssuer, generate_signing_keypair
from jinqiao.kit.broker import build_broker
from jinqiao.kit.crypto import encode_keyring, generate_key
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin
from jinqiao.kit.settings import KitSettings

SERVICES_WITH_DATABASES = tuple(entry.name for entry in catalog.load() if entry.database)


def docker_answers() -> bool:
    """A daemon that accepts a connection, not merely a docker client on PATH."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in sock.recv(256)
    except OSError:
        return False


@dataclass(frozen=True)
class Infra:
    """Where the real PostgreSQL and NATS of this test session listen, and the bus's logins.

    NATS runs as `jinqiao up` runs it (no anonymous user, one login per service, streams declared by the
    runner), so a test that publishes must say whom it publishes as: ``nats_options("organizations")``.
    """

    admin_dsn: str
    nats_url: str
    nats_logins: dict[str, NatsLogin]

    def nats_options(self, who: str = ADMIN) -> dict[str, str]:
        """``nats.connect`` / ``NatsBroker`` keyword arguments to log in as a catalogued service (or the runner)."""
        return dict(self.nats_logins[who].options)

    def broker_as(self, who: str) -> NatsBroker:
        """An unconnected FastStream broker logged in as a catalogued service (or the runner, ``ADMIN``)."""
        login = self.nats_logins[who]
        return build_broker(url=self.nats_url, name=f"test-as-{who}", user=login.user, password=login.password)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Start PostgreSQL and NATS JetStream once for the whole session; stop them by pid at the end.

    NATS always comes from the wheel with the runner's authenticated configuration; PostgreSQL may be one someone
    already runs (``JINQIAO_TEST_PG_DSN``), a container when a Docker daemon answers, or the wheel's.
    """
    from jinqiao.kit.runtime.sandbox import Sandbox

    external_pg = os.environ.get("JINQIAO_TEST_PG_DSN")
    if external_pg:
        # A server someone already runs (e.g. a developer's); the tests create their own databases in it.
        with Sandbox(prefix="jinqiao-test-", postgres=False) as box:
            yield Infra(admin_dsn=external_pg, nats_url=box.nats_url, nats_logins=box.logins)
        return
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17", driver=None) as pg, Sandbox(prefix="jinqiao-test-",
                                                                         postgres=False) as box:
            yield Infra(admin_dsn=pg.get_connection_url(), nats_url=box.nats_url, nats_logins=box.logins)
        return
    with Sandbox(prefix="jinqiao-test-") as box:
        yield Infra(admin_dsn=box.admin_dsn, nats_url=box.nats_url, nats_logins=box.logins)


@dataclass(frozen=True)
class Secrets:
    """Keys of this test session: JWT signing pair and PII keyring."""

    jwt_private: Path
    jwt_public: Path
    pii_keys: str
    blind_index_key: str


@pytest.fixture(scope="session")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Secrets:
    """Fresh keys, written where settings expect them."""
    folder = tmp_path_factory.mktemp("keys")
    private, public = generate_signing_keypair()
    (folder / "jwt_private.pem").write_bytes(private)
    (folder / "jwt_public.pem").write_bytes(public)
    return Secrets(
        jwt_private=folder / "jwt_private.pem",
        jwt_public=folder / "jwt_public.pem",
        pii_keys=encode_keyring({1: generate_key()}),
        blind_index_key=base64.b64encode(generate_key()).decode(),
    )


@pytest.fixture(scope="session")
async def databases(infra: Infra) -> dict[str, object]:
    """Provision and migrate every service's database once per session."""
    from jinqiao.kit.migrations import migrate
    from jinqiao.kit.runtime.provision import provision_service_database

    provisioned = {}
    for service in SERVICES_WITH_DATABASES:
        db = await provision_service_database(admin_dsn=infra.admin_dsn, service=service, app_password=f"pw-{service}")
        await migrate(service=service, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
        provisioned[service] = db
    return provisioned


@pytest.fixture(scope="session")
def settings_for(infra: Infra, secrets: Secrets, databases: dict[str, object]) -> Callable[..., KitSettings]:
    """Settings of a service as the embedded runner would give them, on port 0."""

    def build(service: str, cls: type[KitSettings] = KitSettings, **overrides: object) -> KitSettings:
        values: dict[str, object] = {
            "service_name": service, "grpc_port": 0, "nats_url": infra.nats_url,
            "jwt_public_key_file": secrets.jwt_public,
            "relay_poll_seconds": 0.2, "log_json": False, "timer_interval_seconds": 0,
        }
        # Only the keys the catalogue says the service holds, as `jinqiao up` hands them out.
        held = catalog.get(service).keys if service in {e.name for e in catalog.load()} else ()
        if "pii" in held:
            values.update(pii_keys=secrets.pii_keys, pii_active_key=1)
        if "blind_index" in held:
            values["blind_index_key"] = secrets.blind_index_key
        if "jwt_signing" in held:
            values["jwt_private_key_file"] = secrets.jwt_private
        if service in databases:
            values["database_url"] = databases[service].app_dsn  # type: ignore[attr-defined]
        if service in infra.nats_logins:
            # The service's own login, as the runner passes it (JINQIAO_NATS_USER / JINQIAO_NATS_PASSWORD).
            login = infra.nats_logins[service]
            values.update(nats_user=login.user, nats_password=login.password)
        values.update(overrides)
        return cls(**values)

    return build


@pytest.fixture(scope="session")
def issuer(secrets: Secrets) -> TokenIssuer:
    """Mints tokens the services accept."""
    return TokenIssuer(private_key_pem=secrets.jwt_private.read_bytes(), issuer="jinqiao", audience="jinqiao",
                       ttl_seconds=600)


@pytest.fixture(scope="session")
def county_token(issuer: TokenIssuer) -> Callable[[str], str]:
    """A county_admin token of the given county."""

    def make(county: str) -> str:
        return issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0]

    return make


@pytest.fixture(scope="session")
async def admin_conn_factory(databases: dict[str, object]) -> AsyncIterator[Callable[[str], object]]:
    """Superuser connections to a service's database, for assertions that must see every tenant."""
    import asyncpg

    opened: list[asyncpg.Connection] = []

    async def connect(service: str) -> asyncpg.Connection:
        conn = await asyncpg.connect(databases[service].admin_dsn_for_db)  # type: ignore[attr-defined]
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        await conn.close()


@pytest.fixture(scope="session")
async def platform(settings_for: Callable[..., KitSettings]) -> AsyncIterator[object]:
    """Every catalogued service and the gateway, started once for the integration, security and browser suites."""
    from tests.integration.conftest import run_platform

    async for running in run_platform(settings_for):
        yield running
