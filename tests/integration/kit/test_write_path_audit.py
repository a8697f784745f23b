"""The audit row appended in the committing statement (issue 16): the chain stays unbroken under concurrent writers,
the SQL-side stamp hashes exactly as ``chain_hash`` does, and the row commits or rolls back with the outbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from jinqiao.kit import audit
from jinqiao.kit.db import _AUDIT_ISO, Database, PendingEvent


@pytest.fixture
async def registry_db(settings_for):
    db = await Database.connect(settings_for("registry").database_url, min_size=1, max_size=8)
    yield db
    await db.close()


def _event(tenant: str) -> PendingEvent:
    return PendingEvent(event_id=str(uuid.uuid4()), tenant_id=tenant, subject=f"jinqiao.{tenant}.registry.x",
                        event_type="t.X", event_version=1, payload=b"\x01", traceparent=None)


async def test_concurrent_writers_of_one_county_leave_one_unbroken_chain(registry_db, admin_conn_factory):
    tenant = "419991"

    async def act(i: int) -> None:
        async with registry_db.unit_of_work(tenant=tenant) as uow:
            await audit.record(uow, audit.AuditEntry(actor="a", role="county_admin", action=f"act-{i}",
                                                     object_type="t", object_id=str(i), reason="理由“引号”\n"))
            for _ in range(i % 3):
                uow.add_event(_event(tenant))
            await uow.commit()

    await asyncio.gather(*(act(i) for i in range(24)))
    conn = await admin_conn_factory("registry")
    seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tenant)]
    assert seqs == list(range(1, 25))
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", tenant) == sum(
        i % 3 for i in range(24))
    async with registry_db.unit_of_work(tenant=tenant) as uow:
        assert await audit.verify_chain(uow) is None


async def test_two_acts_in_one_unit_of_work_are_chained_in_order(registry_db, admin_conn_factory):
    tenant = "419992"
    async with registry_db.unit_of_work(tenant=tenant) as uow:
        for action in ("first", "second"):
            await audit.record(uow, audit.AuditEntry(actor="a", role="county_admin", action=action, object_type="t",
                                                     object_id="1"))
        uow.add_event(_event(tenant))
        await uow.commit()
    conn = await admin_conn_factory("registry")
    rows = await conn.fetch("SELECT seq, action FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tenant)
    assert [(r["seq"], r["action"]) for r in rows] == [(1, "first"), (2, "second")]
    async with registry_db.unit_of_work(tenant=tenant) as uow:
        assert await audit.verify_chain(uow) is None


async def test_an_act_rolled_back_leaves_neither_its_audit_row_nor_its_events(registry_db, admin_conn_factory):
    tenant = "419993"
    with pytest.raises(RuntimeError):
        async with registry_db.unit_of_work(tenant=tenant) as uow:
            await audit.record(uow, audit.AuditEntry(actor="a", role="county_admin", action="x", object_type="t",
                                                     object_id="1"))
            uow.add_event(_event(tenant))
            raise RuntimeError("the use case failed after recording its act")
    conn = await admin_conn_factory("registry")
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1", tenant) == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", tenant) == 0


@pytest.mark.parametrize("at", [
    datetime(2026, 12, 2, 13, 14, 39, 0, tzinfo=UTC),
    datetime(2026, 12, 2, 13, 14, 39, 120, tzinfo=UTC),
    datetime(2026, 1, 9, 3, 4, 5, 999999, tzinfo=UTC),
])
async def test_the_sql_stamp_reads_as_python_isoformat(admin_conn_factory, at):
    conn = await admin_conn_factory("registry")
    assert await conn.fetchval(f"SELECT {_AUDIT_ISO} FROM (SELECT $1::timestamptz AS at) s", at) == at.isoformat()
