"""Beyond one machine: the container's entrypoint (serve, probe, migrate) and the deployed broker's logins.

The one image (deploy/image/Dockerfile) runs every catalogued process: ``serve`` execs the server module of
``JINQIAO_SERVICE_NAME`` (or a name given), ``probe`` is the image's HEALTHCHECK, ``migrate`` is `jinqiao migrate`.

`jinqiao migrate` does for an external PostgreSQL what `jinqiao up` does for the embedded one: each database
service's roles and database provisioned (kit/runtime/provision.py) and its schema brought to head; and, given the
broker's admin login, every producer's stream declared (no service's login may create one). It is idempotent: the
compose file's one-shot ``migrate`` service and the chart's pre-install/pre-upgrade Job run it on every deploy.

The broker's authorization for a deployment is natsauth's (one login per service, the same grants) with each
password a ``$VARIABLE`` the server resolves from its environment, so no password is written into a file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

import asyncpg

from jinqiao.kit import catalog
from jinqiao.kit.runtime.natsauth import ADMIN, service_grants

ADMIN_DATABASE_URL = "JINQIAO_ADMIN_DATABASE_URL"
NATS_ADMIN_PASSWORD = "JINQIAO_NATS_ADMIN_PASSWORD"


def db_password_variable(entry: catalog.ServiceEntry) -> str:
    """``JINQIAO_<NAME>_DB_PASSWORD``: the password of a database service's app role (jq_<name>)."""
    return f"JINQIAO_{entry.env_name}_DB_PASSWORD"


def nats_password_variable(user: str) -> str:
    """The variable holding a broker login's password: the runner's, or ``JINQIAO_<NAME>_NATS_PASSWORD``."""
    if user == ADMIN:
        return NATS_ADMIN_PASSWORD
    return f"JINQIAO_{catalog.get(user).env_name}_NATS_PASSWORD"


# ------------------------------------------------------------------------------------------------ migrate


class MissingSettings(Exception):
    """Variables `jinqiao migrate` needs and was not given; the message names every one."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"缺少环境变量 / missing environment variables: {', '.join(self.names)}")


@dataclass(frozen=True, slots=True)
class MigratePlan:
    """What one run of `jinqiao migrate` does: which databases, with which passwords, and the broker if given."""

    admin_dsn: str
    passwords: dict[str, str]
    nats_url: str = ""
    nats_admin_password: str = ""


def database_services(names: Iterable[str] = ()) -> list[catalog.ServiceEntry]:
    """The catalogued services with a database, in catalogue order; only ``names`` when given (each must be one)."""
    wanted = list(dict.fromkeys(names))
    entries = [e for e in catalog.load() if e.database]
    if not wanted:
        return entries
    known = {e.name for e in entries}
    if unknown := [n for n in wanted if n not in known]:
        raise ValueError(f"没有数据库的服务或未登记的服务 / not a catalogued database service: {', '.join(unknown)}"
                         f" (known: {', '.join(sorted(known))})")
    return [e for e in entries if e.name in wanted]


def plan(env: Mapping[str, str], services: Sequence[catalog.ServiceEntry]) -> MigratePlan:
    """Read the run's settings from ``env``; every missing one is named at once (MissingSettings)."""
    missing = [name for name in (ADMIN_DATABASE_URL, *(db_password_variable(e) for e in services))
               if not env.get(name)]
    if missing:
        raise MissingSettings(missing)
    return MigratePlan(admin_dsn=env[ADMIN_DATABASE_URL],
                       passwords={e.name: env[db_password_variable(e)] for e in services},
                       nats_url=env.get("JINQIAO_NATS_URL", ""), nats_admin_password=env.get(NATS_ADMIN_PASSWORD, ""))


