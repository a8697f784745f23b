"""The loans' figures: CreateLoanApplication over gRPC beside the write floor, and one repayments sweep (overdue
figures and reminders) over 10,000 loans being repaid.

``python -m tests.bench.run loans`` runs them (the floor is measured in the same run).
"""

from __future__ import annotations

import calendar
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc
from pydantic import SecretStr

from jinqiao.desk import server as desk_server
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.repayments import timers as repayments_timers
from jinqiao.desk.v1 import desk_pb2_grpc, loans_pb2
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import start_service
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.settings import KitSettings

COUNTIES = ["411502", "411503", "411521", "411522", "411523", "411524", "411525", "411526", "411527", "411528"]
SWEEP_LOANS = 10_000
TERM = 12
# The sweep's day: Wednesday 2 December 2026 (Beijing).
SWEEP_TODAY = date(2026, 12, 2)
RULES = {"allow_probationary": False, "min_party_years": 1, "min_grade": "COMPETENT", "require_no_overdue": True,
         "min_age": 18, "max_age": 60, "require_returnee": False}


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, kept within the month (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def _programmes(conn: asyncpg.Connection, *, quota_fen: int) -> dict[str, str]:
    """One open 党员先锋贷 per county with a quota no bench run reaches."""
    ids: dict[str, str] = {}
    now = datetime.now(UTC)
    for county in COUNTIES:
        ids[county] = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO loan_programmes (tenant_id, id, name, product, bank_code, bank_name, cap_per_person_fen,"
            " max_term_months, methods, rate_bp, subsidy_bp, total_quota_fen, window_start, rules, created_by,"
            " created_at, updated_at) VALUES ($1, $2, '党员先锋贷', 1, 'gsrcb', '固始农商银行', 30000000, 36,"
            " '{1,2,3}', 435, 0, $3, '2026-01-01', $4::jsonb, 'bench', $5, $5)",
            county, ids[county], quota_fen, json.dumps(RULES), now)
    return ids


async def _members(conn: asyncpg.Connection, *, per_county: int) -> dict[str, list[str]]:
    """Members of the replica with the facts registry's MemberProfileChanged carries, all eligible."""
    members = {c: [str(uuid.uuid4()) for _ in range(per_county)] for c in COUNTIES}
    now = datetime.now(UTC)
    await conn.copy_records_to_table("desk_members", records=[
        (c, m, f"党员{i}", "城关镇", True, "MEMBERSHIP_STATUS_FULL", date(2015, 7, 1), 1985, "EXCELLENT", 2025, now)
        for c, ids in members.items() for i, m in enumerate(ids)], columns=[
        "tenant_id", "id", "name", "township", "active", "membership_status", "join_date", "birth_year",
        "latest_grade", "latest_grade_year", "facts_at"])
    return members


async def bench_create_application(*, settings: KitSettings, admin_dsn: str, issuer: TokenIssuer,
                                   load: Callable[..., Awaitable[tuple[list[float], float]]],
                                   summary: Callable[..., dict[str, float]], calls: int, warmup: int,
                                   concurrency: int) -> dict[str, float] | None:
    """CreateLoanApplication over gRPC, filed by county staff on behalf of eligible members (replica seeded
    directly): every call checks the rules, numbers the loan, writes its step, audit row and event."""
    per_county = (calls + warmup + 1) // len(COUNTIES) + 2
    conn = await asyncpg.connect(admin_dsn)
    programmes = await _programmes(conn, quota_fen=10**13)
    members = await _members(conn, per_county=per_county)
    await conn.close()
    running = await start_service(settings, service="desk", service_names=[desk_server.SERVICE_NAME],
                                  produces_events=True, setup=desk_server.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = desk_pb2_grpc.DeskServiceStub(channel)
    metadata = {county: (("authorization", "Bearer " + issuer.issue(
        user="bench-county", role=Role.COUNTY_ADMIN, scope=county)[0]),) for county in COUNTIES}

    async def call(i: int) -> object:
        # Spread over the ten counties (as the floor's writes are); each member applies once.
        county = COUNTIES[i % len(COUNTIES)]
        return await stub.CreateLoanApplication(loans_pb2.CreateLoanApplicationRequest(
            programme_id=programmes[county], member_id=members[county][i // len(COUNTIES)], amount_fen=10_000_000,
            term_months=TERM, method=loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, purpose="扩建蛋鸡养殖棚",
            business_plan="现有蛋鸡 3000 羽，计划扩到 6000 羽。"), metadata=metadata[county])

    offset = 0

    async def shifted(i: int) -> object:
        return await call(offset + i)

    try:
        await call(calls + warmup)  # the last member of its county: never reused by the measured calls
    except grpc.aio.AioRpcError as err:
        print(f"  platform: CreateLoanApplication     skipped: {err.code().name} {err.details()}")
        await channel.close()
        await running.stop()
        return None
    await load(shifted, calls=warmup, concurrency=concurrency)
    offset = warmup
    result = summary("platform: desk CreateLoanApplication", *await load(shifted, calls=calls,
                                                                         concurrency=concurrency))
    await channel.close()
    await running.stop()
    return result


async def _seed_repaying(admin_dsn: str) -> dict[str, int]:
    """10,000 disbursed 12-month loans over ten counties with their schedules: ~80 % paid up with the next due date
    weeks away, ~15 % due within 7 days (reminders), ~5 % with their first instalments missed (overdue)."""
    rng = random.Random(14)
    conn = await asyncpg.connect(admin_dsn)
    programmes = await _programmes(conn, quota_fen=10**13)
    loans, instalments = [], []
    kinds = {"current": 0, "due_soon": 0, "overdue": 0}
    now = datetime.now(UTC)
    principal, monthly_principal = 1_200_000, 100_000  # 1.2 万元 over 12 months (equal principal, round numbers)
    for i in range(SWEEP_LOANS):
        county = COUNTIES[i % len(COUNTIES)]
        roll = rng.random()
        if roll < 0.05:
            kind, first_due = "overdue", SWEEP_TODAY - timedelta(days=70 + rng.randrange(0, 20))
        elif roll < 0.20:
            kind, first_due = "due_soon", SWEEP_TODAY + timedelta(days=1 + rng.randrange(0, 7))
        else:
            kind, first_due = "current", SWEEP_TODAY + timedelta(days=10 + rng.randrange(0, 15))
        kinds[kind] += 1
        loan_id = uuid.uuid4()
        disbursed = _add_months(first_due, -1)
        loans.append((county, loan_id, f"贷B{i:07d}", uuid.UUID(programmes[county]), uuid.uuid4(), "党员", principal,
                      TERM, 2, "bench", 6, 0, 1, "bench", principal, 435, 0, disbursed, principal, now, now,
                      first_due if kind != "overdue" else None))
        for seq in range(1, TERM + 1):
            balance = principal - seq * monthly_principal
            interest = (principal - (seq - 1) * monthly_principal) * 435 // 120_000
            instalments.append((county, loan_id, seq, _add_months(first_due, seq - 1), monthly_principal, interest, 0,
                                balance))
    await conn.copy_records_to_table("loans", records=loans, columns=[
        "tenant_id", "id", "number", "programme_id", "member_id", "member_name", "amount_fen", "term_months", "method",
        "purpose", "status", "pending_tier", "channel", "applied_by", "granted_amount_fen", "rate_bp", "subsidy_bp",
        "disbursed_on", "outstanding_principal_fen", "created_at", "updated_at", "next_due_date"])
    await conn.copy_records_to_table("loan_instalments", records=instalments, columns=[
        "tenant_id", "loan_id", "seq", "due_date", "principal_fen", "interest_fen", "subsidy_fen", "balance_after_fen"])
    await conn.execute("ANALYZE loans")
    await conn.execute("ANALYZE loan_instalments")
    await conn.close()
    return kinds


async def bench_overdue_sweep(*, admin_dsn: str, app_dsn: str, settings: KitSettings) -> None:
    """The day's first repayments sweep over 10,000 loans being repaid, then the next one; prints loans/s and what
    it emitted."""
    kinds = await _seed_repaying(admin_dsn)
    db = await Database.connect(app_dsn, min_size=2, max_size=4)
    sweep_now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    deps = DeskDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: sweep_now)
    started = time.perf_counter()
    try:
        sent = await repayments_timers.sweep_all_tenants(deps=deps, today=SWEEP_TODAY)
    except Exception as err:  # the repayments concept may be unfinished: report, never abort the other figures
        print(f"\nrepayments sweep over {SWEEP_LOANS:,} loans   skipped: {err!r}")
        await db.close()
        return
    elapsed = time.perf_counter() - started
    # The timer runs every minute; a loan is visited once a day, so every later sweep that day is this one.
    started = time.perf_counter()
    await repayments_timers.sweep_all_tenants(deps=deps, today=SWEEP_TODAY)
    again = time.perf_counter() - started
    conn = await asyncpg.connect(admin_dsn)
    overdue = await conn.fetchval("SELECT count(*) FROM loans WHERE overdue_fen > 0")
    reminders = await conn.fetch("SELECT kind, count(*) FROM loan_reminders GROUP BY kind ORDER BY kind")
    await conn.close()
    await db.close()
    print(f"\nrepayments sweep over {SWEEP_LOANS:,} loans being repaid in {len(COUNTIES)} counties "
          f"({kinds['due_soon']:,} due within 7 days, {kinds['overdue']:,} with missed instalments)")
    # Disbursement leaves each loan's next due date; the seeded overdue ones have none (never computed), so the
    # first sweep visits the loans due within 7 days or past due, and skips the rest by the index.
    visited = kinds["due_soon"] + kinds["overdue"]
    print(f"  the day's first sweep            {elapsed:8.2f} s   {visited:,} loans visited, "
          f"{visited / elapsed:>7.0f} loans/s")
    print(f"  the next sweep the same day      {again:8.2f} s   (each loan is visited once a day)")
    print(f"  reminders and overdue notices    {sent:8d}   loans now overdue: {overdue:,}; "
          + ", ".join(f"{r['kind']} {r['count']}" for r in reminders))


async def bench_loans(*, box_admin_dsn: str, base: KitSettings, nats_password: str, issuer: TokenIssuer,
                      floor: Callable[[str], Awaitable[dict[str, float]]],
                      load: Callable[..., Awaitable[tuple[list[float], float]]],
                      summary: Callable[..., dict[str, float]], calls: int, warmup: int, concurrency: int) -> None:
    """The loans section: applications beside the floor (same run), then the repayments sweep on a clean table."""
    db = await provision_service_database(admin_dsn=box_admin_dsn, service="desk", app_password="bench")
    await migrate(service="desk", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    settings = base.model_copy(update={"service_name": "desk", "database_url": db.app_dsn, "nats_user": "desk",
                                       "nats_password": SecretStr(nats_password)})
    await _clear(db.admin_dsn_for_db)  # the desk section may have run first on the same database
    print(f"\nloans write path, concurrency {concurrency}, {calls} calls each")
    raw = await floor(db.admin_dsn_for_db)
    created = await bench_create_application(settings=settings, admin_dsn=db.admin_dsn_for_db, issuer=issuer,
                                             load=load, summary=summary, calls=calls, warmup=warmup,
                                             concurrency=concurrency)
    if created is not None:
        print(f"  ratio loans/floor: throughput {created['calls_per_s'] / raw['calls_per_s']:.2f}x, "
              f"p99 {created['p99_ms'] / raw['p99_ms']:.2f}x")
    await _clear(db.admin_dsn_for_db)
    await bench_overdue_sweep(admin_dsn=db.admin_dsn_for_db, app_dsn=db.app_dsn, settings=settings)


async def _clear(admin_dsn: str) -> None:
    """Start each figure from its own rows only."""
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute("TRUNCATE loan_programmes, loan_counters, loans, loan_steps, loan_instalments, loan_repayments,"
                       " loan_reminders, loan_attachments, outbox")
    await conn.execute("DELETE FROM desk_members WHERE name LIKE '党员%'")
    await conn.close()
