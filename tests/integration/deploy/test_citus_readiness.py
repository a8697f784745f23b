"""Citus readiness, checked on plain PostgreSQL: every table of every database can be sharded by tenant_id, its RLS
keeps working on the shards, and the committed distribution DDL is what the migrated schema calls for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.kit.runtime import citus
from tests.conftest import SERVICES_WITH_DATABASES

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "citus"


async def test_every_table_keys_references_and_filters_rows_by_tenant(
        admin_conn_factory: Callable[[str], Any]) -> None:
    """Each table has tenant_id in its keys and foreign keys and forced RLS on tenant_id alone, or is a named
    reference table; alembic_version is skipped (the coordinator's local bookkeeping)."""
    assert set(citus.databases()) == set(SERVICES_WITH_DATABASES)
    found: list[str] = []
    for service in SERVICES_WITH_DATABASES:
        conn = await admin_conn_factory(service)
        tables = await citus.read_schema(conn)
        assert tables, f"{service}: no table read"
        reference = citus.REFERENCE_TABLES.get(service, {})
        found += [f"jinqiao_{service}.{line}" for line in citus.offences(tables, reference=reference)]
        # A named reference table that no longer exists would excuse nothing: the list must stay exact.
        names = {t.name for t in tables}
        found += [f"jinqiao_{service}.{name}: 登记为参照表但不存在" for name in reference if name not in names]
    assert not found, "未就绪于 Citus 的表：\n" + "\n".join(found)
    assert set(citus.REFERENCE_TABLES) <= set(SERVICES_WITH_DATABASES)


async def test_committed_distribution_ddl_is_what_the_migrated_schema_calls_for(
        admin_conn_factory: Callable[[str], Any]) -> None:
    """deploy/citus/<database>.sql equals the generator's output on the live migrated schema, and no file is stale."""
    wanted = {}
    for service in SERVICES_WITH_DATABASES:
        wanted[citus.file_name(service)] = await citus.ddl_of(await admin_conn_factory(service), service=service)
    committed = {p.name: p.read_text(encoding="utf-8") for p in DEPLOY.glob("*.sql")}
    assert sorted(committed) == sorted(wanted), "运行 scripts/citus_ddl.py --write"
    differing = [name for name in wanted if committed[name] != wanted[name]]
    assert not differing, f"与库表不一致（运行 scripts/citus_ddl.py --write）：{differing}"


@pytest.fixture
async def scratch(admin_conn_factory: Callable[[str], Any]) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection inside a transaction that is rolled back, with an empty schema ``citus_probe``."""
    conn = await admin_conn_factory("gateway")
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("CREATE SCHEMA citus_probe; SET LOCAL search_path = citus_probe")
        yield conn
    finally:
        await tx.rollback()


_GOOD_RLS = """
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY; ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY {t}_tenant ON {t} USING (tenant_id = current_setting('app.tenant', true));
"""


async def test_the_checker_names_each_kind_of_offender(scratch: asyncpg.Connection) -> None:
    """Throwaway tables breaking each rule are each named with what they break; a sound table passes."""
    await scratch.execute(
        """
        CREATE TABLE regions (code text PRIMARY KEY, name text NOT NULL);
        CREATE TABLE no_tenant (id int PRIMARY KEY);
        CREATE TABLE bare_pk (tenant_id text NOT NULL, id int PRIMARY KEY);
        CREATE TABLE loose_unique (tenant_id text NOT NULL, id int, code text, PRIMARY KEY (tenant_id, id),
                                   CONSTRAINT loose_code UNIQUE (code));
        CREATE UNIQUE INDEX loose_lower ON loose_unique (lower(code));
        CREATE TABLE cross_fk (tenant_id text NOT NULL, id int, code text REFERENCES loose_unique (code),
                               region text REFERENCES regions (code), PRIMARY KEY (tenant_id, id));
        CREATE TABLE nosy_policy (tenant_id text NOT NULL, id int, owner text, PRIMARY KEY (tenant_id, id));
        ALTER TABLE nosy_policy ENABLE ROW LEVEL SECURITY;
        CREATE POLICY nosy_owner ON nosy_policy USING (tenant_id = current_setting('app.tenant', true)
                                                       AND owner = current_user);
        CREATE TABLE sound (tenant_id text NOT NULL, id int, parent int, region text REFERENCES regions (code),
                            PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, parent),
                            FOREIGN KEY (tenant_id, parent) REFERENCES sound (tenant_id, id));
        CREATE TABLE lookup_of_tenants (code text PRIMARY KEY, sound_id int, tenant_id text,
                                        FOREIGN KEY (tenant_id, sound_id) REFERENCES sound (tenant_id, id));
        """
        + "".join(_GOOD_RLS.format(t=t) for t in ("loose_unique", "cross_fk", "sound", "lookup_of_tenants"))
    )
    tables = await citus.read_schema(scratch, schema="citus_probe")
    found = citus.offences(tables, reference={"regions", "lookup_of_tenants"})
    report = "\n".join(found)
    expected = [
        "no_tenant: 无 tenant_id 列",
        "bare_pk: 主键 bare_pk_pkey (id) 不含 tenant_id",
        "bare_pk: 未启用行级安全", "bare_pk: 未强制行级安全", "bare_pk: 无行级安全策略",
        "loose_unique: 唯一约束/索引 loose_code (code) 不含 tenant_id",
        "loose_unique: 唯一约束/索引 loose_lower (表达式) 不含 tenant_id",
        "cross_fk: 外键 cross_fk_code_fkey (code) → loose_unique (code) 未以 tenant_id 对应 tenant_id",
        "nosy_policy: 策略 nosy_owner 读取 tenant_id 以外的列: owner",
        "nosy_policy: 未强制行级安全",
        "lookup_of_tenants: 参照表的外键 lookup_of_tenants_tenant_id_sound_id_fkey 指向按县分片的表 sound",
    ]
    for line in expected:
        assert any(f.startswith(line) for f in found), f"未报告 {line!r}；报告为：\n{report}"
    # The foreign keys to the reference table (regions), the sound table and regions itself pass.
    assert not [f for f in found if f.startswith(("sound:", "regions:", "cross_fk: 外键 cross_fk_region"))], report
    with pytest.raises(ValueError, match="not ready for Citus"):
        citus.distribution_ddl(database="probe", tables=tables, reference={"regions"})


async def test_distribution_ddl_puts_reference_tables_first_and_referenced_tables_before_their_referrers(
        scratch: asyncpg.Connection) -> None:
    """Reference tables come first, then one co-location group whose tables follow the tables they reference."""
    await scratch.execute(
        """
        CREATE TABLE kinds (code text PRIMARY KEY);
        CREATE TABLE a_children (tenant_id text, id int, parent int, kind text REFERENCES kinds (code),
                                 PRIMARY KEY (tenant_id, id));
        CREATE TABLE z_parents (tenant_id text, id int, PRIMARY KEY (tenant_id, id));
        ALTER TABLE a_children ADD FOREIGN KEY (tenant_id, parent) REFERENCES z_parents (tenant_id, id);
        """
        + "".join(_GOOD_RLS.format(t=t) for t in ("a_children", "z_parents"))
    )
    ddl = citus.distribution_ddl(database="probe", tables=await citus.read_schema(scratch, schema="citus_probe"),
                                 reference={"kinds"})
    calls = [line for line in ddl.splitlines() if line.startswith("SELECT")]
    assert calls == [
        "SELECT create_reference_table('kinds');",
        "SELECT create_distributed_table('z_parents', 'tenant_id');",
        "SELECT create_distributed_table('a_children', 'tenant_id', colocate_with => 'z_parents');",
    ]
    assert "jinqiao migrate" in ddl and "before any traffic" in ddl


async def test_a_login_name_held_in_one_scope_is_refused_in_another(
        settings_for: Callable[..., Any]) -> None:
    """Usernames stay unique across the province through login_names, now that accounts' keys include tenant_id."""
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=2)
    try:
        await upsert_account(db=db, account=Account(username="citus-probe-admin", role=Role.COUNTY_ADMIN,
                                                    scope="650560", acting_tenant="650560"), password="pw-one")
        # The same scope may reset its own account (the seed and operators do).
        await upsert_account(db=db, account=Account(username="citus-probe-admin", role=Role.COUNTY_ADMIN,
                                                    scope="650560", acting_tenant="650560"), password="pw-two")
        with pytest.raises(asyncpg.UniqueViolationError, match="login_names_pkey"):
            await upsert_account(db=db, account=Account(username="citus-probe-admin", role=Role.COUNTY_ADMIN,
                                                        scope="650561", acting_tenant="650561"), password="pw")
    finally:
        await db.close()
