"""Province and city dashboards over the read model of a 1,000,000-member province, and its rebuild from the log.

``python -m tests.bench.run dashboards`` runs it (issue 16: dashboard p99 < 50 ms; the rebuild's time printed).

The province (Henan's shape: 160 counties under 18 cities, 1,000,000 members, 150,000 flows over a year, 30,000
tickets, 5,000 loans) is planned once, deterministically. The whole event log of ``REBUILD_COUNTIES`` counties (every
event about their members, flows, tickets and loans, the offers and check-ins published by the placing counties among
them) goes onto the sandbox's JetStream exactly as the producers' relays publish it, and a fresh insights service
rebuilds its read model from it; the time is printed beside a bare nats-py pull consumer reading the same messages.
The whole province's log (about 1.6 million events) is too long to replay on this 2-core machine in one bench run,
so the other counties' read-model rows are written by the same merges the consumers run (``FlowState.apply``,
``LoanFacts.apply``, the ticket counters) through COPY, and the rebuild's rate gives the whole log's projected time.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import import_module
from typing import Any

import asyncpg
import grpc
import nats
from google.protobuf.message import Message
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from jinqiao.events.v1 import desk_events_pb2 as desk_events
from jinqiao.events.v1 import loan_events_pb2 as loan_events
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.insights import domain
from jinqiao.insights.models import (
    FLOW_DERIVED_COLUMNS,
    FLOW_STATE_COLUMNS,
    LOAN_DERIVED_COLUMNS,
    LOAN_FACT_COLUMNS,
    flow_state_values,
    loan_facts_values,
)
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import start_service
from jinqiao.kit.runtime.provision import provision_service_database
from tests.bench.common import BenchContext, Target, load, pct, verdict

DASHBOARD_P99 = Target("province/city dashboard p99", 50.0, "ms", higher_is_better=False)

MEMBERS = 1_000_000
FLOWS = 150_000
TICKETS = 30_000
LOANS = 5_000
CITIES = 18
COUNTIES = 160
# The counties whose whole log is replayed through JetStream (1: about 8,500 events, 1/175 of the province's).
REBUILD_COUNTIES = int(os.environ.get("JINQIAO_BENCH_REBUILD_COUNTIES", "1"))
CALLS = int(os.environ.get("JINQIAO_BENCH_DASHBOARD_CALLS", "200"))
CONCURRENCY = 4
CITY = "4115"
OUTSIDE = ("110105", "310115", "440305", "320583", "330106", "440104", "350203", "510107")
INDUSTRIES = ("制造业", "建筑业", "批发和零售业", "交通运输业", "住宿和餐饮业", "信息技术服务业")
CATEGORIES = (("社保转移", "政策咨询"), ("子女入学", "民生服务"), ("劳动维权", "权益保障"), ("党费缴纳", "组织事务"),
              ("证明开具", "组织事务"))
PROGRAMMES = (("HN-XFD-2026", "先锋贷", "XFD-1"), ("HN-CYD-2026", "创业贷", "CYD-1"))


def counties() -> list[str]:
    """160 county codes under 18 cities (41 01 02 … 41 18 10): nine counties each in 16 cities, eight in two."""
    codes = []
    for c in range(1, CITIES + 1):
        per = 9 if c <= 16 else 8
        codes += [f"41{c:02d}{k:02d}" for k in range(2, 2 + per)]
    return codes


def months_back(today: date, n: int = 12) -> list[str]:
    """The n months before ``today``'s month, oldest first."""
    out, y, m = [], today.year, today.month
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        out.append(f"{y:04d}-{m:02d}")
    return out[::-1]


@dataclass(slots=True)
class FlowPlan:
    origin: str
    flow_id: str
    month: str
    destination: str
    industry: str
    outcome: str  # WAITING, OVERDUE, REFUSED, OFFERED, MANAGED, RETURNED


@dataclass(slots=True)
class TicketPlan:
    county: str
    ticket_id: str
    month: str
    category: str
    group: str
    serving: str
    resolved: tuple[bool, bool] | None
    score: int


@dataclass(slots=True)
class LoanPlan:
    county: str
    loan_id: str
    programme: tuple[str, str, str]
    amount_fen: int
    outcome: str  # PENDING, REFUSED, ACTIVE, SETTLED
    at: datetime


