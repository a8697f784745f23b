"""A steady writer: members registered through the gateway, each key retried until the platform answers for it."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from tests.support import member_json

PASSWORD = "chaos suite password"
RETRY_CAP = 10.0  # seconds: the longest a writer waits between two tries of one key, whatever Retry-After says


async def create_login(*, dsn: str, county: str) -> str:
    """A county admin of the county, written straight into the gateway's database; returns the username."""
    username = f"chaos-{county}"
    db = await Database.connect(dsn, min_size=1, max_size=1)
    try:
        await upsert_account(db=db, account=Account(username=username, role=Role.COUNTY_ADMIN, scope=county,
                                                    acting_tenant=county), password=PASSWORD)
    finally:
        await db.close()
    return username


@dataclass
class Ledger:
    """What the writer asked for and what it was told, key by key."""

    county: str
    accepted: dict[str, str] = field(default_factory=dict)  # key -> member id of its first 2xx
    conflicting: dict[str, set[str]] = field(default_factory=dict)  # key -> other ids a retry of it answered
    rejected: dict[str, int] = field(default_factory=dict)  # key -> the 4xx that ended it
    abandoned: set[str] = field(default_factory=set)  # keys still unanswered when the writer gave up
    statuses: Counter[str] = field(default_factory=Counter)
    attempts: int = 0


class Writer:
    """Registers members at a steady rate, at most ``concurrency`` keys in flight; each key keeps its own
    Idempotency-Key across tries (5xx, 408, 429, a 409 "still in progress", timeouts, connection errors),
    honouring Retry-After up to a cap."""

    def __init__(self, *, base_url: str, county: str, username: str, rate: float, concurrency: int = 16) -> None:
        self.ledger = Ledger(county=county)
        self.county = county
        self.username = username
        self.rate = rate
        self.concurrency = concurrency
        self.http = httpx.AsyncClient(base_url=base_url, timeout=15)
        self.token = ""
        self._login = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pacer: asyncio.Task[None] | None = None
        self._stopping = False
        self._give_up_at = float("inf")

    # ------------------------------------------------------------------------------------------ driving

    def start(self) -> None:
        """Begin the steady load."""
        self._pacer = asyncio.create_task(self._pace())

    async def _pace(self) -> None:
        while not self._stopping:
            if len(self._tasks) < self.concurrency:
                self._spawn()
            await asyncio.sleep(1 / self.rate)

    def burst(self, count: int) -> None:
        """``count`` keys at once, beyond the steady rate: a backlog for the consumers."""
        for _ in range(count):
            self._spawn()

    def _spawn(self) -> None:
        task = asyncio.create_task(self._register(f"chaos-{self.county}-{uuid.uuid4()}"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, *, drain: float) -> None:
        """No new keys; give the keys in flight ``drain`` seconds to be answered, then abandon the rest."""
        self._stopping = True
        if self._pacer is not None:
            await self._pacer
        self._give_up_at = time.monotonic() + drain
        if self._tasks and drain > 0:
            await asyncio.wait(set(self._tasks), timeout=drain)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    # ------------------------------------------------------------------------------------------ one key

    async def _register(self, key: str) -> None:
        body = member_json(self.county)
        delay = 0.5
        try:
            while True:
                wait = await self._try(key, body)
                if wait is None:
                    return
                if time.monotonic() + wait > self._give_up_at:
                    self.ledger.abandoned.add(key)
                    return
                await asyncio.sleep(wait or min(delay, RETRY_CAP) * random.uniform(0.5, 1.0))
                delay = min(delay * 2, RETRY_CAP)
        except asyncio.CancelledError:
            if key not in self.ledger.accepted and key not in self.ledger.rejected:
                self.ledger.abandoned.add(key)
            raise

    async def _try(self, key: str, body: dict[str, object]) -> float | None:
        """One try; None when the key is settled, else how long to wait (0: the writer's own back-off)."""
        self.ledger.attempts += 1
        if not self.token and not await self._log_in():
            return 0
        try:
            reply = await self.http.post(f"/api/v1/tenants/{self.county}/members", json=body,
                                         headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key})
        except httpx.HTTPError as exc:
            self.ledger.statuses[type(exc).__name__] += 1
            return 0
        self.ledger.statuses[str(reply.status_code)] += 1
        if reply.status_code == 401:
            self.token = ""  # expired, or signed before a restart: log in again and retry the same key
            return 0
        if 200 <= reply.status_code < 300:
            member = str(reply.json()["id"])
            first = self.ledger.accepted.setdefault(key, member)
            if first != member:
                self.ledger.conflicting.setdefault(key, set()).add(member)
            return None
        # A 409 with Retry-After is the gateway saying the first try of this key is still being answered: wait.
        in_progress = reply.status_code == 409 and "Retry-After" in reply.headers
        if 400 <= reply.status_code < 500 and reply.status_code not in (408, 429) and not in_progress:
            self.ledger.rejected[key] = reply.status_code
            return None
        with contextlib.suppress(ValueError):
            return min(float(reply.headers.get("Retry-After", "0")), RETRY_CAP)
        return 0

    async def _log_in(self) -> bool:
        async with self._login:
            if self.token:
                return True
            try:
                reply = await self.http.post("/api/v1/auth/token",
                                             json={"username": self.username, "password": PASSWORD})
            except httpx.HTTPError:
                return False
            if reply.status_code != 200:
                return False
            self.token = str(reply.json()["access_token"])
            return True

    async def read(self) -> bool:
        """One read through the gateway (the county's first page of members): True when it answered 200."""
        if not self.token and not await self._log_in():
            return False
        try:
            reply = await self.http.get(f"/api/v1/tenants/{self.county}/members?page_size=5",
                                        headers={"Authorization": f"Bearer {self.token}"}, timeout=5)
        except httpx.HTTPError:
            return False
        return reply.status_code == 200


