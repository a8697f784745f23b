"""The records job deletes what the province's policy says is due and nothing else; the audit chain still verifies."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from jinqiao.desk import lifecycle as desk_lifecycle
from jinqiao.kit import audit, lifecycle
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import GENESIS, Database
from jinqiao.kit.settings import KitSettings
from jinqiao.notifications import lifecycle as notifications_lifecycle
from jinqiao.registry import lifecycle as registry_lifecycle

# Counties of this file only: other tests' rows are minutes old, far inside every period.
A, B = "419961", "419962"
HOUR = timedelta(hours=1)
# The job's clock, fixed: rows are placed just inside and just outside each period before it.
NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = lifecycle.load_policy(KitSettings())


def _clock() -> datetime:
    return NOW


def _age(kind: str) -> timedelta:
    return POLICY.period(kind)


async def _open(databases, service: str) -> Database:
    return await Database.connect(databases[service].app_dsn, min_size=1, max_size=2)


async def _dead_letter(conn: asyncpg.Connection, tenant: str, at: datetime) -> int:
    return int(await conn.fetchval(
        "INSERT INTO dead_letters (tenant_id, consumer, subject, headers, payload, error, deliveries, created_at)"
        " VALUES ($1, 'lifecycle-test', 'x', '{}', '\\x00', 'boom', 5, $2) RETURNING id", tenant, at))


async def _chain(conn: asyncpg.Connection, tenant: str, times: list[datetime]) -> None:
    """A county's audit chain written as the platform writes it, with the given (old) times."""
    prev = GENESIS
    for seq, at in enumerate(times, start=1):
        entry = audit.AuditEntry(actor="a", role="county_admin", action=f"act-{seq}", object_type="t",
                                 object_id=str(seq))
        digest = audit.chain_hash(prev_hash=prev, tenant_id=tenant, seq=seq, at=at, entry=entry)
        await conn.execute(
            "INSERT INTO audit_log (tenant_id, seq, at, actor, role, action, object_type, object_id, prev_hash, hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", tenant, seq, at, entry.actor, entry.role,
            entry.action, entry.object_type, entry.object_id, prev, digest)
        prev = digest


async def _member(conn: asyncpg.Connection, tenant: str) -> uuid.UUID:
    member_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO members (tenant_id, id, name, gender, birth_date, id_number_enc, id_number_bidx,"
        " id_number_masked, membership_status, created_at) VALUES ($1, $2, '测试', 1, '1980-01-01', '\\x00', $3,"
        " '4101**********0000', 1, now())", tenant, member_id, uuid.uuid4().bytes)
    return member_id


async def _flow(conn: asyncpg.Connection, tenant: str, *, status: int, closed_on) -> uuid.UUID:
    flow_id, member_id = uuid.uuid4(), await _member(conn, tenant)
    await conn.execute(
        "INSERT INTO flows (tenant_id, id, member_id, status, destination_code, placing_tenant_id, out_of_province,"
        " start_date, destination_since, expected_months, certificate_serial, certificate_valid_until,"
        " placement_requested_at, created_at, closed_on) VALUES ($1, $2, $3, $4, '440305', $1, true, '2020-01-01',"
        " '2020-01-01', 6, $5, '2030-01-01', now(), now(), $6)",
        tenant, flow_id, member_id, status, f"LC-{flow_id}", closed_on)
    await conn.execute("INSERT INTO flow_alerts (tenant_id, flow_id, timer, level, due_date, member_id, fired_at)"
                       " VALUES ($1, $2, 'report', 1, '2020-02-01', $3, now())", tenant, flow_id, member_id)
    return flow_id


