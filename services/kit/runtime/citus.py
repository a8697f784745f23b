"""Citus readiness of a migrated database: read its catalog, name what would stop it being distributed by
tenant, and write the distribution DDL (``deploy/citus/<database>.sql``, ``scripts/citus_ddl.py``).

Citus shards a table by one column and can only enforce a primary key, a unique constraint or a foreign key
shard by shard, so each must include the distribution column (``tenant_id``); a foreign key may instead point at
a reference table (copied whole to every node). Row-level security keeps working on the shards when its policies
look at ``tenant_id`` alone. All of it is checked here on plain PostgreSQL: no Citus extension is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import asyncpg

from jinqiao.kit import catalog

TENANT_COLUMN = "tenant_id"
# Alembic's own bookkeeping: one row per database, read and written only by `jinqiao migrate` on the
# coordinator; Citus leaves an undistributed table there as a local table, which is what it should be.
SKIPPED_TABLES = frozenset({"alembic_version"})

# Province-wide tables, by database (the catalogue's service name): tables every node must hold whole, distributed
# as Citus reference tables, so a tenant table may hold a foreign key to one and their keys need no tenant_id.
# Each entry says why it is province-wide; a table not named here must carry tenant_id, or the readiness test fails.
# Lookups such as ticket categories, loan programmes and the work calendar stay per county (a county adds its own).
REFERENCE_TABLES: Mapping[str, Mapping[str, str]] = {
    "gateway": {
        "login_names": "用户名全省唯一：登录时尚不知道所属县，一个用户名只能指向一个账号 (login precedes the county, so"
                       " a username must name one account in the province; its primary key is that rule)",
    },
}


@dataclass(frozen=True, slots=True)
class Key:
    """A primary key, unique constraint or unique index, by name, with its plain columns in key order."""

    name: str
    columns: tuple[str, ...]
    primary: bool = False


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key: its columns and the referenced table's columns, pairwise."""

    name: str
    columns: tuple[str, ...]
    referenced_table: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A row-level security policy and every column its USING and WITH CHECK expressions read."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """What Citus cares about in one table of the schema."""

    name: str
    columns: tuple[str, ...]
    keys: tuple[Key, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    rls_enabled: bool = False
    rls_forced: bool = False
    policies: tuple[Policy, ...] = field(default=())

    @property
    def has_tenant(self) -> bool:
        """Whether the table carries the distribution column."""
        return TENANT_COLUMN in self.columns


_TABLES = """
SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""
_COLUMNS = """
SELECT attrelid, attname FROM pg_attribute
WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped ORDER BY attrelid, attnum
"""
# Every unique index (which covers primary keys and unique constraints); an expression's columns are not plain
# key columns, so only non-zero indkey entries count: Citus needs the distribution column itself in the key.
_KEYS = """
SELECT i.indrelid, ic.relname AS name, i.indisprimary,
       array(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY($1::oid[]) AND i.indisunique ORDER BY i.indrelid, ic.relname
"""
_FOREIGN_KEYS = """
SELECT k.conrelid, k.conname, rc.relname AS referenced,
       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS columns,
       array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord) AS ref_columns
FROM pg_constraint k JOIN pg_class rc ON rc.oid = k.confrelid
WHERE k.contype = 'f' AND k.conrelid = ANY($1::oid[]) ORDER BY k.conrelid, k.conname
"""
# PostgreSQL records a column-level dependency (refobjsubid = attnum) for every column a policy's USING or WITH
# CHECK expression reads, in its own table or in any other one a subquery touches: exact, no parsing of quals.
_POLICIES = """
SELECT p.polrelid, p.polname,
       array(SELECT DISTINCT CASE WHEN d.refobjid = p.polrelid THEN a.attname
                                  ELSE d.refobjid::regclass::text || '.' || a.attname END
             FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
               AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0) AS columns
FROM pg_policy p WHERE p.polrelid = ANY($1::oid[]) ORDER BY p.polrelid, p.polname
"""


