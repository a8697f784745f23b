"""Key rotation over the data: re-encrypt every stored PII blob under the active key version, count blobs per version.

Each service declares its encrypted columns once, as ``ENCRYPTED_COLUMNS`` in a concept's ``models.py``; the
rotation reads those declarations and nothing else (a test checks that every ``*_enc`` column is declared).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from jinqiao.kit import catalog
from jinqiao.kit.audit import AuditEntry, record
from jinqiao.kit.crypto import DecryptionError, EncryptedColumn, FieldCipher
from jinqiao.kit.db import Database

# The key version of a blob (format byte, then two bytes big-endian; see crypto.py), NULL when it is no blob.
_VERSION = ("CASE WHEN octet_length({c}) >= 3 AND get_byte({c}, 0) = 1"
            " THEN get_byte({c}, 1) * 256 + get_byte({c}, 2) END")


def encrypted_columns(service: str) -> tuple[EncryptedColumn, ...]:
    """Every ``ENCRYPTED_COLUMNS`` of a catalogued service: its own ``models`` and each concept's, by name."""
    package = catalog.get(service).package
    names = [f"{package}.models"]
    root = importlib.import_module(package)
    names += [f"{package}.{info.name}.models" for info in sorted(pkgutil.iter_modules(root.__path__),
                                                                    key=lambda info: info.name) if info.ispkg]
    found: list[EncryptedColumn] = []
    for name in names:
        if importlib.util.find_spec(name) is not None:
            found.extend(getattr(importlib.import_module(name), "ENCRYPTED_COLUMNS", ()))
    return tuple(found)


def _label(column: EncryptedColumn) -> str:
    return f"{column.table}.{column.column}"


@dataclass(slots=True)
class Reencrypted:
    """What a re-encryption of one service's database did."""

    service: str
    version: int
    rewritten: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)
    counties: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        """Blobs rewritten in all columns."""
        return sum(self.rewritten.values())


async def _counties_with_older_blobs(conn: asyncpg.Connection, columns: Sequence[EncryptedColumn],
                                     active: int) -> list[str]:
    counties: set[str] = set()
    for column in columns:
        version = _VERSION.format(c=column.column)
        rows = await conn.fetch(f"SELECT DISTINCT tenant_id FROM {column.table}"
                                f" WHERE {column.column} IS NOT NULL AND ({version}) IS DISTINCT FROM $1", active)
        counties.update(r["tenant_id"] for r in rows)
    return sorted(counties)


async def reencrypt_all_tenants(*, service: str, admin_dsn: str, app_dsn: str, cipher: FieldCipher,
                                columns: Sequence[EncryptedColumn], actor: str, batch: int = 500) -> Reencrypted:
    """Rewrite every blob of the service's database that is not under the cipher's active version.

    Crosses tenants because an old key version may be destroyed only when no county's row uses it. The admin
    connection does nothing but list the counties holding older blobs; each county's rows are then read and
    rewritten as the service's app role in that county's own units of work (RLS confines each to the county), one
    batch per transaction with its audit row in the county's chain. Blobs already under the active version are
    left alone, so a second run (or a run after an interruption) rewrites only what is left.
    """
    result = Reencrypted(service=service, version=cipher.active_version)
    admin = await asyncpg.connect(admin_dsn)
    try:
        counties = await _counties_with_older_blobs(admin, columns, cipher.active_version)
    finally:
        await admin.close()
    if not counties:
        return result
    db = await Database.connect(app_dsn, min_size=1, max_size=1)
    try:
        for county in counties:
            for column in columns:
                await _reencrypt_county_column(db, county=county, column=column, cipher=cipher, actor=actor,
                                               batch=batch, result=result)
    finally:
        await db.close()
    return result


async def _reencrypt_county_column(db: Database, *, county: str, column: EncryptedColumn, cipher: FieldCipher,
                                   actor: str, batch: int, result: Reencrypted) -> None:
    keys = ", ".join(column.key)
    version = _VERSION.format(c=column.column)
    base = (f"SELECT {keys}, {column.column} AS blob FROM {column.table} WHERE tenant_id = $1"
            f" AND {column.column} IS NOT NULL AND ({version}) IS DISTINCT FROM $2")
    after = " AND ({keys}) > ({params})".format(
        keys=keys, params=", ".join(f"${i}" for i in range(3, 3 + len(column.key))))
    order = f" ORDER BY {keys} LIMIT {int(batch)} FOR UPDATE"
    update = (f"UPDATE {column.table} SET {column.column} = $2 WHERE tenant_id = $1 AND "
              + " AND ".join(f"{k} = ${i}" for i, k in enumerate(column.key, start=3)))
    label = _label(column)
    cursor: tuple[object, ...] | None = None
    while True:
        async with db.unit_of_work(tenant=county) as uow:
            if cursor is None:
                rows = await uow.conn.fetch(base + order, county, cipher.active_version)
            else:
                rows = await uow.conn.fetch(base + after + order, county, cipher.active_version, *cursor)
            changes: list[tuple[object, ...]] = []
            for row in rows:
                binding = {"tenant": county, "table": column.table, "column": column.bound_as,
                           "row": column.row_of(row)}
                try:
                    # A binary column (an attachment's content) is sealed bytes, not text.
                    sealed = (cipher.encrypt_bytes(cipher.decrypt_bytes(row["blob"], **binding), **binding)
                              if column.binary else cipher.encrypt(cipher.decrypt(row["blob"], **binding), **binding))
                except DecryptionError:
                    # Never dropped nor overwritten: counted, reported, and left for a person to look at.
                    result.unreadable[label] = result.unreadable.get(label, 0) + 1
                    continue
                changes.append((county, sealed, *(row[k] for k in column.key)))
            if changes:
                await uow.conn.executemany(update, changes)
                await record(uow, AuditEntry(
                    actor=actor, role="operator", action="pii.reencrypt", object_type="pii_column", object_id=label,
                    reason=f"{len(changes)} 个加密值改用密钥版本 {cipher.active_version} / {len(changes)} values "
                           f"re-encrypted under key version {cipher.active_version}"))
                result.rewritten[label] = result.rewritten.get(label, 0) + len(changes)
                result.counties.add(county)
            await uow.commit()
        if len(rows) < batch:
            return
        cursor = tuple(rows[-1][k] for k in column.key)


async def blobs_per_version_all_tenants(*, admin_dsn: str,
                                        columns: Sequence[EncryptedColumn]) -> dict[str, dict[int | None, int]]:
    """Blobs per key version in each declared column (None: not a blob of this format).

    Crosses tenants because a key version is in use if any county's row uses it (`jinqiao keys status`, and the
    check before `jinqiao keys retire`); it returns counts only, never a row.
    """
    counts: dict[str, dict[int | None, int]] = {}
    conn = await asyncpg.connect(admin_dsn)
    try:
        for column in columns:
            version = _VERSION.format(c=column.column)
            rows = await conn.fetch(f"SELECT {version} AS version, count(*) AS n FROM {column.table}"
                                    f" WHERE {column.column} IS NOT NULL GROUP BY 1 ORDER BY 1")
            counts[_label(column)] = {r["version"]: int(r["n"]) for r in rows}
    finally:
        await conn.close()
    return counts


async def unsent_events_all_tenants(*, admin_dsn: str) -> int:
    """Outbox rows not yet relayed, in every county: an event may carry a value sealed under an older key."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        if await conn.fetchval("SELECT to_regclass('outbox')") is None:
            return 0
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    finally:
        await conn.close()
