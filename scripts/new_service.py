"""Scaffold a service in the house layout and add its entry to services/catalog.toml.

    .venv/bin/python scripts/new_service.py services-desk --package jinqiao.desk

writes services/<folder>/ (server, api, service, domain, repo, models, migrations), an empty proto
jinqiao.<name>.v1.<Pascal>Service, a health test under tests/integration/<name>/, the catalogue entry,
then regenerates the stubs and reinstalls the package so the new modules import. It refuses a name
that already exists.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "services" / "catalog.toml"
NAME = re.compile(r"[a-z][a-z_]{0,40}")
FIRST_GRPC_PORT = 17051
METRICS_OFFSET = 100  # 17051 → 17151, as the catalogue's services have it


def pascal(name: str) -> str:
    """``service_desk`` → ``ServiceDesk``."""
    return "".join(part.capitalize() for part in name.split("_"))


def files(*, name: str, folder: str, produces_events: bool) -> dict[str, str]:
    """Every file of the new service, by path relative to the repository."""
    p = pascal(name)
    pkg = f"jinqiao.{name}"
    src = f"services/{folder}"
    outbox_up = "    kit.create_outbox()\n    kit.fair_outbox_pending()\n" if produces_events else ""
    outbox_down = "    kit.drop_outbox()\n" if produces_events else ""
    shared = "audit log, inbox, dead letters" + (", outbox" if produces_events else "")
    return {
        f"{src}/__init__.py": f'"""{name}: the {p} service (scaffolded; nothing built yet)."""\n',
        f"{src}/server.py": f'''"""{p} process: the one place the service is wired; the rest comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from {pkg} import service
from {pkg}.api import {p}Servicer
from {pkg}.v1 import {name}_pb2, {name}_pb2_grpc
from jinqiao.kit.process import Register, ServiceContext, run_catalogued