# ---------------------------------------------------------------------------------------------- what is there


@dataclass(frozen=True)
class Observation:
    """What the databases hold for one county's ledger at one moment."""

    present: int
    lost: int
    duplicated: int
    registry_rows: int
    insights_count: int
    pending_outbox: int
    dead_letters: int

    @property
    def converged(self) -> bool:
        """Every accepted member present, insights agreeing with the registry, nothing left to relay."""
        return self.lost == 0 and self.insights_count == self.registry_rows and self.pending_outbox == 0


async def observe(*, dsn_for: dict[str, str], ledger: Ledger, since: float) -> Observation:
    """Count, as the superuser: accepted members present, registry rows vs insights, pending outbox, dead letters."""
    keys = list(ledger.accepted)
    conn = await asyncpg.connect(dsn_for["jinqiao_registry"], timeout=5)
    try:
        rows = await conn.fetch("SELECT id::text AS id, request_id FROM members WHERE tenant_id = $1"
                                " AND request_id = ANY($2::text[])", ledger.county, keys)
        registry_rows = await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1", ledger.county)
        ours = await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = $1 AND request_id LIKE $2",
                                   ledger.county, f"chaos-{ledger.county}-%")
    finally:
        await conn.close()
    by_key = {r["request_id"]: r["id"] for r in rows}
    present = sum(1 for key, member in ledger.accepted.items() if by_key.get(key) == member)
    conn = await asyncpg.connect(dsn_for["jinqiao_insights"], timeout=5)
    try:
        counted = await conn.fetchval("SELECT members FROM member_counts WHERE tenant_id = $1", ledger.county) or 0
    finally:
        await conn.close()
    pending = dead = 0
    for dsn in dsn_for.values():
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            if await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL"):
                pending += await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if await conn.fetchval("SELECT to_regclass('dead_letters') IS NOT NULL"):
                dead += await conn.fetchval("SELECT count(*) FROM dead_letters WHERE created_at >= to_timestamp($1)",
                                            since)
        finally:
            await conn.close()
    # Rows beyond the distinct keys that reached the registry, ids that changed between tries of one key, and
    # insights counting more than the registry holds: each is a member recorded twice.
    distinct = len({*ledger.accepted, *ledger.abandoned, *ledger.rejected})
    duplicated = (max(0, ours - distinct) + len(ledger.conflicting) + max(0, counted - registry_rows))
    return Observation(present=present, lost=len(ledger.accepted) - present, duplicated=duplicated,
                       registry_rows=registry_rows, insights_count=counted, pending_outbox=pending,
                       dead_letters=dead)