@dataclass(slots=True)
class Province:
    members: dict[str, int]
    flows: list[FlowPlan]
    tickets: list[TicketPlan]
    loans: list[LoanPlan]
    months: list[str]
    counties: list[str] = field(default_factory=counties)


def plan(today: date, *, seed: int = 16) -> Province:
    """The province, the same every run: members per county, flows, tickets and loans with their outcomes."""
    rnd = random.Random(seed)
    codes = counties()
    weights = [rnd.uniform(0.5, 1.5) for _ in codes]
    scale = MEMBERS / sum(weights)
    members = {c: int(w * scale) for c, w in zip(codes, weights, strict=True)}
    members[codes[0]] += MEMBERS - sum(members.values())
    months = months_back(today)
    flows = []
    origins = rnd.choices(codes, weights=weights, k=FLOWS)
    for origin in origins:
        destination = rnd.choice(OUTSIDE) if rnd.random() < 0.35 else rnd.choice(codes)
        r = rnd.random()
        outcome = ("WAITING" if r < 0.06 else "OVERDUE" if r < 0.10 else "REFUSED" if r < 0.14
                   else "OFFERED" if r < 0.30 else "MANAGED" if r < 0.85 else "RETURNED")
        flows.append(FlowPlan(origin, str(uuid.UUID(int=rnd.getrandbits(128))), rnd.choice(months), destination,
                              rnd.choice(INDUSTRIES), outcome))
    tickets = []
    for county in rnd.choices(codes, weights=weights, k=TICKETS):
        category, group = rnd.choice(CATEGORIES)
        resolved = (rnd.random() < 0.8, rnd.random() < 0.85) if rnd.random() < 0.8 else None
        tickets.append(TicketPlan(county, str(uuid.UUID(int=rnd.getrandbits(128))), rnd.choice(months), category,
                                  group, rnd.choice(("", "", f"station-{county}-1", f"station-{county}-2")),
                                  resolved, rnd.randint(1, 5) if resolved and rnd.random() < 0.5 else 0))
    loans = []
    for county in rnd.choices(codes, weights=weights, k=LOANS):
        r = rnd.random()
        loans.append(LoanPlan(county, str(uuid.UUID(int=rnd.getrandbits(128))), rnd.choice(PROGRAMMES),
                              rnd.randrange(50_000, 300_000) * 100,
                              "PENDING" if r < 0.1 else "REFUSED" if r < 0.2 else "ACTIVE" if r < 0.8 else "SETTLED",
                              datetime.now(UTC) - timedelta(days=rnd.randrange(1, 300))))
    return Province(members=members, flows=flows, tickets=tickets, loans=loans, months=months)


# ------------------------------------------------------------------------------------------------ the event log


@dataclass(frozen=True, slots=True)
class Published:
    subject: str
    headers: dict[str, str]
    payload: bytes


def _event(message: Message, *, service: str, tenant: str, aggregate: str, version: int = 1) -> Published:
    pending = ev.new_event(message, service=service, tenant=tenant, aggregate_id=aggregate,
                           aggregate_version=version, traceparent=None)
    headers = ev.headers_for(event_id=pending.event_id, event_type=pending.event_type,
                             event_version=pending.event_version, tenant=pending.tenant_id, traceparent=None)
    return Published(pending.subject, headers, pending.payload)


def _moment(month: str, day: int = 15) -> str:
    return f"{month}-{day:02d}T10:00:00+08:00"


