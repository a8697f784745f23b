"""The desk's figures: CreateTicket over gRPC beside the write floor, and one SLA sweep over 100,000 open tickets.

``python -m tests.bench.run desk`` runs them (the floor is measured in the same run).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import grpc
from pydantic import SecretStr

from jinqiao.desk import server as desk_server
from jinqiao.desk.calendar.domain import BEIJING, WorkCalendar, package_year
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla import service as sla_service
from jinqiao.desk.sla.domain import SlaPolicy, open_clocks
from jinqiao.desk.v1 import desk_pb2, desk_pb2_grpc, tickets_pb2
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import start_service
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.settings import KitSettings
from tests.bench.common import Target, verdict

TICKET_THROUGHPUT = Target("CreateTicket throughput / floor", 0.6, "x")
TICKET_P99 = Target("CreateTicket p99 / floor p99", 2.0, "x", higher_is_better=False)
SWEEP_TICKETS = 100_000
SWEEP_COUNTIES = ["411502", "411503", "411521", "411522", "411523", "411524", "411525", "411526", "411527", "411528"]
# The sweep's "now": Wednesday 4 November 2026, 15:00 in Beijing.
SWEEP_NOW = datetime(2026, 11, 4, 15, 0, tzinfo=BEIJING)
POLICIES = [SlaPolicy(first_response_minutes=420, update_minutes=840, resolution_minutes=4200, warn_percent=75),
            SlaPolicy(first_response_minutes=420, resolution_minutes=6300, warn_percent=75),
            SlaPolicy(same_day_first_response=True, assignment_minutes=1260, resolution_minutes=12600, warn_percent=75)]


async def _seed_tickets(admin_dsn: str) -> None:
    """100,000 open tickets over ten counties: ~85 % opened this afternoon, ~10 % yesterday afternoon (their first
    response warns by now), ~5 % on Monday (breached)."""
    calendar = WorkCalendar.from_years([package_year(2026)])  # type: ignore[list-item]
    rng = random.Random(13)
    records = []
    for i in range(SWEEP_TICKETS):
        roll = rng.random()
        if roll < 0.05:
            opened = datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING) + timedelta(minutes=rng.randrange(0, 300))
        elif roll < 0.15:
            opened = datetime(2026, 11, 3, 15, 35, tzinfo=BEIJING) + timedelta(minutes=rng.randrange(0, 60))
        else:
            opened = datetime(2026, 11, 4, 13, 30, tzinfo=BEIJING) + timedelta(minutes=rng.randrange(0, 90))
        policy = POLICIES[i % 2] if roll >= 0.05 or i % 3 else POLICIES[0]
        cols = open_clocks(policy=policy, calendar=calendar, at=opened)
        tenant = SWEEP_COUNTIES[i % len(SWEEP_COUNTIES)]
        records.append((tenant, uuid.uuid4(), f"B{i:08d}", "employment", 1, 2, 2, tenant, uuid.uuid4(), "岗位推荐",
                        "bench", opened, opened, json.dumps(cols["sla_policy"]), cols["first_response_due"],
                        cols["resolution_due"], cols["next_sla_check"]))
    conn = await asyncpg.connect(admin_dsn)
    # The superuser's COPY is not under RLS (the app role's would be refused).
    await conn.copy_records_to_table("tickets", records=records, columns=[
        "tenant_id", "id", "number", "category", "status", "priority", "channel", "member_home_tenant_id",
        "member_id", "title", "filed_by", "created_at", "updated_at", "sla_policy", "first_response_due",
        "resolution_due", "next_sla_check"])
    await conn.execute("ANALYZE tickets")
    await conn.close()


async def bench_sweep(*, admin_dsn: str, app_dsn: str, settings: KitSettings) -> None:
    """One sweep_all_tenants over 100,000 open tickets; prints tickets/s and the events emitted."""
    await _seed_tickets(admin_dsn)
    db = await Database.connect(app_dsn, min_size=2, max_size=4)
    deps = DeskDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: SWEEP_NOW)
    conn = await asyncpg.connect(admin_dsn)
    due = await conn.fetchval("SELECT count(*) FROM tickets WHERE next_sla_check <= $1", SWEEP_NOW)
    started = time.perf_counter()
    emitted = await sla_service.sweep_all_tenants(deps=deps, now=SWEEP_NOW)
    elapsed = time.perf_counter() - started
    kinds = await conn.fetch("SELECT kind, count(*) FROM ticket_sla_marks GROUP BY kind ORDER BY kind")
    await conn.close()
    await db.close()
    print(f"\nSLA sweep over {SWEEP_TICKETS:,} open tickets in {len(SWEEP_COUNTIES)} counties "
          f"({due:,} due a look)")
    print(f"  one sweep_all_tenants            {elapsed:8.2f} s   {SWEEP_TICKETS / elapsed:>9.0f} tickets/s   "
          f"{due / elapsed:>8.0f} due tickets/s")
    print(f"  events emitted                   {emitted:8d}   marks: "
          + ", ".join(f"{r['kind']} {r['count']}" for r in kinds))


async def bench_create_ticket(*, settings: KitSettings, admin_dsn: str, issuer: TokenIssuer,
                              load: Callable[..., Awaitable[tuple[list[float], float]]],
                              summary: Callable[..., dict[str, float]], calls: int, warmup: int,
                              concurrency: int) -> dict[str, float] | None:
    """CreateTicket over gRPC by station staff into their station's queue (replica rows seeded directly)."""
    # Spread over the ten counties, as real writes are (and as the write floor's CreateMember is): within one
    # county every filing takes the county's audit chain and its day's ticket counter in turn.
    stations: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    conn = await asyncpg.connect(admin_dsn)
    for county in SWEEP_COUNTIES:
        root, station = str(uuid.uuid4()), str(uuid.uuid4())
        stations[county] = station
        members[county] = [str(uuid.uuid4()) for _ in range(50)]
        await conn.execute("INSERT INTO desk_orgs (tenant_id, id, parent_id, name, kind) VALUES"
                           " ($1, $2, NULL, '中共某县委员会', 'COUNTY_COMMITTEE'),"
                           " ($1, $3, $2, '城关镇驻城党建工作站', 'TOWN_STATION')", county, root, station)
        await conn.executemany("INSERT INTO desk_members (tenant_id, id, name) VALUES ($1, $2, $3)",
                               [(county, m, f"党员{i}") for i, m in enumerate(members[county])])
    await conn.close()
    running = await start_service(settings, service="desk", service_names=[desk_server.SERVICE_NAME],
                                  produces_events=True, setup=desk_server.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = desk_pb2_grpc.DeskServiceStub(channel)
    metadata = {county: (("authorization", "Bearer " + issuer.issue(
        user="bench-staff", role=Role.STATION_STAFF, scope=county, org=stations[county])[0]),)
        for county in SWEEP_COUNTIES}

    async def call(i: int) -> object:
        county = SWEEP_COUNTIES[i % len(SWEEP_COUNTIES)]
        return await stub.CreateTicket(desk_pb2.CreateTicketRequest(
            category="training", title="报名电工培训", description="想参加电工培训", form_json="{}",
            member_home_tenant_id=county, member_id=members[county][(i // 10) % 50],
            serving_org_id=stations[county], channel=tickets_pb2.TICKET_CHANNEL_WALK_IN), metadata=metadata[county])

    try:
        await call(0)
    except grpc.aio.AioRpcError as err:
        print(f"  platform: CreateTicket              skipped: {err.code().name} {err.details()}")
        await channel.close()
        await running.stop()
        return None
    await load(call, calls=warmup, concurrency=concurrency)
    result = summary("platform: desk CreateTicket", *await load(call, calls=calls, concurrency=concurrency))
    await channel.close()
    await running.stop()
    return result


async def bench_desk(*, box_admin_dsn: str, base: KitSettings, nats_password: str, issuer: TokenIssuer,
                     floor: Callable[[str], Awaitable[dict[str, float]]],
                     load: Callable[..., Awaitable[tuple[list[float], float]]],
                     summary: Callable[..., dict[str, float]], calls: int, warmup: int, concurrency: int) -> None:
    """The desk section: ticket creation beside the floor (same run), then the SLA sweep on its own database."""
    db = await provision_service_database(admin_dsn=box_admin_dsn, service="desk", app_password="bench")
    await migrate(service="desk", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    settings = base.model_copy(update={"service_name": "desk", "database_url": db.app_dsn, "nats_user": "desk",
                                       "nats_password": SecretStr(nats_password)})
    print(f"\ndesk write path, concurrency {concurrency}, {calls} calls each")
    raw = await floor(db.admin_dsn_for_db)
    created = await bench_create_ticket(settings=settings, admin_dsn=db.admin_dsn_for_db, issuer=issuer, load=load,
                                        summary=summary, calls=calls, warmup=warmup, concurrency=concurrency)
    if created is not None:
        print(f"  ratio desk/floor: throughput {created['calls_per_s'] / raw['calls_per_s']:.2f}x, "
              f"p99 {created['p99_ms'] / raw['p99_ms']:.2f}x")
        verdict(TICKET_THROUGHPUT, created["calls_per_s"] / raw["calls_per_s"])
        verdict(TICKET_P99, created["p99_ms"] / raw["p99_ms"])
    await _clear_tickets(db.admin_dsn_for_db)
    await bench_sweep(admin_dsn=db.admin_dsn_for_db, app_dsn=db.app_dsn, settings=settings)


async def _clear_tickets(admin_dsn: str) -> None:
    """Start the sweep from the seeded tickets only."""
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute("TRUNCATE tickets, ticket_history, ticket_sla_marks, outbox")
    await conn.close()
