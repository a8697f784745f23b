"""Retention as data (issue 18): the province's policy per kind of record, and the job that enforces it.

The policy (``deploy/retention.toml``, or ``JINQIAO_RETENTION_POLICY_FILE``) gives each kind a period in days, a
floor (the legal or business minimum: a shorter period is refused at start) and its basis. Each service owns some
kinds (``RecordKind``: which rows, counted from which instant, deleted with which children); its migration creates
one SECURITY DEFINER function per kind, ``lifecycle_<kind>_all_tenants(cutoff, batch)``, the only way the job
crosses counties, and its ``server.py`` registers the kinds. A run (one replica at a time, under an advisory lock)
deletes in batches what is older than the period and appends ONE audit row ``retention.run`` per county affected,
through the normal audit path, so the chain holds. Audit rows are pruned behind an anchor (kit/audit.py).

The time is the job's ``now`` (``kit.clock.utc_now`` unless given), so a test can run it three years later.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinqiao.kit import audit
from jinqiao.kit.clock import Clock, utc_now
from jinqiao.kit.db import Database
from jinqiao.kit.settings import KitSettings

log = logging.getLogger("jinqiao.lifecycle")

# The kinds a policy may name. outbox_sent is enforced by kit/retention.py's frequent pass (the period replaces
# JINQIAO_OUTBOX_RETENTION_SECONDS); member_departed by the registry's erasure; inbox_processed, optional, may only
# lengthen the inbox horizon (kit/retention.py docstring), never shorten it.
KINDS = frozenset({"flows_closed", "tickets_closed", "loans_repaid", "audit_rows", "notifications", "dead_letters",
                   "outbox_sent", "member_departed", "inbox_processed"})
REQUIRED = KINDS - {"inbox_processed"}
ENV_FILE = "JINQIAO_RETENTION_POLICY_FILE"
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "deploy" / "retention.toml"
# One replica of a service runs the job at a time (advisory locks are per database).
_LOCK_KEY = "hashtextextended('jinqiao.lifecycle', 0)"
MAX_BATCH = 5000
ACTION = "retention.run"
ACTOR = "system:retention"
ROLE = "service"


class PolicyError(ValueError):
    """A retention policy the service refuses to start with (the message is Chinese first, then English)."""


@dataclass(frozen=True, slots=True)
class KindPolicy:
    """How long one kind of record is kept, its legal or business floor, and the basis of that floor."""

    kind: str
    days: int
    floor_days: int
    basis: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PolicyError(f"保留策略：未知的记录类别 {self.kind} / retention policy: unknown kind {self.kind!r}")
        if self.floor_days < 0 or self.days < self.floor_days:
            raise PolicyError(
                f"保留策略：{self.kind} 的保留期 {self.days} 天低于法定下限 {self.floor_days} 天"
                f" / retention policy: {self.kind} keeps {self.days} days, below its floor of {self.floor_days}")
        if not self.basis.strip():
            raise PolicyError(f"保留策略：{self.kind} 缺少依据 basis / retention policy: {self.kind} has no basis")

    @property
    def period(self) -> timedelta:
        """The period as a duration."""
        return timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """The province's policy: every kind's period, and how often the job runs."""

    kinds: Mapping[str, KindPolicy]
    every_hours: float = 24.0
    source: str = ""

    def period(self, kind: str) -> timedelta:
        """The period of a kind the policy names (KeyError otherwise)."""
        return self.kinds[kind].period

    def __getitem__(self, kind: str) -> KindPolicy:
        """The kind's policy (KeyError when the file does not name it)."""
        return self.kinds[kind]

    def get(self, kind: str) -> KindPolicy | None:
        """The kind's policy, or None when the file does not name it (only optional kinds may be absent)."""
        return self.kinds.get(kind)


