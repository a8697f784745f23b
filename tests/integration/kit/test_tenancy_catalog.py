"""The database catalog enforces tenancy: RLS on every tenant table, service roles powerless to bypass it."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import SERVICES_WITH_DATABASES


@pytest.mark.parametrize("service", SERVICES_WITH_DATABASES)
async def test_every_tenant_table_has_rls_enabled_and_forced(service, admin_conn_factory):
    conn = await admin_conn_factory(service)
    tables = await conn.fetch(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
        """
    )
    assert tables, "a service database without tenant tables is suspicious"
    for table in tables:
        assert table["relrowsecurity"] and table["relforcerowsecurity"], table["relname"]
        assert table["policies"] >= 1, table["relname"]


@pytest.mark.parametrize("service", SERVICES_WITH_DATABASES)
async def test_every_table_but_alembics_has_a_tenant_id(service, admin_conn_factory):
    conn = await admin_conn_factory(service)
    without = await conn.fetch(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
        """
    )
    assert [r["relname"] for r in without] == []


@pytest.mark.parametrize("service", SERVICES_WITH_DATABASES)
async def test_service_role_owns_nothing_and_cannot_bypass_rls(service, databases, admin_conn_factory):
    role = databases[service].app_role
    conn = await admin_conn_factory(service)
    attrs = await conn.fetchrow("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
                                " WHERE rolname = $1", role)
    assert not any(attrs.values())
    owned = await conn.fetchval(
        """
        SELECT count(*) FROM (
            SELECT relowner AS owner FROM pg_class
            UNION ALL SELECT proowner FROM pg_proc
            UNION ALL SELECT nspowner FROM pg_namespace
            UNION ALL SELECT typowner FROM pg_type
            UNION ALL SELECT datdba FROM pg_database
        ) o WHERE o.owner = (SELECT oid FROM pg_roles WHERE rolname = $1)
        """,
        role,
    )
    assert owned == 0


async def test_app_role_sees_only_its_tenant_and_nothing_without_one(databases, admin_conn_factory):
    admin = await admin_conn_factory("insights")
    await admin.execute(
        "INSERT INTO member_counts (tenant_id, members, updated_at) VALUES ('819901', 7, now()), ('819902', 9, now())"
        " ON CONFLICT (tenant_id) DO NOTHING"
    )
    app = await asyncpg.connect(databases["insights"].app_dsn)
    try:
        assert await app.fetchval("SELECT count(*) FROM member_counts WHERE tenant_id LIKE '8199%'") == 0
        async with app.transaction():
            await app.execute("SELECT set_config('app.tenant', '819901', true)")
            rows = await app.fetch("SELECT tenant_id FROM member_counts WHERE tenant_id LIKE '8199%'")
            assert [r["tenant_id"] for r in rows] == ["819901"]
        async with app.transaction():
            await app.execute("SELECT set_config('app.scope', '8199', true)")
            assert await app.fetchval("SELECT count(*) FROM member_counts WHERE tenant_id LIKE '8199%'") == 2
        async with app.transaction():
            await app.execute("SELECT set_config('app.scope', '', true)")
            assert await app.fetchval("SELECT count(*) FROM member_counts") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with app.transaction():
                await app.execute("SELECT set_config('app.tenant', '819901', true)")
                await app.execute("INSERT INTO member_counts VALUES ('819903', 1, now())")
    finally:
        await app.close()


async def test_app_role_cannot_create_tables(databases):
    app = await asyncpg.connect(databases["registry"].app_dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("CREATE TABLE sneaky (id int)")
    finally:
        await app.close()