async def _retention_rows(conn: asyncpg.Connection, tenant: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 AND action = 'retention.run'", tenant)


async def _verifies(db: Database, tenant: str) -> int | None:
    async with db.unit_of_work(tenant=tenant) as uow:
        return await audit.verify_chain(uow)


@pytest.fixture
async def registry_state(databases, admin_conn_factory):
    """Registry rows of each kind it owns, just inside and just outside their periods, in two counties."""
    admin = await admin_conn_factory("registry")
    dl_cut, audit_cut = NOW - _age("dead_letters"), NOW - _age("audit_rows")
    flow_cut = china_date(NOW - _age("flows_closed"))
    state = {"admin": admin, "doomed_dl": [], "kept_dl": [], "doomed_flows": [], "kept_flows": []}
    for tenant in (A, B):
        state["doomed_dl"].append(await _dead_letter(admin, tenant, dl_cut - HOUR))
        state["kept_dl"].append(await _dead_letter(admin, tenant, dl_cut + HOUR))
        state["doomed_flows"].append(await _flow(admin, tenant, status=5, closed_on=flow_cut - timedelta(days=1)))
        state["kept_flows"].append(await _flow(admin, tenant, status=6, closed_on=flow_cut))
        state["kept_flows"].append(await _flow(admin, tenant, status=4, closed_on=flow_cut - timedelta(days=9)))
    # A: three rows outside, two inside the period; B: every row outside (its head must stay to chain on).
    await _chain(admin, A, [audit_cut - 3 * HOUR, audit_cut - 2 * HOUR, audit_cut - HOUR,
                            audit_cut + HOUR, audit_cut + 2 * HOUR])
    await _chain(admin, B, [audit_cut - 3 * HOUR, audit_cut - 2 * HOUR, audit_cut - HOUR])
    return state


async def test_a_run_deletes_only_rows_outside_their_period_and_audits_each_county(databases, registry_state):
    admin = registry_state["admin"]
    db = await _open(databases, "registry")
    try:
        report = await lifecycle.run_once(db, policy=POLICY, kinds=(lifecycle.DEAD_LETTERS, *registry_lifecycle.KINDS),
                                          clock=_clock, batch=2)
        assert {t: dict(report.deleted[t]) for t in (A, B)} == {
            A: {"dead_letters": 1, "flows_closed": 1, "audit_rows": 3},
            B: {"dead_letters": 1, "flows_closed": 1, "audit_rows": 2},
        }
        left_dl = {r["id"] for r in await admin.fetch(
            "SELECT id FROM dead_letters WHERE id = ANY($1)", registry_state["doomed_dl"] + registry_state["kept_dl"])}
        assert left_dl == set(registry_state["kept_dl"])
        flows = registry_state["doomed_flows"] + registry_state["kept_flows"]
        left_flows = {r["id"] for r in await admin.fetch("SELECT id FROM flows WHERE id = ANY($1)", flows)}
        assert left_flows == set(registry_state["kept_flows"])
        assert not await admin.fetchval("SELECT count(*) FROM flow_alerts WHERE flow_id = ANY($1)",
                                        registry_state["doomed_flows"])
        assert [r["seq"] for r in await admin.fetch("SELECT seq FROM audit_log WHERE tenant_id = $1 ORDER BY seq", A)
                ] == [4, 5, 6]
        for tenant in (A, B):
            (row,) = await _retention_rows(admin, tenant)
            assert (row["actor"], row["object_id"]) == ("system:retention", "audit_rows,dead_letters,flows_closed")
            assert json.loads(row["reason"])["deleted"]["flows_closed"] == 1
            assert await _verifies(db, tenant) is None
        # B's old head, kept to chain on, is due once the run's own row follows it; then nothing is.
        kinds = (lifecycle.DEAD_LETTERS, *registry_lifecycle.KINDS)
        again = await lifecycle.run_once(db, policy=POLICY, kinds=kinds, clock=_clock)
        assert A not in again.deleted and dict(again.deleted[B]) == {"audit_rows": 1}
        last = await lifecycle.run_once(db, policy=POLICY, kinds=kinds, clock=_clock)
        assert A not in last.deleted and B not in last.deleted
        assert len(await _retention_rows(admin, A)) == 1 and len(await _retention_rows(admin, B)) == 2
        assert await _verifies(db, B) is None
    finally:
        await db.close()


async def test_after_pruning_a_tampered_kept_row_or_anchor_breaks_the_chain(databases, admin_conn_factory):
    admin = await admin_conn_factory("registry")
    tenant, cut = "419963", NOW - _age("audit_rows")
    await _chain(admin, tenant, [cut - 2 * HOUR, cut - HOUR, cut + HOUR, cut + 2 * HOUR])
    db = await _open(databases, "registry")
    try:
        await lifecycle.run_once(db, policy=POLICY, kinds=(), clock=_clock)
        assert await admin.fetchval("SELECT seq FROM audit_anchors WHERE tenant_id = $1", tenant) == 2
        assert await _verifies(db, tenant) is None
        async with admin.transaction():
            await admin.execute("SET LOCAL session_replication_role = replica")  # the owner's triggers are off
            await admin.execute("UPDATE audit_log SET object_id = 'forged' WHERE tenant_id = $1 AND seq = 4", tenant)
        assert await _verifies(db, tenant) == 4
        async with admin.transaction():
            await admin.execute("SET LOCAL session_replication_role = replica")
            await admin.execute("UPDATE audit_log SET object_id = '4' WHERE tenant_id = $1 AND seq = 4", tenant)
            await admin.execute("UPDATE audit_anchors SET hash = sha256(hash) WHERE tenant_id = $1", tenant)
        assert await _verifies(db, tenant) == 3
    finally:
        await db.close()


async def test_the_app_role_can_neither_write_anchors_nor_delete_unanchored_audit_rows(databases):
    db = await _open(databases, "registry")
    try:
        async with db.unit_of_work(tenant="419964") as uow:
            await audit.record(uow, audit.AuditEntry(actor="a", role="county_admin", action="x", object_type="t",
                                                     object_id="1"))
            await uow.commit()
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with db.unit_of_work(tenant="419964") as uow:
                await uow.conn.execute("INSERT INTO audit_anchors VALUES ('419964', 1, '\\x00', now())")
        with pytest.raises(asyncpg.RaiseError):
            async with db.unit_of_work(tenant="419964") as uow:
                await uow.conn.execute("DELETE FROM audit_log WHERE tenant_id = '419964'")
    finally:
        await db.close()


async def test_desk_and_notifications_prune_closed_tickets_repaid_loans_and_old_deliveries(
        databases, admin_conn_factory):
    desk = await admin_conn_factory("desk")
    t_cut, l_cut = NOW - _age("tickets_closed"), china_date(NOW - _age("loans_repaid"))
    tickets: dict[str, uuid.UUID] = {}
    for name, status, closed_at in (("doomed", 7, t_cut - HOUR), ("kept", 7, t_cut + HOUR),
                                    ("open", 3, None)):
        tickets[name] = uuid.uuid4()
        await desk.execute(
            "INSERT INTO tickets (tenant_id, id, number, category, status, priority, channel, member_home_tenant_id,"
            " member_id, title, filed_by, created_at, updated_at, closed_at) VALUES ($1, $2, $3, 'c', $4, 1, 1, $1,"
            " $5, 't', 'x', $6, $6, $7)", A, tickets[name], f"LC-{tickets[name]}", status, uuid.uuid4(),
            t_cut - timedelta(days=9), closed_at)
        await desk.execute("INSERT INTO ticket_history (tenant_id, id, ticket_id, at, actor, action)"
                           " VALUES ($1, $2, $3, now(), 'x', 'note')", A, uuid.uuid4(), tickets[name])
    loans: dict[str, uuid.UUID] = {}
    for name, settled_on in (("doomed", l_cut - timedelta(days=1)), ("kept", l_cut)):
        loans[name] = uuid.uuid4()
        await desk.execute(
            "INSERT INTO loans (tenant_id, id, number, programme_id, member_id, amount_fen, term_months, method,"
            " purpose, status, channel, applied_by, created_at, updated_at, settled_on) VALUES ($1, $2, $3, $4, $5,"
            " 100, 12, 1, 'p', 7, 1, 'x', now(), now(), $6)", B, loans[name], f"LC-{loans[name]}", uuid.uuid4(),
            uuid.uuid4(), settled_on)
        await desk.execute("INSERT INTO loan_steps (tenant_id, id, loan_id, action, actor, created_at)"
                           " VALUES ($1, $2, $3, 'settle', 'x', now())", B, uuid.uuid4(), loans[name])
    notes = await admin_conn_factory("notifications")
    n_cut = NOW - _age("notifications")
    deliveries: dict[str, uuid.UUID] = {}
    for name, status, created_at in (("doomed", 3, n_cut - HOUR), ("kept", 3, n_cut + HOUR),
                                     ("queued", 1, n_cut - HOUR)):
        deliveries[name] = uuid.uuid4()
        await notes.execute(
            "INSERT INTO deliveries (tenant_id, id, idempotency_key, source_key, kind, category, channel, recipient,"
            " status, created_at) VALUES ($1, $2, $3, 's', 'k', 'c', 1, 'r', $4, $5)",
            A, deliveries[name], f"LC-{deliveries[name]}", status, created_at)

    desk_db, notes_db = await _open(databases, "desk"), await _open(databases, "notifications")
    try:
        desk_report = await lifecycle.run_once(desk_db, policy=POLICY, kinds=desk_lifecycle.KINDS, clock=_clock)
        notes_report = await lifecycle.run_once(notes_db, policy=POLICY, kinds=notifications_lifecycle.KINDS,
                                                clock=_clock)
        assert dict(desk_report.deleted[A]) == {"tickets_closed": 1}
        assert dict(desk_report.deleted[B]) == {"loans_repaid": 1}
        assert dict(notes_report.deleted[A]) == {"notifications": 1}
        left = {r["id"] for r in await desk.fetch("SELECT id FROM tickets WHERE id = ANY($1)", list(tickets.values()))}
        assert left == {tickets["kept"], tickets["open"]}
        assert await desk.fetchval("SELECT count(*) FROM ticket_history WHERE ticket_id = $1", tickets["doomed"]) == 0
        left = {r["id"] for r in await desk.fetch("SELECT id FROM loans WHERE id = ANY($1)", list(loans.values()))}
        assert left == {loans["kept"]}
        assert await desk.fetchval("SELECT count(*) FROM loan_steps WHERE loan_id = $1", loans["doomed"]) == 0
        left = {r["id"] for r in await notes.fetch("SELECT id FROM deliveries WHERE id = ANY($1)",
                                                   list(deliveries.values()))}
        assert left == {deliveries["kept"], deliveries["queued"]}
        for conn, db, tenant in ((desk, desk_db, A), (desk, desk_db, B), (notes, notes_db, A)):
            assert len(await _retention_rows(conn, tenant)) == 1
            assert await _verifies(db, tenant) is None
    finally:
        await desk_db.close()
        await notes_db.close()


async def test_one_replica_runs_the_job_at_a_time(databases):
    db = await _open(databases, "insights")
    try:
        async with db.pool.acquire() as other_replica:
            assert await other_replica.fetchval("SELECT pg_try_advisory_lock(hashtextextended('jinqiao.lifecycle', 0))")
            assert (await lifecycle.run_once(db, policy=POLICY, clock=_clock)).ran is False
            await other_replica.execute("SELECT pg_advisory_unlock(hashtextextended('jinqiao.lifecycle', 0))")
        assert (await lifecycle.run_once(db, policy=POLICY, clock=_clock)).ran is True
    finally:
        await db.close()