async def read_schema(conn: asyncpg.Connection, *, schema: str = "public") -> list[Table]:
    """Every table of ``schema`` (but ``SKIPPED_TABLES``) with its columns, keys, foreign keys and RLS."""
    rows = [r for r in await conn.fetch(_TABLES, schema) if r["relname"] not in SKIPPED_TABLES]
    oids = [r["oid"] for r in rows]
    columns: dict[int, list[str]] = {oid: [] for oid in oids}
    for r in await conn.fetch(_COLUMNS, oids):
        columns[r["attrelid"]].append(r["attname"])
    keys: dict[int, list[Key]] = {oid: [] for oid in oids}
    for r in await conn.fetch(_KEYS, oids):
        keys[r["indrelid"]].append(Key(name=r["name"], columns=tuple(r["columns"]), primary=r["indisprimary"]))
    fks: dict[int, list[ForeignKey]] = {oid: [] for oid in oids}
    for r in await conn.fetch(_FOREIGN_KEYS, oids):
        fks[r["conrelid"]].append(ForeignKey(name=r["conname"], columns=tuple(r["columns"]),
                                             referenced_table=r["referenced"],
                                             referenced_columns=tuple(r["ref_columns"])))
    policies: dict[int, list[Policy]] = {oid: [] for oid in oids}
    for r in await conn.fetch(_POLICIES, oids):
        policies[r["polrelid"]].append(Policy(name=r["polname"], columns=tuple(sorted(r["columns"]))))
    return [
        Table(name=r["relname"], columns=tuple(columns[r["oid"]]), keys=tuple(keys[r["oid"]]),
              foreign_keys=tuple(fks[r["oid"]]), rls_enabled=r["relrowsecurity"],
              rls_forced=r["relforcerowsecurity"], policies=tuple(policies[r["oid"]]))
        for r in rows
    ]


def _includes_tenant(columns: Iterable[str], referenced: Iterable[str]) -> bool:
    """Whether ``tenant_id`` is matched to ``tenant_id`` in a foreign key's column pairs."""
    return any(c == TENANT_COLUMN and rc == TENANT_COLUMN for c, rc in zip(columns, referenced, strict=True))


def _rls_offences(table: Table) -> list[str]:
    """RLS enabled and forced, with at least one policy, each reading ``tenant_id`` and nothing else."""
    t = table.name
    found: list[str] = []
    if not table.rls_enabled:
        found.append(f"{t}: 未启用行级安全 (RLS not enabled)")
    if not table.rls_forced:
        found.append(f"{t}: 未强制行级安全 (RLS not forced)")
    if not table.policies:
        found.append(f"{t}: 无行级安全策略 (no RLS policy)")
    for policy in table.policies:
        others = [c for c in policy.columns if c != TENANT_COLUMN]
        if others:
            found.append(f"{t}: 策略 {policy.name} 读取 tenant_id 以外的列: {', '.join(others)}")
        elif not policy.columns:
            found.append(f"{t}: 策略 {policy.name} 不读 tenant_id (policy reads no column)")
    return found


def offences(tables: Iterable[Table], *, reference: Iterable[str] = ()) -> list[str]:
    """Everything that would stop these tables being distributed by ``tenant_id``, one line per offence.

    ``reference`` names the province-wide tables (replicated whole to every node): their keys need no ``tenant_id``
    and a foreign key may point at one with any columns; one that carries ``tenant_id`` keeps the same RLS as a
    tenant table, one without it holds nothing of a county's and needs none.
    """
    reference = set(reference)
    found: list[str] = []
    for table in tables:
        t = table.name
        if t in reference:
            for fk in table.foreign_keys:
                if fk.referenced_table not in reference:
                    found.append(f"{t}: 参照表的外键 {fk.name} 指向按县分片的表 {fk.referenced_table}"
                                 " (a reference table may only reference reference tables)")
            if table.has_tenant:
                # Rows of a county in a province-wide table (e.g. which county holds a login name): the same
                # RLS as any tenant table, which Citus applies on every node's copy.
                found.extend(_rls_offences(table))
            continue
        if not table.has_tenant:
            found.append(f"{t}: 无 tenant_id 列，也未登记为全省参照表 (no tenant_id, not a named reference table)")
            continue
        if not any(k.primary for k in table.keys):
            found.append(f"{t}: 无主键 (no primary key)")
        for key in table.keys:
            if TENANT_COLUMN not in key.columns:
                kind = "主键" if key.primary else "唯一约束/索引"
                found.append(f"{t}: {kind} {key.name} ({', '.join(key.columns) or '表达式'}) 不含 tenant_id")
        for fk in table.foreign_keys:
            if fk.referenced_table in reference:
                continue
            if not _includes_tenant(fk.columns, fk.referenced_columns):
                found.append(f"{t}: 外键 {fk.name} ({', '.join(fk.columns)}) → {fk.referenced_table}"
                             f" ({', '.join(fk.referenced_columns)}) 未以 tenant_id 对应 tenant_id")
        found.extend(_rls_offences(table))
    return found