def parse_policy(text: str, *, source: str = "<text>", inbox_horizon: timedelta | None = None) -> LifecyclePolicy:
    """Parse and validate a policy file's text; refuse unknown kinds, missing kinds, periods below their floor."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"保留策略文件格式错误 {source}: {exc} / retention policy file is not TOML") from None
    unknown_tables = set(raw) - {"schedule", "kinds"}
    if unknown_tables:
        raise PolicyError(f"保留策略：未知的配置节 {sorted(unknown_tables)} / retention policy: unknown sections")
    kinds: dict[str, KindPolicy] = {}
    for kind, body in (raw.get("kinds") or {}).items():
        if not isinstance(body, dict) or set(body) - {"days", "floor_days", "basis"} or "days" not in body:
            raise PolicyError(f"保留策略：{kind} 须给出 days、floor_days、basis / retention policy: {kind} needs"
                              " days, floor_days and basis only")
        days, floor = body["days"], body.get("floor_days", 0)
        if not isinstance(days, int) or not isinstance(floor, int) or isinstance(days, bool):
            raise PolicyError(f"保留策略：{kind} 的 days/floor_days 须为整数天 / retention policy: {kind} days"
                              " must be whole days")
        kinds[kind] = KindPolicy(kind=kind, days=days, floor_days=floor, basis=str(body.get("basis", "")))
    missing = REQUIRED - set(kinds)
    if missing:
        raise PolicyError(f"保留策略：缺少记录类别 {', '.join(sorted(missing))}"
                          f" / retention policy: missing kinds {', '.join(sorted(missing))}")
    inbox = kinds.get("inbox_processed")
    if inbox is not None and inbox_horizon is not None and inbox.period < inbox_horizon:
        # The inbox must outlive every copy of its message in the stream, or a redelivery is applied twice.
        raise PolicyError(
            f"保留策略：inbox_processed 的保留期 {inbox.days} 天短于收件箱时限 {inbox_horizon}"
            f" / retention policy: inbox_processed ({inbox.days} days) below the inbox horizon {inbox_horizon}")
    every = (raw.get("schedule") or {}).get("every_hours", 24)
    if not isinstance(every, int | float) or isinstance(every, bool) or every <= 0:
        raise PolicyError("保留策略：schedule.every_hours 须为正数 / retention policy: every_hours must be > 0")
    return LifecyclePolicy(kinds=kinds, every_hours=float(every), source=source)


def policy_path(settings: KitSettings | None = None) -> Path:
    """The policy file: the setting, else ``JINQIAO_RETENTION_POLICY_FILE``, else deploy/retention.toml."""
    if settings is not None and settings.retention_policy_file is not None:
        return settings.retention_policy_file
    override = os.environ.get(ENV_FILE)
    return Path(override) if override else DEFAULT_FILE


def load_policy(settings: KitSettings | None = None) -> LifecyclePolicy:
    """Read and validate the configured policy file (a service refuses to start when this raises)."""
    settings = KitSettings() if settings is None else settings
    path = policy_path(settings)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"无法读取保留策略文件 {path}: {type(exc).__name__}"
                          f" / cannot read retention policy file {path}") from None
    horizon = timedelta(seconds=settings.stream_max_age_seconds + settings.inbox_horizon_margin_seconds)
    return parse_policy(text, source=str(path), inbox_horizon=horizon)


@dataclass(frozen=True, slots=True)
class RecordKind:
    """Which rows of a kind a service owns: its table, the instant the period runs from, children deleted with it.

    ``at`` is a column of the table (alias ``t``): a timestamptz, or a date when ``on_date`` (then compared with
    the cutoff's date in China); ``eligible`` a condition (rows not eligible, e.g. an open flow, are never touched);
    ``children`` (table, column holding the row's ``id``) rows deleted in the same statement (no foreign key
    enforces them); ``index`` a column list worth a partial index (WHERE ``eligible``).
    """

    kind: str
    table: str
    at: str
    eligible: str = "true"
    on_date: bool = False
    children: tuple[tuple[str, str], ...] = ()
    index: str | None = None

    @property
    def function(self) -> str:
        """The SECURITY DEFINER function through which the job deletes this kind across counties."""
        return f"lifecycle_{self.kind}_all_tenants"


# Kit-level kinds, present in every database that has the table.
DEAD_LETTERS = RecordKind(kind="dead_letters", table="dead_letters", at="t.created_at")
AUDIT_ROWS_FUNCTION = "lifecycle_audit_rows_all_tenants"

_registered: dict[str, RecordKind] = {}


def register(*kinds: RecordKind) -> None:
    """Say which kinds this process's service owns (its ``server.py`` calls this once)."""
    for kind in kinds:
        if kind.kind not in KINDS:
            raise PolicyError(f"保留策略：未知的记录类别 {kind.kind} / unknown kind {kind.kind!r}")
        _registered[kind.kind] = kind


def registered() -> tuple[RecordKind, ...]:
    """The kit-level kinds and those registered by the service."""
    return (DEAD_LETTERS, *_registered.values())


@dataclass(frozen=True, slots=True)
class RunReport:
    """Rows one run deleted, per county then per kind; ``ran`` is False when another replica held the lock."""

    deleted: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    ran: bool = True

    def total(self, kind: str) -> int:
        """Rows of a kind deleted in every county."""
        return sum(per.get(kind, 0) for per in self.deleted.values())


async def run_once(db: Database, *, policy: LifecyclePolicy, kinds: tuple[RecordKind, ...] | None = None,
                   clock: Clock = utc_now, batch: int = MAX_BATCH) -> RunReport:
    """One run: every owned kind (and audit rows) older than its period deleted in batches; one audit row per county."""
    now = clock()
    kinds = registered() if kinds is None else kinds
    deleted: dict[str, dict[str, int]] = {}
    async with db.pool.acquire() as conn:
        if not await conn.fetchval(f"SELECT pg_try_advisory_lock({_LOCK_KEY})"):
            return RunReport(ran=False)
        try:
            present = set(await conn.fetchval(
                "SELECT coalesce(array_agg(proname::text), '{}') FROM pg_proc"
                " WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'lifecycle\\_%\\_all\\_tenants'"))
            for kind in kinds:
                if kind.function in present and policy.get(kind.kind) is not None:
                    await _drain(conn, deleted, kind.kind, f"SELECT * FROM {kind.function}($1, $2)",
                                 now - policy.period(kind.kind), batch)
            # Audit rows last: the rows of this very run are appended after, and are never older than the cutoff.
            if AUDIT_ROWS_FUNCTION in present and policy.get("audit_rows") is not None:
                await _drain(conn, deleted, "audit_rows", f"SELECT * FROM {AUDIT_ROWS_FUNCTION}($1, $2, $3)",
                             now - policy.period("audit_rows"), batch, now)
        finally:
            await conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
    for tenant, counts in sorted(deleted.items()):
        await _audit_run(db, tenant=tenant, counts=counts, policy=policy, now=now)
    return RunReport(deleted=deleted)


async def _drain(conn: Any, deleted: dict[str, dict[str, int]], kind: str, sql: str, cutoff: datetime,
                 batch: int, *extra: Any) -> None:
    while True:
        # Each call is its own statement and transaction: locks are held for one batch only.
        rows = await conn.fetch(sql, cutoff, batch, *extra)
        total = 0
        for row in rows:
            per = deleted.setdefault(row["tenant_id"], {})
            per[kind] = per.get(kind, 0) + int(row["deleted"])
            total += int(row["deleted"])
        if total == 0:
            return


async def _audit_run(db: Database, *, tenant: str, counts: Mapping[str, int], policy: LifecyclePolicy,
                     now: datetime) -> None:
    detail = {"deleted": dict(sorted(counts.items())), "as_of": now.isoformat(),
              "days": {k: policy.kinds[k].days for k in sorted(counts)}}
    async with db.unit_of_work(tenant=tenant) as uow:
        await audit.record_act(uow, actor=ACTOR, role=ROLE, action=ACTION, object_type="retention",
                               object_id=",".join(sorted(counts)),
                               reason=json.dumps(detail, ensure_ascii=False, separators=(",", ":")))
        await uow.commit()


class Schedule:
    """Runs the job at most every ``policy.every_hours`` within the frequent retention pass (kit/retention.py)."""

    def __init__(self, policy: LifecyclePolicy, *, clock: Clock = utc_now) -> None:
        self.policy = policy
        self._clock = clock
        self._next: datetime | None = None

    async def maybe_run(self, db: Database, *, service: str) -> RunReport | None:
        """Run when due (the first pass always is); the next run is due ``every_hours`` later."""
        now = self._clock()
        if self._next is not None and now < self._next:
            return None
        report = await run_once(db, policy=self.policy, clock=self._clock)
        if report.ran:
            self._next = now + timedelta(hours=self.policy.every_hours)
            for tenant, counts in report.deleted.items():
                log.info("retention run of %s in %s deleted %s", service, tenant, dict(counts))
        return report
