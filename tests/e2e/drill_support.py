"""The restore drill's parts: a flow load through the gateway, `jinqiao backup`/`restore`, and the counts.

The platform itself is tests/chaos/stack.Stack (a `jinqiao up` on free ports in a temporary directory); this file
adds what the drill needs on top of it: outflows (外出登记) registered and checked in through the HTTP API, the two
lifecycle commands run as subprocesses, and a tally of every service's rows against the registry's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import asyncpg
import httpx

from tests.chaos.load import PASSWORD, create_login
from tests.chaos.stack import JINQIAO, Stack
from tests.support import member_json

# Three home counties send their members to one destination county, whose station's 临时党支部 takes them all
# (the placement rule STATION_TEMPORARY_BRANCH): every flow has one place to land, so one offer per flow is the truth.
ORIGINS = ("411525", "411524", "411521")
DESTINATION = "410105"  # 金水区
FLOW_STATUS = {1: "registered", 2: "offered", 3: "refused", 4: "managed", 5: "returned", 6: "transferred"}
OFFERED, CHECKED_IN = 1, 2  # memberships.status
RETRY_CAP = 5.0


class Refused(AssertionError):
    """The gateway answered a 4xx that a retry cannot change."""


# ---------------------------------------------------------------------------------------------- the load


@dataclass
class Ledger:
    """Flows the gateway accepted (201), by phase of the drill: before, during and after the backup."""

    flows: dict[str, dict[str, str]] = field(default_factory=lambda: {"before": {}, "during": {}, "after": {}})
    failures: Counter[str] = field(default_factory=Counter)

    def phase_of(self, flow_id: str) -> str | None:
        """Which phase accepted the flow (None: the drill never asked for it)."""
        return next((phase for phase, flows in self.flows.items() if flow_id in flows), None)


class Driver:
    """County admins of the origins and of the destination, speaking to the gateway with retries."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=20)
        self.tokens: dict[str, str] = {}
        self.ledger = Ledger()
        self.phase = "before"
        self.checked_in = 0

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    async def logins(self, stack: Stack) -> None:
        """A county admin per county of the drill, written straight into the gateway's database."""
        for county in (*ORIGINS, DESTINATION):
            await create_login(dsn=stack.admin_dsn("jinqiao_gateway"), county=county)

    async def _token(self, county: str) -> str:
        if county not in self.tokens:
            reply = await self.http.post("/api/v1/auth/token",
                                         json={"username": f"chaos-{county}", "password": PASSWORD})
            if reply.status_code != 200:
                raise httpx.HTTPError(f"login {county}: {reply.status_code}")
            self.tokens[county] = str(reply.json()["access_token"])
        return self.tokens[county]

    async def post(self, county: str, path: str, body: dict[str, object], *, key: str | None = None,
                   within: float = 90) -> dict[str, object]:
        """POST under the county's login, the same Idempotency-Key on every try, until a 2xx or a final 4xx."""
        deadline = time.monotonic() + within
        delay = 0.3
        while True:
            status = "?"
            try:
                headers = {"Authorization": f"Bearer {await self._token(county)}"}
                if key:
                    headers["Idempotency-Key"] = key
                reply = await self.http.post(f"/api/v1/tenants/{county}{path}", json=body, headers=headers)
                status = str(reply.status_code)
                if 200 <= reply.status_code < 300:
                    return dict(reply.json())
                if reply.status_code == 401:
                    self.tokens.pop(county, None)  # signed before a restart, or expired: log in again
                elif 400 <= reply.status_code < 500 and reply.status_code not in (408, 409, 429):
                    raise Refused(f"{path}: {reply.status_code} {reply.text[:300]}")
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.ledger.failures[status] += 1
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"{path}: no answer within {within:.0f}s (last {status})")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP)

    async def destination_tree(self) -> str:
        """The destination's county committee, a 驻城党建工作站 and its 临时党支部; returns the branch's id."""
        root = await self.post(DESTINATION, "/orgs", {"name": "中共金水区委员会", "kind": "county_committee"})
        station = await self.post(DESTINATION, "/orgs", {"parent_id": root["id"], "name": "金水区驻城党建工作站",
                                                         "kind": "town_station"})
        branch = await self.post(DESTINATION, "/orgs", {"parent_id": station["id"], "name": "工作站临时党支部",
                                                        "kind": "temporary_branch"})
        return str(branch["id"])

    async def register(self, origin: str) -> str:
        """A new member of the origin and their outflow to the destination; the flow is put in the ledger."""
        member = await self.post(origin, "/members", member_json(origin), key=f"drill-m-{uuid.uuid4()}")
        asked = self.phase
        flow = await self.post(origin, f"/members/{member['id']}/flows", {
            "destination_code": DESTINATION, "address": "金水区花园路 9 号", "industry": "装修",
            "start_date": date.today().isoformat(), "expected_months": 6}, key=f"drill-f-{uuid.uuid4()}")
        # Asked in one phase and answered in another, the flow may or may not be in the snapshot: "during".
        phase = asked if asked == self.phase else "during"
        self.ledger.flows[phase][str(flow["id"])] = origin
        return str(flow["id"])

    async def load(self, count: int, *, concurrency: int = 6) -> None:
        """``count`` flows, spread over the origins, ``concurrency`` at a time."""
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await self.register(ORIGINS[i % len(ORIGINS)])

        await asyncio.gather(*(one(i) for i in range(count)))

    async def check_in_offered(self, stack: Stack, *, share: float = 1.0) -> int:
        """报到 by the destination's staff for ``share`` of the memberships now offered; returns how many."""
        conn = await asyncpg.connect(stack.admin_dsn("jinqiao_organizations"), timeout=10)
        try:
            rows = await conn.fetch("SELECT id::text AS id FROM memberships WHERE tenant_id = $1 AND status = $2"
                                    " ORDER BY created_at", DESTINATION, OFFERED)
        finally:
            await conn.close()
        chosen = rows[: int(len(rows) * share)]
        for row in chosen:
            await self.post(DESTINATION, f"/memberships/{row['id']}/check-in", {})
        self.checked_in += len(chosen)
        return len(chosen)