def _fk_order(tables: list[Table]) -> list[Table]:
    """Tables ordered so that each comes after every table its foreign keys reference (then by name)."""
    by_name = {t.name: t for t in tables}
    done: list[Table] = []
    seen: set[str] = set()

    def visit(table: Table, path: tuple[str, ...]) -> None:
        if table.name in seen:
            return
        if table.name in path:
            raise ValueError(f"foreign keys form a cycle: {' → '.join((*path, table.name))}")
        for fk in sorted(table.foreign_keys, key=lambda k: k.referenced_table):
            target = by_name.get(fk.referenced_table)
            if target is not None and target.name != table.name:
                visit(target, (*path, table.name))
        seen.add(table.name)
        done.append(table)

    for table in sorted(tables, key=lambda t: t.name):
        visit(table, ())
    return done


def distribution_ddl(*, database: str, tables: list[Table], reference: Iterable[str] = ()) -> str:
    """The Citus DDL of one database: reference tables first, then every tenant table in one co-location group
    anchored on the first of them, each after the tables its foreign keys reference."""
    reference = set(reference)
    problems = offences(tables, reference=reference)
    if problems:
        raise ValueError(f"{database} is not ready for Citus:\n" + "\n".join(problems))
    ordered = _fk_order(tables)
    refs = [t for t in ordered if t.name in reference]
    tenants = [t for t in ordered if t.name not in reference]
    lines = [
        f"-- Citus distribution of {database}: generated by scripts/citus_ddl.py from the migrated schema;",
        "-- do not edit (`scripts/citus_ddl.py --write` regenerates it, `make deploy-check` compares).",
        "--",
        "-- Apply once, on the Citus coordinator, as the database's owner role (or a superuser), after",
        "-- `jinqiao migrate` has created the schema there and before any traffic: distributing moves each",
        "-- table's existing rows into shards. Later migrations run on the coordinator as usual; a migration that",
        "-- adds a table must add its line here (regenerate) and be applied the same way.",
        "--",
        f"-- Shard key: {TENANT_COLUMN} (a county). Every tenant table is co-located with the first one, so a",
        "-- county's rows of every table live on one node and joins and foreign keys stay on that node.",
        "",
        "BEGIN;",
        "-- Foreign keys between tables distributed in one transaction need its shard commands run one by one.",
        "SET LOCAL citus.multi_shard_modify_mode TO 'sequential';",
    ]
    if refs:
        lines.append("-- Province-wide lookups, copied whole to every node (kit/runtime/citus.REFERENCE_TABLES).")
        lines.extend(f"SELECT create_reference_table('{t.name}');" for t in refs)
    if tenants:
        anchor = tenants[0].name
        lines.append(f"-- Per-county tables, one co-location group anchored on {anchor}.")
        lines.append(f"SELECT create_distributed_table('{anchor}', '{TENANT_COLUMN}');")
        lines.extend(f"SELECT create_distributed_table('{t.name}', '{TENANT_COLUMN}', colocate_with => '{anchor}');"
                     for t in tenants[1:])
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def databases() -> list[str]:
    """The catalogued services that have a database of their own (``jinqiao_<name>``), in catalogue order."""
    return [entry.name for entry in catalog.load() if entry.database]


def file_name(service: str) -> str:
    """The committed DDL's file name in ``deploy/citus/``: the database's name."""
    return f"jinqiao_{service}.sql"


async def ddl_of(conn: asyncpg.Connection, *, service: str) -> str:
    """The distribution DDL of a service's migrated database, read through ``conn`` (a superuser's)."""
    tables = await read_schema(conn)
    return distribution_ddl(database=f"jinqiao_{service}", tables=tables,
                            reference=REFERENCE_TABLES.get(service, {}))


async def generate(*, admin_dsn: str) -> dict[str, str]:
    """Provision and migrate every database on the PostgreSQL at ``admin_dsn`` (a scratch one: this creates the
    platform's roles and databases there), and return each one's DDL by file name."""
    from jinqiao.kit.migrations import migrate
    from jinqiao.kit.runtime.provision import provision_service_database

    out: dict[str, str] = {}
    for service in databases():
        db = await provision_service_database(admin_dsn=admin_dsn, service=service, app_password=f"pw-{service}")
        await migrate(service=service, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
        conn = await asyncpg.connect(db.admin_dsn_for_db)
        try:
            out[file_name(service)] = await ddl_of(conn, service=service)
        finally:
            await conn.close()
    return out