SERVICE_NAME = {name}_pb2.DESCRIPTOR.services_by_name["{p}Service"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Build the servicer; consumers are subscribed and timers started here once the service has them."""
    servicer = {p}Servicer(service.{p}Deps(db=ctx.db))
    return [lambda server: {name}_pb2_grpc.add_{p}ServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=service.SERVICE, setup=setup)
''',
        f"{src}/api.py": f'''"""{p} gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

from {pkg} import service
from {pkg}.v1 import {name}_pb2_grpc


class {p}Servicer({name}_pb2_grpc.{p}ServiceServicer):
    """{pkg}.v1.{p}Service."""

    def __init__(self, deps: service.{p}Deps) -> None:
        self._deps = deps
''',
        f"{src}/service.py": f'''"""{p} use cases: one function per act, keyword-only, tenant explicit."""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.kit.db import Database

SERVICE = "{name}"


@dataclass(frozen=True, slots=True)
class {p}Deps:
    """What the use cases need, built once in ``server.py``."""

    db: Database
''',
        f"{src}/domain.py": f'''"""{p} domain: rules and value types, no I/O and no framework imports."""

from __future__ import annotations
''',
        f"{src}/repo.py": f'''"""{p} repository: SQL inside the caller's unit of work."""

from __future__ import annotations
''',
        f"{src}/models.py": f'''"""{p} persistence model: table names and row mapping (migrations create the tables)."""

from __future__ import annotations
''',
        f"{src}/migrations/__init__.py": f'"""Alembic scripts of the {name} database."""\n',
        f"{src}/migrations/env.py": f'''"""Alembic environment of the {name} database (the kit does the work)."""

from jinqiao.kit.migrations import run_env

run_env()
''',
        f"{src}/migrations/script.py.mako": (ROOT / "services/insights/migrations/script.py.mako").read_text(),
        f"{src}/migrations/versions/0001_initial.py": f'''"""the kit's shared tables: {shared}

Revision ID: 0001
Revises:
"""

from jinqiao.kit import migrations as kit

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the kit's tables; the service's own come in later revisions."""
{outbox_up}    kit.create_inbox()
    kit.create_dead_letters()
    kit.create_audit_log()
    kit.create_retention(outbox={produces_events}, inbox=True)


def downgrade() -> None:
    """Drop everything this revision created."""
    kit.drop_retention()
    kit.drop_audit_log()
    kit.drop_dead_letters()
    kit.drop_inbox()
{outbox_down}''',
        f"proto/jinqiao/{name}/v1/{name}.proto": f'''syntax = "proto3";

package jinqiao.{name}.v1;

// {p}Service is the {name} service's API (no RPCs yet).
service {p}Service {{}}
''',
        f"tests/integration/{name}/__init__.py": "",
        f"tests/integration/{name}/test_{name}_health.py": f'''\
"""{p} starts on the session's PostgreSQL and NATS: healthy, reflected."""

from __future__ import annotations

from jinqiao.kit import catalog
from tests.integration.conftest import serves_health_and_reflection


async def test_{name}_serves_health_and_reflection(settings_for):
    assert await serves_health_and_reflection(catalog.get("{name}"), settings_for("{name}"))
''',
    }


def catalog_entry(*, name: str, folder: str, produces_events: bool, grpc_port: int) -> str:
    """The ``[[service]]`` table of the new service."""
    p = pascal(name)
    return f'''
[[service]]
name = "{name}"
package = "jinqiao.{name}"
path = "services/{folder}"
server = "jinqiao.{name}.server"
proto_service = "jinqiao.{name}.v1.{p}Service"
stub = "jinqiao.{name}.v1.{name}_pb2_grpc:{p}ServiceStub"
database = true
produces_events = {str(produces_events).lower()}
grpc_port = {grpc_port}
metrics_port = {grpc_port + METRICS_OFFSET}
'''


def next_port(services: list[dict[str, object]]) -> int:
    """The lowest gRPC port from 17051 up that no catalogued service uses (nor its metrics port)."""
    taken = {int(str(s[key])) for s in services for key in ("grpc_port", "metrics_port", "http_port") if key in s}
    port = FIRST_GRPC_PORT
    while port in taken or port + METRICS_OFFSET in taken:
        port += 1
    return port


def main(argv: list[str] | None = None) -> int:
    """Check the name is new, write the files and the entry, regenerate stubs, reinstall."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder under services/, e.g. services-desk")
    parser.add_argument("--package", required=True, help="import name, e.g. jinqiao.desk (or just desk)")
    parser.add_argument("--produces-events", action="store_true", help="give it an outbox and a JetStream stream")
    parser.add_argument("--grpc-port", type=int, help="default: the lowest free one from 17051")
    parser.add_argument("--no-install", action="store_true", help="skip regenerating stubs and reinstalling")
    args = parser.parse_args(argv)
    name = args.package.removeprefix("jinqiao.")
    if not NAME.fullmatch(name) or not re.fullmatch(r"[a-z][a-z0-9_-]*", args.folder):
        print(f"名称无效 / not a service name: {args.package!r} (lower case letters and _), {args.folder!r}",
              file=sys.stderr)
        return 2
    services = tomllib.loads(CATALOG.read_text(encoding="utf-8")).get("service", [])
    clashes = [s["name"] for s in services if s["name"] == name or s["path"] == f"services/{args.folder}"]
    written = files(name=name, folder=args.folder, produces_events=args.produces_events)
    # An existing bare package (an __init__.py placeholder) is kept; any other file means the service exists.
    existing = [path for path in written if (ROOT / path).exists() and not path.endswith("__init__.py")]
    if clashes or existing:
        print(f"服务已存在 / service already exists: {clashes or existing}", file=sys.stderr)
        return 1
    for path, text in written.items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(text, encoding="utf-8")
    # Import order depends on the name (jinqiao.desk sorts before jinqiao.kit, jinqiao.notifications after).
    python = [str(ROOT / path) for path in written if path.endswith(".py")]
    subprocess.run([sys.executable, "-m", "ruff", "check", "-q", "--select", "I", "--fix", *python], cwd=ROOT,
                   capture_output=True)
    port = args.grpc_port or next_port(services)
    with CATALOG.open("a", encoding="utf-8") as catalog:
        catalog.write(catalog_entry(name=name, folder=args.folder, produces_events=args.produces_events,
                                    grpc_port=port))
    print(f"已创建 / scaffolded jinqiao.{name} in services/{args.folder} (gRPC port {port})")
    if not args.no_install:
        # The new proto package's stubs, and an editable install that maps jinqiao.<name>.v1 to them.
        for step in ([str(ROOT / "scripts" / "gen_protos.py")], ["-m", "pip", "install", "-q", "--no-deps", "-e", "."]):
            done = subprocess.run([sys.executable, *step], cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return done.returncode
    print(f"next: .venv/bin/python -m pytest tests/integration/{name} -q")
    return 0


if __name__ == "__main__":
    sys.exit(main())