async def keep_loading(driver: Driver, stack: Stack, stop: asyncio.Event) -> None:
    """Flows one after another, with check-ins between, until ``stop``: the saga is in flight whenever it is set."""
    i = 0
    while not stop.is_set():
        await driver.register(ORIGINS[i % len(ORIGINS)])
        i += 1
        if i % 4 == 0:
            await driver.check_in_offered(stack, share=0.5)


# ---------------------------------------------------------------------------------------------- the commands


@dataclass(frozen=True)
class Timed:
    """A command's outcome and how long it took."""

    seconds: float
    output: str


def backup(stack: Stack, archive: Path, timeout: float = 300) -> Timed:
    """`jinqiao backup --out ARCHIVE` against the running platform."""
    started = time.monotonic()
    done = subprocess.run([JINQIAO, "backup", "--out", str(archive)], env=stack.env, capture_output=True, text=True,
                          timeout=timeout)
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"jinqiao backup failed ({done.returncode}):\n{output}"
    assert archive.is_file() and archive.stat().st_size > 0, f"no archive at {archive}:\n{output}"
    return Timed(seconds=took, output=output)


@contextlib.contextmanager
def lagging(stack: Stack, service: str) -> Iterator[None]:
    """The service frozen (SIGSTOP), and the runner with it so it does not restart it, until the block ends: the
    events it consumes pile up unconsumed in the streams — a snapshot taken meanwhile is mid-saga for certain."""
    runner, frozen = stack.pid_of("supervisor") or (stack.proc.pid if stack.proc else None), stack.pid_of(service)
    assert runner and frozen, f"no pid for the runner or {service} in run.json"
    os.kill(runner, signal.SIGSTOP)
    os.kill(frozen, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in (frozen, runner):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def behind(stack: Stack) -> int:
    """How many members of the drill's counties insights has not counted yet (its lag, in events)."""
    registry = await _fetch(stack.admin_dsn("jinqiao_registry"), "SELECT count(*) AS n FROM members"
                            " WHERE tenant_id = ANY($1::text[])", list(ORIGINS))
    counted = await _fetch(stack.admin_dsn("jinqiao_insights"), "SELECT coalesce(sum(members), 0) AS n"
                           " FROM member_counts WHERE tenant_id = ANY($1::text[])", list(ORIGINS))
    return int(registry[0]["n"]) - int(counted[0]["n"])


def down(stack: Stack, timeout: float = 180) -> list[str]:
    """`jinqiao down`, as an operator stops the platform before a restore; then the runner reaped and every
    process of it checked gone (returned: what had to be killed)."""
    done = subprocess.run([JINQIAO, "down"], env=stack.env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"jinqiao down failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return stack.stop()


def wipe(stack: Stack) -> None:
    """The data directory emptied (the key directory kept: keys are restored by the operator, apart)."""
    shutil.rmtree(stack.data)
    stack.data.mkdir(mode=0o755)
    stack.data.chmod(0o755)


def restore(stack: Stack, archive: Path, timeout: float = 300) -> Timed:
    """`jinqiao restore ARCHIVE` into the empty data directory, the platform stopped."""
    started = time.monotonic()
    done = subprocess.run([JINQIAO, "restore", str(archive)], env=stack.env, capture_output=True, text=True,
                          timeout=timeout)
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"jinqiao restore failed ({done.returncode}):\n{output}"
    return Timed(seconds=took, output=output)


# ---------------------------------------------------------------------------------------------- the counts


@dataclass
class Tally:
    """What every service holds for the drill's counties, compared with the restored registry (the truth)."""

    truth: dict[str, str] = field(default_factory=dict)  # flow id -> registry status, in the restored registry
    lost_at_backup: list[str] = field(default_factory=list)  # accepted before the backup began, absent after
    from_after: list[str] = field(default_factory=list)  # accepted after the backup ended, yet present
    unfinished: dict[str, str] = field(default_factory=dict)  # truth flows not managed: flow id -> what is missing
    duplicated: dict[str, int] = field(default_factory=dict)  # what -> how many times too many
    lost_counts: dict[str, int] = field(default_factory=dict)  # counters below the registry's facts
    phantoms: dict[str, int] = field(default_factory=dict)  # rows for flows the restored registry never had
    pending_outbox: int = 0
    dead_letters: int = 0
    inbox_rows: int = 0

    @property
    def lost(self) -> int:
        """Flows or facts the platform must hold and does not."""
        return len(self.lost_at_backup) + len(self.unfinished) + sum(self.lost_counts.values())

    @property
    def duplicates(self) -> int:
        """Effects applied more than once."""
        return sum(self.duplicated.values())

    @property
    def converged(self) -> bool:
        """Every flow of the truth managed everywhere, the counters agreeing, nothing left to relay."""
        return (not self.unfinished and not self.lost_counts and not self.duplicated and self.pending_outbox == 0
                and bool(self.truth))

    def summary(self) -> str:
        """One line for a failure message."""
        return (f"truth {len(self.truth)} flows; lost at backup {len(self.lost_at_backup)}; unfinished "
                f"{dict(list(self.unfinished.items())[:5])} ({len(self.unfinished)}); lost counts "
                f"{self.lost_counts}; duplicated {self.duplicated}; phantoms {self.phantoms}; from after the backup "
                f"{len(self.from_after)}; outbox pending {self.pending_outbox}; dead letters {self.dead_letters}")


async def _fetch(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def in_flight(stack: Stack) -> dict[str, int]:
    """How far the saga stands now: flows by registry status, memberships offered, outbox rows pending."""
    flows = await _fetch(stack.admin_dsn("jinqiao_registry"), "SELECT status, count(*) AS n FROM flows"
                         " WHERE tenant_id = ANY($1::text[]) GROUP BY status", list(ORIGINS))
    seen = {FLOW_STATUS.get(r["status"], str(r["status"])): int(r["n"]) for r in flows}
    pending = 0
    for name in stack.databases():
        conn = await asyncpg.connect(stack.admin_dsn(name), timeout=10)
        try:
            if await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL"):
                pending += await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        finally:
            await conn.close()
    seen["outbox pending"] = pending
    return seen


async def offered(stack: Stack, *, at_least: int, within: float = 60) -> None:
    """Wait until ``at_least`` flows have an offer at the destination: the saga has begun to turn."""
    deadline = time.monotonic() + within
    while True:
        rows = await _fetch(stack.admin_dsn("jinqiao_organizations"),
                            "SELECT count(*) AS n FROM memberships WHERE tenant_id = $1", DESTINATION)
        if int(rows[0]["n"]) >= at_least:
            return
        assert time.monotonic() < deadline, f"only {rows[0]['n']} offers within {within:.0f}s:\n{stack.tail()}"
        await asyncio.sleep(0.5)


async def tally(stack: Stack, ledger: Ledger, *, since: float) -> Tally:
    """Count every service's rows for the drill's counties as the superuser (row-level security bypassed)."""
    out = Tally()
    origins = list(ORIGINS)
    registry = stack.admin_dsn("jinqiao_registry")
    flows = await _fetch(registry, "SELECT id::text AS id, status FROM flows WHERE tenant_id = ANY($1::text[])",
                         origins)
    out.truth = {r["id"]: FLOW_STATUS.get(r["status"], str(r["status"])) for r in flows}
    out.lost_at_backup = sorted(set(ledger.flows["before"]) - set(out.truth))
    out.from_after = sorted(set(ledger.flows["after"]) & set(out.truth))
    members = {r["tenant_id"]: int(r["n"]) for r in await _fetch(
        registry, "SELECT tenant_id, count(*) AS n FROM members WHERE tenant_id = ANY($1::text[]) GROUP BY tenant_id",
        origins)}

    memberships = await _fetch(stack.admin_dsn("jinqiao_organizations"),
                               "SELECT flow_id::text AS flow, count(*) AS n, max(status) AS status FROM memberships"
                               " WHERE tenant_id = $1 GROUP BY flow_id", DESTINATION)
    placed = {r["flow"]: (int(r["n"]), int(r["status"])) for r in memberships}

    insights = stack.admin_dsn("jinqiao_insights")
    facts = {r["flow_id"]: r["status"] for r in await _fetch(
        insights, "SELECT flow_id, status FROM flow_facts WHERE tenant_id = ANY($1::text[]) AND registered", origins)}
    counted = {r["tenant_id"]: int(r["members"]) for r in await _fetch(
        insights, "SELECT tenant_id, members FROM member_counts WHERE tenant_id = ANY($1::text[])", origins)}
    cells = {r["tenant_id"]: (int(r["flows"]), int(r["managed"])) for r in await _fetch(
        insights, "SELECT tenant_id, sum(flows) AS flows, sum(managed) AS managed FROM flow_cells"
        " WHERE tenant_id = ANY($1::text[]) GROUP BY tenant_id", origins)}
    months = {r["tenant_id"]: int(r["n"]) for r in await _fetch(
        insights, "SELECT tenant_id, sum(members) AS n FROM flow_month_counts WHERE kind = 'CHECKED_IN'"
        " AND tenant_id = ANY($1::text[]) GROUP BY tenant_id", origins)}

    for flow, status in out.truth.items():
        missing = []
        if status != "managed":
            missing.append(f"registry {status}")
        number, state = placed.get(flow, (0, 0))
        if number == 0 or state != CHECKED_IN:
            missing.append(f"organizations {number}×{state}")
        if facts.get(flow) != "MANAGED":
            missing.append(f"insights {facts.get(flow)}")
        if missing:
            out.unfinished[flow] = ", ".join(missing)
        if number > 1:
            out.duplicated["memberships per flow"] = out.duplicated.get("memberships per flow", 0) + number - 1

    by_county: dict[str, Counter[str]] = {c: Counter() for c in ORIGINS}
    for r in await _fetch(registry, "SELECT tenant_id, count(*) AS n, count(*) FILTER (WHERE status = 4) AS managed"
                          " FROM flows WHERE tenant_id = ANY($1::text[]) GROUP BY tenant_id", origins):
        by_county[r["tenant_id"]].update(flows=int(r["n"]), managed=int(r["managed"]))
    for county in ORIGINS:
        facts_here = {
            "insights members": (counted.get(county, 0), members.get(county, 0)),
            "insights flow cells": (cells.get(county, (0, 0))[0], by_county[county]["flows"]),
            "insights managed cells": (cells.get(county, (0, 0))[1], by_county[county]["managed"]),
            "insights check-in months": (months.get(county, 0), by_county[county]["managed"]),
        }
        for what, (kept, truth) in facts_here.items():
            if kept > truth:
                out.duplicated[what] = out.duplicated.get(what, 0) + kept - truth
            elif kept < truth:
                out.lost_counts[what] = out.lost_counts.get(what, 0) + truth - kept

    known = set(out.truth)
    out.phantoms = {"memberships": len(set(placed) - known), "insights facts": len(set(facts) - known)}

    for name in stack.databases():
        dsn = stack.admin_dsn(name)
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            if await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL"):
                out.pending_outbox += await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if await conn.fetchval("SELECT to_regclass('dead_letters') IS NOT NULL"):
                out.dead_letters += await conn.fetchval(
                    "SELECT count(*) FROM dead_letters WHERE created_at >= to_timestamp($1)", since)
            if await conn.fetchval("SELECT to_regclass('inbox') IS NOT NULL"):
                # The inbox's key is (tenant, consumer, event id): a second row for one event cannot exist; what is
                # counted is how many applications the inboxes remember, for the report.
                out.inbox_rows += await conn.fetchval("SELECT count(*) FROM inbox")
        finally:
            await conn.close()
    return out


async def settle(driver: Driver, stack: Stack, ledger: Ledger, *, since: float, cap: float) -> tuple[Tally, float]:
    """Check in whatever is offered and count again, until the platform has converged or ``cap`` seconds pass."""
    started = time.monotonic()
    seen = Tally()
    while True:
        with contextlib.suppress(asyncpg.PostgresError, OSError, asyncio.TimeoutError):
            await driver.check_in_offered(stack)
            seen = await tally(stack, ledger, since=since)
            if seen.converged:
                return seen, time.monotonic() - started
        if time.monotonic() - started > cap:
            return seen, time.monotonic() - started
        await asyncio.sleep(1)


def republished(stack: Stack) -> str:
    """What the runner said it re-published from the archive's streams (and dropped) before the services started."""
    said = [line.strip() for line in stack.lines if "re-published" in line]
    return said[-1] if said else "no re-publish line"


def report_line(*, flows: int, tally: Tally, backup: Timed, archive_bytes: int, restore: Timed, up_s: float,
                converge_s: float, at_backup: dict[str, int | str], ledger: Ledger, stack: Stack) -> str:
    """The drill's one-line report, as tests/chaos prints its table."""
    kept = len(set(ledger.flows["during"]) & set(tally.truth))
    return (f"restore drill: flows {flows} (before {len(ledger.flows['before'])}, during "
            f"{len(ledger.flows['during'])} of which {kept} in the snapshot, after {len(ledger.flows['after'])}: "
            f"lost by design); truth {len(tally.truth)}; "
            f"lost {tally.lost}; duplicated {tally.duplicates}; phantoms {sum(tally.phantoms.values())}; "
            f"backup {backup.seconds:.1f}s {archive_bytes} bytes; restore {restore.seconds:.1f}s; up after restore "
            f"{up_s:.1f}s; converged in {converge_s:.1f}s; at the backup {at_backup}; inbox rows {tally.inbox_rows}; "
            f"dead letters {tally.dead_letters}; {republished(stack)}")
