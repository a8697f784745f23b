"""The audit log: every member write leaves a chained row; rows cannot be edited; tampering is detected."""

from __future__ import annotations

import asyncpg
import pytest

from jinqiao.kit import audit
from jinqiao.kit.db import Database
from tests.integration.conftest import bearer
from tests.support import member_request


@pytest.fixture
async def registry_db(settings_for):
    db = await Database.connect(settings_for("registry").database_url, min_size=1, max_size=2)
    yield db
    await db.close()


async def test_member_creation_is_audited_and_the_chain_verifies(platform, county_token, registry_db,
                                                                 admin_conn_factory):
    reply = await platform.registry_stub.CreateMember(member_request("411522"),
                                                      metadata=bearer(county_token("411522")))
    conn = await admin_conn_factory("registry")
    row = await conn.fetchrow("SELECT * FROM audit_log WHERE object_id = $1", reply.member.id)
    assert (row["action"], row["actor"], row["role"]) == ("member.create", "admin-411522", "county_admin")
    async with registry_db.unit_of_work(tenant="411522") as uow:
        assert await audit.verify_chain(uow) is None


async def test_audit_rows_cannot_be_updated_or_deleted_even_by_the_owner(admin_conn_factory, registry_db):
    async with registry_db.unit_of_work(tenant="419998") as uow:
        await audit.record(uow, audit.AuditEntry(actor="a", role="county_admin", action="x", object_type="t",
                                                 object_id="1"))
        await uow.commit()
    conn = await admin_conn_factory("registry")
    with pytest.raises(asyncpg.RaiseError):
        await conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE tenant_id = '419998'")
    with pytest.raises(asyncpg.RaiseError):
        await conn.execute("DELETE FROM audit_log WHERE tenant_id = '419998'")


async def test_a_tampered_row_breaks_the_chain_at_that_row(admin_conn_factory, registry_db):
    for i in range(3):
        async with registry_db.unit_of_work(tenant="419999") as uow:
            await audit.record(uow, audit.AuditEntry(actor="a", role="county_admin", action=f"act-{i}",
                                                     object_type="t", object_id=str(i)))
            await uow.commit()
    conn = await admin_conn_factory("registry")
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        await conn.execute("UPDATE audit_log SET object_id = 'forged' WHERE tenant_id = '419999' AND seq = 2")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    async with registry_db.unit_of_work(tenant="419999") as uow:
        assert await audit.verify_chain(uow) == 2
