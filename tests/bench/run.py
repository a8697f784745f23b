"""`make bench`: the platform's figures against the raw-component floor, measured in the same run.

``python -m tests.bench.run [section …]`` runs the sections named (all by default): write, import, subtree,
dashboards, saga, retention, desk, loans, notifications, memory. Each prints its figures beside their floor and the
issue-16 targets as met or NOT MET; the run ends with the table of every target.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

from jinqiao.kit.auth import TokenIssuer, generate_signing_keypair
from jinqiao.kit.crypto import encode_keyring, generate_key
from jinqiao.kit.migrations import migrate
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.runtime.sandbox import Sandbox
from jinqiao.kit.settings import KitSettings
from tests.bench.common import CALLS, CONCURRENCY, WARMUP, BenchContext, floor, load, print_verdicts, summary
from tests.bench.dashboards import bench_dashboards
from tests.bench.desk import bench_desk
from tests.bench.imports import bench_import
from tests.bench.loans import bench_loans
from tests.bench.memory import bench_memory
from tests.bench.notifications import bench_notifications
from tests.bench.retention import bench_retention
from tests.bench.saga import bench_saga, event_floor
from tests.bench.subtree import bench_subtree
from tests.bench.write import bench_write


async def _saga(ctx: BenchContext) -> None:
    # The relay wakes on every commit (LISTEN/NOTIFY across processes); bench_saga sets a long poll to show it.
    await bench_saga(registry=ctx.registry, organizations=ctx.organizations, issuer=ctx.issuer,
                     floor=await event_floor(ctx.box.nats_url_as()))


async def _import(ctx: BenchContext) -> None:
    await bench_import(admin_dsn=ctx.registry_admin_dsn, settings=ctx.registry, issuer=ctx.issuer)


async def _retention(ctx: BenchContext) -> None:
    await bench_retention(admin_dsn=ctx.registry_admin_dsn, app_dsn=ctx.registry.database_url)


async def _desk(ctx: BenchContext) -> None:
    await bench_desk(box_admin_dsn=ctx.box.admin_dsn, base=ctx.registry,
                     nats_password=ctx.box.nats_login("desk").password, issuer=ctx.issuer, floor=floor, load=load,
                     summary=summary, calls=CALLS, warmup=WARMUP, concurrency=CONCURRENCY)


async def _loans(ctx: BenchContext) -> None:
    await bench_loans(box_admin_dsn=ctx.box.admin_dsn, base=ctx.registry,
                      nats_password=ctx.box.nats_login("desk").password, issuer=ctx.issuer, floor=floor, load=load,
                      summary=summary, calls=CALLS, warmup=WARMUP, concurrency=CONCURRENCY)


async def _notifications(ctx: BenchContext) -> None:
    await bench_notifications(box_admin_dsn=ctx.box.admin_dsn, base=ctx.registry)


SECTIONS: dict[str, Callable[[BenchContext], Awaitable[None]]] = {
    "write": bench_write,
    "import": _import,
    "subtree": bench_subtree,
    "dashboards": bench_dashboards,
    "saga": _saga,
    "retention": _retention,
    "desk": _desk,
    "loans": _loans,
    "notifications": _notifications,
    "memory": bench_memory,
}


async def main(sections: tuple[str, ...] = tuple(SECTIONS)) -> None:
    """Run the chosen figures (all by default) in one go on this machine."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-bench-"))
    root.chmod(0o755)
    # FastStream logs an INFO line whenever a consumer task ends; between the figures they are only noise.
    logging.getLogger("faststream.access.nats").addFilter(lambda record: record.levelno >= logging.WARNING)
    with Sandbox(prefix="jinqiao-bench-") as box:
        db = await provision_service_database(admin_dsn=box.admin_dsn, service="registry", app_password="bench")
        await migrate(service="registry", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
        orgs_db = await provision_service_database(admin_dsn=box.admin_dsn, service="organizations",
                                                   app_password="bench")
        await migrate(service="organizations", admin_dsn=orgs_db.admin_dsn_for_db, owner_role=orgs_db.owner_role)
        keys = root / "keys"
        keys.mkdir()
        private, public = generate_signing_keypair()
        (keys / "private.pem").write_bytes(private)
        (keys / "public.pem").write_bytes(public)
        # Policy timers off: their sweeps would land inside the measured windows.
        settings = KitSettings(
            service_name="registry", grpc_port=0, database_url=db.app_dsn, nats_url=box.nats_url,
            nats_user="registry", nats_password=box.nats_login("registry").password,
            jwt_public_key_file=keys / "public.pem", pii_keys=encode_keyring({1: generate_key()}),
            blind_index_key=base64.b64encode(generate_key()).decode(), db_pool_max=10, log_level="warning",
            timer_interval_seconds=0,
        )
        orgs_settings = settings.model_copy(update={
            "service_name": "organizations", "database_url": orgs_db.app_dsn, "nats_user": "organizations",
            "nats_password": SecretStr(box.nats_login("organizations").password)})
        issuer = TokenIssuer(private_key_pem=private, issuer="jinqiao", audience="jinqiao", ttl_seconds=3600)
        ctx = BenchContext(box=box, root=root, registry=settings, organizations=orgs_settings,
                           registry_admin_dsn=db.admin_dsn_for_db, organizations_admin_dsn=orgs_db.admin_dsn_for_db,
                           issuer=issuer)
        for name in sections:
            print(f"\n== {name} ==")
            await SECTIONS[name](ctx)
    print_verdicts()


def chosen(argv: list[str]) -> tuple[str, ...]:
    """The sections named on the command line, in run order; none named means all."""
    unknown = set(argv) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    return tuple(s for s in SECTIONS if s in argv) or tuple(SECTIONS)


if __name__ == "__main__":
    picked = chosen(sys.argv[1:])
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(picked))
    else:
        uvloop.run(main(picked))