def flow_events(f: FlowPlan) -> Iterator[Published]:
    """A flow's lifecycle as the registry (origin) and organizations (placing county) publish it."""
    placing = domain.placing_county(origin=f.origin, destination_code=f.destination)
    handover = {"destination_code": f.destination, "industry": f.industry, "placing_tenant_id": placing}
    member = f"m-{f.flow_id[:8]}"
    yield _event(reg_events.FlowRegistered(flow_id=f.flow_id, member_id=member, attempt=1,
                                           start_date=f"{f.month}-03", handover=handover),
                 service="registry", tenant=f.origin, aggregate=f.flow_id)
    if f.outcome == "OVERDUE":
        yield _event(reg_events.PolicyTimerFired(flow_id=f.flow_id, member_id=member, timer=domain.CHECK_IN_OVERDUE,
                                                 level=1, due_date=f"{f.month}-20", destination_code=f.destination,
                                                 industry=f.industry),
                     service="registry", tenant=f.origin, aggregate=f.flow_id, version=2)
    if f.outcome == "REFUSED":
        yield _event(org_events.TemporaryMembershipRefused(
            membership_id=f"t-{f.flow_id}", flow_id=f.flow_id, origin_tenant_id=f.origin, member_id=member,
            attempt=1, reason="无合适组织", destination_code=f.destination),
            service="organizations", tenant=placing, aggregate=f"t-{f.flow_id}")
    if f.outcome in ("OFFERED", "MANAGED", "RETURNED"):
        yield _event(org_events.TemporaryMembershipOffered(
            membership_id=f"t-{f.flow_id}", flow_id=f.flow_id, origin_tenant_id=f.origin, member_id=member,
            attempt=1, org_id=f"org-{placing}", org_name="流动党员党支部", rule="EMPLOYER_BRANCH",
            destination_code=f.destination), service="organizations", tenant=placing, aggregate=f"t-{f.flow_id}")
    if f.outcome in ("MANAGED", "RETURNED"):
        yield _event(org_events.CheckedIn(
            membership_id=f"t-{f.flow_id}", flow_id=f.flow_id, origin_tenant_id=f.origin, member_id=member,
            attempt=1, org_id=f"org-{placing}", org_name="流动党员党支部", method="QR",
            checked_in_at=_moment(f.month, 20)), service="organizations", tenant=placing,
            aggregate=f"t-{f.flow_id}", version=2)
    if f.outcome == "RETURNED":
        yield _event(reg_events.FlowClosed(flow_id=f.flow_id, member_id=member, placing_tenant_id=placing,
                                           reason=domain.RETURNED, closed_on=_moment(f.month, 28),
                                           destination_code=f.destination, industry=f.industry),
                     service="registry", tenant=f.origin, aggregate=f.flow_id, version=3)


def ticket_events(t: TicketPlan) -> Iterator[Published]:
    """A ticket's opening, resolution and rating as the desk publishes them in the serving county."""
    yield _event(desk_events.TicketOpened(ticket_id=t.ticket_id, category=t.category, category_group=t.group,
                                          serving_org_id=t.serving, channel="WEB", priority="NORMAL",
                                          opened_at=_moment(t.month, 5)),
                 service="desk", tenant=t.county, aggregate=t.ticket_id)
    if t.resolved is not None:
        yield _event(desk_events.TicketResolved(ticket_id=t.ticket_id, category=t.category, category_group=t.group,
                                                serving_org_id=t.serving, first_response_met=t.resolved[0],
                                                resolution_met=t.resolved[1], resolved_at=_moment(t.month, 9)),
                     service="desk", tenant=t.county, aggregate=t.ticket_id, version=2)
    if t.score:
        yield _event(desk_events.TicketRated(ticket_id=t.ticket_id, category=t.category, serving_org_id=t.serving,
                                             score=t.score), service="desk", tenant=t.county,
                     aggregate=t.ticket_id, version=3)