async def migrate_database(*, admin_dsn: str, service: str, app_password: str) -> list[str]:
    """Provision one service's roles and database and bring its schema to head; its Alembic revisions after."""
    from jinqiao.kit.migrations import migrate
    from jinqiao.kit.runtime.provision import provision_service_database

    db = await provision_service_database(admin_dsn=admin_dsn, service=service, app_password=app_password)
    await migrate(service=service, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    conn = await asyncpg.connect(db.admin_dsn_for_db)
    try:
        return [row["version_num"] for row in await conn.fetch("SELECT version_num FROM alembic_version ORDER BY 1")]
    finally:
        await conn.close()


async def declare_streams(*, nats_url: str, admin_password: str, services: Iterable[catalog.ServiceEntry]) -> list[str]:
    """Create or bring up to date each producing service's stream with the runner's login; their names."""
    from jinqiao.kit import broker as kit_broker
    from jinqiao.kit import events as ev

    producers = [e for e in services if e.produces_events]
    broker = kit_broker.build_broker(url=nats_url, name="jinqiao-migrate", user=ADMIN, password=admin_password)
    await asyncio.wait_for(broker.connect(), timeout=60)
    try:
        for entry in producers:
            await kit_broker.ensure_stream(broker, service=entry.name)
    finally:
        await broker.stop()
    return [ev.stream_name(e.name) for e in producers]


async def run_migrate(*, env: Mapping[str, str], names: Sequence[str] = (), streams: bool = True,
                      out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                      migrate_one: Callable[..., Awaitable[list[str]]] | None = None,
                      declare: Callable[..., Awaitable[list[str]]] | None = None) -> int:
    """`jinqiao migrate`: one line per service (and one for the streams); non-zero naming what failed or is missing.

    ``migrate_one`` and ``declare`` default to the real ones (tests pass fakes). Services run one after another:
    Alembic's ``op`` and ``context`` are process-wide, so two upgrades at once would cross databases.
    """
    migrate_one = migrate_one or migrate_database
    declare = declare or declare_streams
    try:
        services = database_services(names)
        run = plan(env, services)
    except (MissingSettings, ValueError) as exc:
        print(f"jinqiao migrate: {exc}", file=err)
        return 2
    failed: list[str] = []
    for entry in services:
        try:
            versions = await migrate_one(admin_dsn=run.admin_dsn, service=entry.name,
                                         app_password=run.passwords[entry.name])
        except Exception as exc:  # noqa: BLE001 - reported per service; the others still run
            failed.append(entry.name)
            print(f"{entry.name}: 失败 / failed: {type(exc).__name__}: {exc}", file=err, flush=True)
            continue
        print(f"{entry.name}: 已是最新 / at head ({', '.join(versions) or '-'}) jinqiao_{entry.name}", file=out,
              flush=True)
    if streams and not names:
        if not (run.nats_url and run.nats_admin_password):
            print(f"streams: 未声明 / not declared (set JINQIAO_NATS_URL and {NATS_ADMIN_PASSWORD}, "
                  "or pass --no-streams)", file=err)
            failed.append("streams")
        else:
            try:
                declared = await declare(nats_url=run.nats_url,
                                         admin_password=run.nats_admin_password, services=catalog.load())
            except Exception as exc:  # noqa: BLE001 - the databases' lines above still stand
                failed.append("streams")
                print(f"streams: 失败 / failed: {type(exc).__name__}: {exc}", file=err, flush=True)
            else:
                print(f"streams: 已声明 / declared ({', '.join(declared)})", file=out, flush=True)
    if failed:
        print(f"jinqiao migrate: 未完成 / incomplete: {', '.join(failed)}", file=err)
        return 1
    return 0


def add_migrate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`jinqiao migrate [--service NAME]… [--no-streams]`."""
    parser = commands.add_parser(
        "migrate", help="为外部 PostgreSQL 建库建角色并迁移到最新、声明消息流 / provision and migrate every database "
                        f"({ADMIN_DATABASE_URL}, JINQIAO_<NAME>_DB_PASSWORD) and declare the streams")
    parser.add_argument("--service", action="append", default=[], metavar="NAME",
                        help="只处理这个服务（可重复；此时不声明消息流）/ only this service (repeatable; "
                             "streams skipped)")
    parser.add_argument("--no-streams", action="store_true",
                        help=f"不声明消息流 / do not declare the streams (no {NATS_ADMIN_PASSWORD} needed)")


# ------------------------------------------------------------------------------------------------ the broker


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _allow(subjects: Sequence[str]) -> str:
    # An empty allow list would mean "no restriction" to the server: deny everything instead (as natsauth).
    return f"{{allow: {_quoted(subjects)}}}" if subjects else '{deny: [">"]}'


def nats_authorization(entries: Iterable[catalog.ServiceEntry] | None = None) -> str:
    """The deployed broker's ``authorization`` block: natsauth's logins and grants, passwords as ``$VARIABLES``."""
    lines = ["authorization {", "  users = [",
             f'    {{user: "{ADMIN}", password: ${nats_password_variable(ADMIN)}}}']
    for entry in catalog.load() if entries is None else entries:
        publish, subscribe = service_grants(entry)
        lines.append(f'    {{user: "{entry.name}", password: ${nats_password_variable(entry.name)}, '
                     f"permissions: {{publish: {_allow(publish)}, subscribe: {_allow(subscribe)}}}}}")
    lines += ["  ]", "}"]
    return "\n".join(lines)


def nats_authorization_file(entries: Iterable[catalog.ServiceEntry] | None = None) -> str:
    """deploy/nats/authorization.conf as committed (scripts/deploy_gen.py writes it; `jinqiao nats-config` prints)."""
    header = ("# Generated from services/catalog.toml by scripts/deploy_gen.py (`jinqiao nats-config` prints it):\n"
              "# one login per service with kit/runtime/natsauth.py's grants, and the runner's (it declares the\n"
              "# streams: `jinqiao migrate`). Each password is an environment variable of the NATS server, never a\n"
              "# literal.\n")
    return header + nats_authorization(entries) + "\n"


# ------------------------------------------------------------------------------------------------ the container


def probe_url(env: Mapping[str, str]) -> str | None:
    """Where this container's readiness is asked: the gateway's HTTP port, else a service's metrics port."""
    name = env.get("JINQIAO_SERVICE_NAME", "")
    try:
        entry = catalog.get(name)
    except KeyError:
        return None
    if entry.http_port is not None:
        port = env.get("JINQIAO_HTTP_PORT") or str(entry.http_port)
    else:
        port = env.get("JINQIAO_METRICS_PORT") or str(entry.metrics_port)
    return f"http://127.0.0.1:{int(port)}/readyz"


def probe(env: Mapping[str, str], *, timeout: float = 4.0) -> int:
    """0 when the process answers ready (HTTP 200); 0 too for a container serving nothing (the migrate job)."""
    url = probe_url(env)
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a fixed loopback URL
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"未就绪 / not ready: {url}: {exc}", file=sys.stderr)
        return 1


def server_command(name: str) -> list[str]:
    """The command that runs a catalogued process: its server module under this interpreter."""
    return [sys.executable, "-m", catalog.get(name).server]


def main(argv: Sequence[str] | None = None) -> None:
    """The image's entrypoint: ``serve [NAME]`` (default), ``probe``, or any `jinqiao` command (``migrate``…)."""
    args = list(sys.argv[1:] if argv is None else argv) or ["serve"]
    if args[0] == "probe":
        sys.exit(probe(os.environ))
    if args[0] == "serve":
        name = args[1] if len(args) > 1 else os.environ.get("JINQIAO_SERVICE_NAME", "")
        try:
            command = server_command(name)
        except KeyError:
            known = ", ".join(e.name for e in catalog.load())
            print(f"未知服务 / unknown service {name!r}: set JINQIAO_SERVICE_NAME to one of {known}", file=sys.stderr)
            sys.exit(2)
        os.environ["JINQIAO_SERVICE_NAME"] = name
        # exec: the server is the container's main process and receives its signals (SIGTERM on stop) itself.
        os.execv(command[0], command)
    from jinqiao.kit.runtime import cli

    cli.main(args)


if __name__ == "__main__":
    main()
