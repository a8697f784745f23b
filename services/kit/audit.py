"""Append-only audit rows, hash-chained per tenant so any edit or gap is detectable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from jinqiao.kit import telemetry
from jinqiao.kit.db import GENESIS, UnitOfWork

__all__ = ["GENESIS", "AuditEntry", "body_halves", "chain_hash", "record", "record_act", "verify_chain"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited act: who, in which role, did what to which object, and why."""

    actor: str
    role: str
    action: str
    object_type: str
    object_id: str
    reason: str | None = None
    trace_id: str | None = None


def chain_hash(*, prev_hash: bytes, tenant_id: str, seq: int, at: datetime, entry: AuditEntry) -> bytes:
    """SHA-256 over the previous hash and a canonical JSON of the row."""
    body = json.dumps(
        [tenant_id, seq, at.isoformat(), entry.actor, entry.role, entry.action,
         entry.object_type, entry.object_id, entry.reason, entry.trace_id],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(prev_hash + body).digest()


def body_halves(*, tenant_id: str, entry: AuditEntry) -> tuple[bytes, bytes]:
    """The canonical JSON of ``chain_hash`` without its seq and time: what precedes them and what follows them."""
    head = json.dumps([tenant_id], ensure_ascii=False, separators=(",", ":"))[:-1] + ","
    tail = "," + json.dumps(
        [entry.actor, entry.role, entry.action, entry.object_type, entry.object_id, entry.reason, entry.trace_id],
        ensure_ascii=False, separators=(",", ":"),
    )[1:]
    return head.encode(), tail.encode()


async def record(uow: UnitOfWork, entry: AuditEntry) -> None:
    """Append an entry in the unit of work's transaction (its commit writes it, under the tenant's chain lock)."""
    head, tail = body_halves(tenant_id=uow.tenant, entry=entry)
    # Seq, time and hash are taken in the committing statement, under the chain lock (kit/db.py), so the chain never
    # forks and the lock is held for one round trip; the row is ``chain_hash``'s, verified by ``verify_chain``.
    uow.append_audit((uow.tenant, head, tail, entry.actor, entry.role, entry.action, entry.object_type,
                      entry.object_id, entry.reason, entry.trace_id))


async def record_act(uow: UnitOfWork, *, actor: str, role: str, action: str, object_type: str, object_id: str,
                     reason: str | None = None) -> None:
    """Append an entry for an act done now, naming the trace of the request or message being handled."""
    traceparent = telemetry.current_traceparent()
    await record(uow, AuditEntry(actor=actor, role=role, action=action, object_type=object_type,
                                 object_id=object_id, reason=reason,
                                 trace_id=traceparent.split("-")[1] if traceparent else None))


async def verify_chain(uow: UnitOfWork) -> int | None:
    """Return the first broken ``seq`` of the tenant's chain, or None when it is intact.

    The chain starts at GENESIS, or, once old rows were pruned (kit/lifecycle.py), at the latest anchor: the seq and
    hash of the last pruned row, which the first kept row must chain on. A tampered or removed anchor breaks it.
    """
    prev = GENESIS
    expected_seq = 1
    # Databases migrated before audit_anchors existed have no anchors (and so no pruned rows).
    if await uow.conn.fetchval("SELECT to_regclass('audit_anchors') IS NOT NULL"):
        anchor = await uow.conn.fetchrow(
            "SELECT seq, hash FROM audit_anchors WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1", uow.tenant)
        if anchor is not None:
            prev, expected_seq = bytes(anchor["hash"]), int(anchor["seq"]) + 1
    rows = await uow.conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq",
                                uow.tenant, expected_seq)
    for row in rows:
        entry = AuditEntry(
            actor=row["actor"], role=row["role"], action=row["action"], object_type=row["object_type"],
            object_id=row["object_id"], reason=row["reason"], trace_id=row["trace_id"],
        )
        digest = chain_hash(prev_hash=prev, tenant_id=row["tenant_id"], seq=row["seq"], at=row["at"], entry=entry)
        if row["seq"] != expected_seq or bytes(row["prev_hash"]) != prev or bytes(row["hash"]) != digest:
            return int(row["seq"])
        prev = digest
        expected_seq += 1
    return None