def loan_events_of(loan: LoanPlan) -> Iterator[Published]:
    """A loan's application and outcome as the desk publishes them in the loan's county."""
    code, name, programme = loan.programme
    yield _event(loan_events.LoanApplied(loan_id=loan.loan_id, programme_id=programme, product="XFD",
                                         shared_code=code), service="desk", tenant=loan.county,
                 aggregate=loan.loan_id)
    if loan.outcome == "REFUSED":
        yield _event(loan_events.LoanRefused(loan_id=loan.loan_id, programme_id=programme),
                     service="desk", tenant=loan.county, aggregate=loan.loan_id, version=2)
    if loan.outcome in ("ACTIVE", "SETTLED"):
        yield _event(loan_events.LoanDisbursed(loan_id=loan.loan_id, programme_id=programme, product="XFD",
                                               shared_code=code, programme_name=name, amount_fen=loan.amount_fen,
                                               total_subsidy_fen=loan.amount_fen // 50),
                     service="desk", tenant=loan.county, aggregate=loan.loan_id, version=2)
    if loan.outcome == "SETTLED":
        yield _event(loan_events.LoanSettled(loan_id=loan.loan_id, programme_id=programme),
                     service="desk", tenant=loan.county, aggregate=loan.loan_id, version=3)


def log_of(province: Province, chosen: set[str]) -> list[Published]:
    """Every event about the chosen counties' members, flows (by origin), tickets and loans."""
    out: list[Published] = []
    for county in sorted(chosen):
        for n in range(province.members[county]):
            member = f"{county}-{n}"
            out.append(_event(reg_events.MemberRegistered(member_id=member, township="城关镇",
                                                          membership_status="FULL"),
                              service="registry", tenant=county, aggregate=member))
    for f in province.flows:
        if f.origin in chosen:
            out.extend(flow_events(f))
    for t in province.tickets:
        if t.county in chosen:
            out.extend(ticket_events(t))
    for loan in province.loans:
        if loan.county in chosen:
            out.extend(loan_events_of(loan))
    return out


def full_log_size(province: Province) -> int:
    """How many events the whole province's log holds (counted from the plans, not built)."""
    per_flow = {"WAITING": 1, "OVERDUE": 2, "REFUSED": 2, "OFFERED": 2, "MANAGED": 3, "RETURNED": 4}
    per_loan = {"PENDING": 1, "REFUSED": 2, "ACTIVE": 2, "SETTLED": 3}
    return (sum(province.members.values()) + sum(per_flow[f.outcome] for f in province.flows)
            + sum(1 + (t.resolved is not None) + bool(t.score) for t in province.tickets)
            + sum(per_loan[x.outcome] for x in province.loans))


async def publish_log(url_of: dict[str, str], log: list[Published]) -> float:
    """Publish on JetStream with each producer's own login, as its relay does (acks awaited, 256 in flight)."""
    conns = {service: await nats.connect(url, inbox_prefix=f"_INBOX_{service}".encode())
             for service, url in url_of.items()}
    streams = {service: conn.jetstream() for service, conn in conns.items()}
    started = time.perf_counter()
    for i in range(0, len(log), 256):
        await asyncio.gather(*(streams[p.subject.split(".")[2]].publish(
            p.subject, p.payload, headers=p.headers, stream=ev.stream_name(p.subject.split(".")[2]))
            for p in log[i:i + 256]))
    elapsed = time.perf_counter() - started
    for conn in conns.values():
        await conn.close()
    return elapsed


async def bare_pull(url: str, expected: int) -> float:
    """The transport's own rate: a bare nats-py pull consumer per stream, fetch(batch=256), ack each, no work."""
    conn = await nats.connect(url)
    js = conn.jetstream()

    async def drain(service: str) -> int:
        name = f"bench-floor-{service}"
        await js.add_consumer(ev.stream_name(service), ConsumerConfig(
            durable_name=name, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL))
        sub = await js.pull_subscribe_bind(durable=name, stream=ev.stream_name(service))
        seen = 0
        while True:
            try:
                batch = await sub.fetch(batch=256, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            for msg in batch:
                await msg.ack()
            seen += len(batch)
        await js.delete_consumer(ev.stream_name(service), name)
        return seen

    started = time.perf_counter()
    seen = sum(await asyncio.gather(*(drain(s) for s in ("registry", "organizations", "desk"))))
    # The last empty fetch waited 0.5 s for nothing: not part of the transport's rate.
    elapsed = time.perf_counter() - started - 0.5
    await conn.close()
    if seen < expected:
        print(f"  (the floor saw {seen:,} of {expected:,} messages)")
    return elapsed


# ------------------------------------------------------------------------------------------------ the rest, by COPY


def flow_state(f: FlowPlan) -> tuple[domain.FlowState, list[tuple[str, str]]]:
    """A flow's merged state by the consumers' own merges, and the months it checked in or returned."""
    placing = domain.placing_county(origin=f.origin, destination_code=f.destination)
    facts = [domain.FlowFact(attempt=1, registered=True, month=f.month, destination_code=f.destination,
                             industry=f.industry, authoritative=True, placing_tenant_id=placing)]
    months = []
    if f.outcome == "OVERDUE":
        facts.append(domain.FlowFact(overdue=True, destination_code=f.destination, industry=f.industry))
    if f.outcome == "REFUSED":
        facts.append(domain.FlowFact(attempt=1, refused=True, destination_code=f.destination))
    if f.outcome in ("OFFERED", "MANAGED", "RETURNED"):
        facts.append(domain.FlowFact(attempt=1, offered=True, placed=True, destination_code=f.destination))
    if f.outcome in ("MANAGED", "RETURNED"):
        facts.append(domain.FlowFact(attempt=1, checked_in=True))
        months.append((domain.CHECKED_IN, f.month))
    if f.outcome == "RETURNED":
        facts.append(domain.FlowFact(closed=True, destination_code=f.destination, industry=f.industry))
        months.append((domain.RETURNED, f.month))
    state = domain.FlowState()
    for fact in facts:
        state = state.apply(fact)
    return state, months


def loan_facts(loan: LoanPlan) -> domain.LoanFacts:
    """A loan's merged facts by the consumers' own merge."""
    code, name, programme = loan.programme
    facts = domain.LoanFacts().apply(domain.LoanFact(programme_id=programme, product="XFD", shared_code=code,
                                                     applied=True))
    if loan.outcome == "REFUSED":
        facts = facts.apply(domain.LoanFact(programme_id=programme, refused=True))
    if loan.outcome in ("ACTIVE", "SETTLED"):
        facts = facts.apply(domain.LoanFact(
            programme_id=programme, product="XFD", shared_code=code, programme_name=name, disbursed=True,
            amount_fen=loan.amount_fen, subsidy_fen=loan.amount_fen // 50,
            figures=domain.LoanFigures(at=loan.at, outstanding_fen=loan.amount_fen, overdue_fen=0, overdue=False)))
    if loan.outcome == "SETTLED":
        facts = facts.apply(domain.LoanFact(programme_id=programme, settled=True))
    return facts


async def copy_rest(admin_dsn: str, province: Province, skip: set[str]) -> int:
    """The read-model rows of the counties not replayed, as their consumers would have written them."""
    now = datetime.now(UTC)
    flows, months = [], []
    for f in province.flows:
        if f.origin in skip:
            continue
        state, kinds = flow_state(f)
        flows.append((f.origin, f.flow_id, *flow_state_values(state), now))
        months += [(f.origin, f.flow_id, kind, month, now) for kind, month in kinds]
    counters: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    categories = {}
    for t in province.tickets:
        if t.county in skip:
            continue
        cell = counters[(t.county, t.month, t.category, t.serving)]
        cell["opened"] += 1
        categories[(t.county, t.category)] = t.group
        if t.resolved is not None:
            cell[{(True, True): "resolved_both_met", (True, False): "resolved_first_response_met",
                  (False, True): "resolved_resolution_met", (False, False): "resolved_none_met"}[t.resolved]] += 1
        if t.score:
            cell["rated"] += 1
            cell["rating_sum"] += t.score
    ticket_columns = ("opened", "resolved_both_met", "resolved_first_response_met", "resolved_resolution_met",
                      "resolved_none_met", "rated", "rating_sum")
    loans = [(x.county, x.loan_id, *loan_facts_values(loan_facts(x)), now)
             for x in province.loans if x.county not in skip]
    conn = await asyncpg.connect(admin_dsn)
    await conn.copy_records_to_table("member_counts", records=[
        (c, n, now) for c, n in province.members.items() if c not in skip],
        columns=("tenant_id", "members", "updated_at"))
    await conn.copy_records_to_table("flow_facts", records=flows, columns=(
        "tenant_id", "flow_id", *FLOW_STATE_COLUMNS, *FLOW_DERIVED_COLUMNS, "updated_at"))
    await conn.copy_records_to_table("flow_months", records=months,
                                     columns=("tenant_id", "flow_id", "kind", "month", "created_at"))
    await conn.copy_records_to_table("ticket_months", records=[
        (*key, *(cell[c] for c in ticket_columns), now) for key, cell in counters.items()],
        columns=("tenant_id", "month", "category", "serving_org_id", *ticket_columns, "updated_at"))
    await conn.copy_records_to_table("ticket_categories", records=[
        (c, cat, group, now) for (c, cat), group in categories.items()],
        columns=("tenant_id", "category", "category_group", "seen_at"))
    await conn.copy_records_to_table("loan_facts", records=loans, columns=(
        "tenant_id", "loan_id", *LOAN_FACT_COLUMNS, *LOAN_DERIVED_COLUMNS, "updated_at"))
    # The figures the consumers keep beside the facts, as the migration fills them from facts (the replayed
    # counties' own are refilled the same way: tests/integration/insights/test_pre_aggregates.py shows they agree).
    migration = import_module("jinqiao.insights.migrations.versions.0009_dashboards")
    async with conn.transaction():
        for table in ("flow_cells", "flow_atoms", "flow_cell_sizes", "flow_month_counts"):
            await conn.execute(f"DELETE FROM {table}")
        statements: list[str] = []
        migration.fill(statements.append)
        for sql in statements:
            await conn.execute(sql)
    await conn.execute("ANALYZE")
    await conn.close()
    return len(flows) + len(months) + len(loans) + len(counters)


# ------------------------------------------------------------------------------------------------ the bench


async def _wait_for_inbox(admin_dsn: str, expected: int, *, timeout: float) -> tuple[float, int]:
    conn = await asyncpg.connect(admin_dsn)
    started = time.perf_counter()
    count = 0
    try:
        while time.perf_counter() - started < timeout:
            count = await conn.fetchval("SELECT (SELECT count(*) FROM inbox) + (SELECT count(*) FROM dead_letters)")
            if count >= expected:
                break
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    return time.perf_counter() - started, count


def _line(name: str, latencies: list[float], elapsed: float) -> float:
    p50, p99 = pct(latencies, 0.5) * 1000, pct(latencies, 0.99) * 1000
    print(f"  {name:<44} {len(latencies) / elapsed:7.0f} calls/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return p99


async def bench_dashboards(ctx: BenchContext) -> None:
    """Rebuild the insights read model from a province's event log, time it, then query the dashboards."""
    from jinqiao.insights import server as insights_server
    from jinqiao.insights.v1 import insights_pb2 as pb
    from jinqiao.insights.v1 import insights_pb2_grpc

    started = time.perf_counter()
    province = plan(datetime.now(domain.BEIJING).date())
    replayed = set(province.counties[:: len(province.counties) // REBUILD_COUNTIES][:REBUILD_COUNTIES])
    log = log_of(province, replayed)
    whole = full_log_size(province)
    print(f"province: {len(province.counties)} counties under {CITIES} cities, {MEMBERS:,} members,"
          f" {FLOWS:,} flows, {TICKETS:,} tickets, {LOANS:,} loans: {whole:,} events in all"
          f" (planned in {time.perf_counter() - started:.1f} s)")
    db = await provision_service_database(admin_dsn=ctx.box.admin_dsn, service="insights", app_password="bench")
    await migrate(service="insights", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    urls = {s: ctx.box.nats_url_as(s) for s in ("registry", "organizations", "desk")}
    took = await publish_log(urls, log)
    print(f"the whole log of {len(replayed)} counties ({', '.join(sorted(replayed))}): {len(log):,} events"
          f" published to JetStream in {took:.1f} s ({len(log) / took:,.0f} events/s, fsync each)")
    floor_s = await bare_pull(ctx.box.nats_url_as(), len(log))
    settings = ctx.registry.model_copy(update={
        "service_name": "insights", "database_url": db.app_dsn, "nats_user": "insights",
        "nats_password": SecretStr(ctx.box.nats_login("insights").password)})
    begun = time.perf_counter()
    running = await start_service(settings, service="insights", service_names=[insights_server.SERVICE_NAME],
                                  produces_events=False, setup=insights_server.setup)
    try:
        rebuild_s, applied = await _wait_for_inbox(db.admin_dsn_for_db, len(log), timeout=1800)
        rebuild_s = time.perf_counter() - begun
        rate = applied / rebuild_s
        print("rebuild of the insights read model from the log (fresh database, every consumer from the start)")
        print(f"  floor: bare nats-py pull, fetch(256)   {len(log):>9,} events {floor_s:7.1f} s"
              f" {len(log) / floor_s:9,.0f} events/s")
        print(f"  platform: insights consumers          {applied:>9,} events {rebuild_s:7.1f} s {rate:9,.0f} events/s"
              f"   ratio {floor_s / rebuild_s:.3f}x")
        print(f"  the whole province's log at that rate: {whole:,} events in about {whole / rate / 60:,.0f} min")
        copied = await copy_rest(db.admin_dsn_for_db, province, replayed)
        print(f"the other {len(province.counties) - len(replayed)} counties' read model written by the same merges:"
              f" {copied:,} rows")
        await dashboards(running.port, ctx, pb, insights_pb2_grpc)
    finally:
        await running.stop()


async def dashboards(port: int, ctx: BenchContext, pb: Any, stubs: Any) -> None:
    """Each dashboard RPC at province and city scope, concurrency 4, beside a bare grpc.aio call of the same size."""
    # A province's flow matrix is larger than gRPC's default 4 MiB limit for a received message.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 1 << 28)])
    stub = stubs.InsightsServiceStub(channel)
    tokens = {"41": ctx.issuer.issue(user="bench-province", role=Role.PROVINCE_ANALYST, scope="41")[0],
              CITY: ctx.issuer.issue(user="bench-city", role=Role.CITY_ANALYST, scope=CITY)[0]}
    calls = {
        "GetDashboard": lambda s: (stub.GetDashboard, pb.GetDashboardRequest(scope=s)),
        "GetFlowMatrix": lambda s: (stub.GetFlowMatrix, pb.GetFlowMatrixRequest(scope=s)),
        "GetMemberCounts": lambda s: (stub.GetMemberCounts, pb.GetMemberCountsRequest(scope=s)),
        "GetTicketStats": lambda s: (stub.GetTicketStats, pb.GetTicketStatsRequest(scope=s)),
        "GetLoanStats": lambda s: (stub.GetLoanStats, pb.GetLoanStatsRequest(scope=s)),
    }
    print(f"dashboards over the province, concurrency {CONCURRENCY}, {CALLS} calls each (after 20 to warm up)")
    worst, biggest = 0.0, 0
    for scope in ("41", CITY):
        metadata = (("authorization", f"Bearer {tokens[scope]}"),)
        for name, make in calls.items():
            method, request = make(scope)
            reply = await method(request, metadata=metadata)
            biggest = max(biggest, reply.ByteSize())

            async def call(_: int, method: Any = method, request: Any = request, metadata: Any = metadata) -> object:
                return await method(request, metadata=metadata)

            await load(call, calls=20, concurrency=CONCURRENCY)
            latencies, elapsed = await load(call, calls=CALLS, concurrency=CONCURRENCY)
            worst = max(worst, _line(f"{name} {scope} ({reply.ByteSize():,} B)", latencies, elapsed))
    await channel.close()
    floor_p99 = await grpc_floor(biggest)
    print(f"  worst p99 {worst:.2f} ms = {worst / floor_p99:.1f}x the floor's p99")
    verdict(DASHBOARD_P99, worst)


async def grpc_floor(size: int) -> float:
    """A bare grpc.aio unary call returning a prebuilt response of ``size`` bytes."""
    body = b"x" * size

    async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return body

    # The same message limits as the platform's side of the measurement (the province's matrix is over 4 MiB).
    limits = [("grpc.max_send_message_length", 1 << 28), ("grpc.max_receive_message_length", 1 << 28)]
    server = grpc.aio.server(options=limits)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "floor.Floor", {"Get": grpc.unary_unary_rpc_method_handler(handle)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=limits)
    method = channel.unary_unary("/floor.Floor/Get")

    async def call(_: int) -> object:
        return await method(b"")

    await load(call, calls=20, concurrency=CONCURRENCY)
    p99 = _line(f"floor: bare grpc.aio, {size:,} B prebuilt", *await load(call, calls=CALLS,
                                                                           concurrency=CONCURRENCY))
    await channel.close()
    await server.stop(None)
    return p99
