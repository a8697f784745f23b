"""Imports repository: SQL of 台账 imports over the unit of work's connection (RLS scopes it to one county)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.registry.imports.domain import ImportState, MemberImport, RowError
from jinqiao.registry.imports.models import errors_json, to_import
from jinqiao.registry.members.models import MEMBER_COLUMNS, MEMBER_FIELDS

_IMPORT_COLUMNS = ("id, file_name, state, total_rows, processed_rows, imported_rows, errors, errors_truncated,"
                   " error_count, failure_reason, updated_at")
_OUTBOX_COLUMNS = ("tenant_id", "event_id", "subject", "event_type", "event_version", "payload", "traceparent")
_OUTBOX_LIST = ", ".join(_OUTBOX_COLUMNS)


async def lock_request_id(uow: UnitOfWork, *, request_id: str) -> None:
    """Serialise concurrent starts carrying the same idempotency key until this transaction ends."""
    await uow.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('registry.import:' || $1 || ':' || $2, 0))",
        uow.tenant, request_id,
    )


async def by_request_id(uow: UnitOfWork, *, request_id: str) -> MemberImport | None:
    """The import an earlier start with this idempotency key created, if any."""
    record = await uow.conn.fetchrow(f"SELECT {_IMPORT_COLUMNS} FROM member_imports WHERE request_id = $1",
                                     request_id)
    return to_import(record) if record else None


async def insert_import(uow: UnitOfWork, *, import_id: str, file_name: str, fmt: int, state: ImportState,
                        total_rows: int, errors: Sequence[RowError], error_count: int, errors_truncated: bool,
                        actor: str, request_id: str | None, created_at: datetime) -> None:
    """Record a new import (running, or already failed when the file itself could not be read)."""
    await uow.conn.execute(
        "INSERT INTO member_imports (tenant_id, id, file_name, format, state, total_rows, errors, error_count,"
        " errors_truncated, actor, request_id, created_at, finished_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13)",
        uow.tenant, import_id, file_name, fmt, int(state), total_rows, errors_json(errors), error_count,
        errors_truncated, actor, request_id, created_at, None if state is ImportState.RUNNING else created_at,
    )


async def get_import(uow: UnitOfWork, *, import_id: str) -> tuple[MemberImport, datetime] | None:
    """An import of the county and when it last moved, or None."""
    record = await uow.conn.fetchrow(f"SELECT {_IMPORT_COLUMNS} FROM member_imports WHERE id = $1", import_id)
    return (to_import(record), record["updated_at"]) if record else None


async def set_progress(uow: UnitOfWork, *, import_id: str, processed_rows: int, total_rows: int | None = None,
                       error_count: int | None = None) -> None:
    """Move the progress bar (also the heartbeat that tells a live import from an interrupted one)."""
    await uow.conn.execute(
        "UPDATE member_imports SET processed_rows = $2, total_rows = coalesce($3, total_rows),"
        " error_count = coalesce($4, error_count), updated_at = now() WHERE id = $1 AND state = 1",
        import_id, processed_rows, total_rows, error_count,
    )


async def finish(uow: UnitOfWork, *, import_id: str, state: ImportState, processed_rows: int, imported_rows: int = 0,
                 errors: Sequence[RowError] = (), error_count: int = 0, errors_truncated: bool = False,
                 failure_reason: str = "") -> bool:
    """Settle a running import; False when it was no longer running (e.g. already failed as interrupted)."""
    done = await uow.conn.fetchval(
        "UPDATE member_imports SET state = $2, processed_rows = $3, imported_rows = $4, errors = $5::jsonb,"
        " error_count = $6, errors_truncated = $7, failure_reason = $8, updated_at = now(), finished_at = now()"
        " WHERE id = $1 AND state = 1 RETURNING 1",
        import_id, int(state), processed_rows, imported_rows, errors_json(errors), error_count, errors_truncated,
        failure_reason,
    )
    return bool(done)


async def existing_bidx(uow: UnitOfWork, *, bidx: Sequence[bytes]) -> set[bytes]:
    """Which of these blind indexes the county already holds (any record status: the unique key covers all)."""
    rows = await uow.conn.fetch("SELECT id_number_bidx FROM members WHERE id_number_bidx = ANY($1::bytea[])",
                                list(bidx))
    return {bytes(r[0]) for r in rows}


async def registered_elsewhere(uow: UnitOfWork, *, bidx: Sequence[bytes]) -> set[bytes]:
    """Which of these blind indexes another county of the province holds (never which county)."""
    rows = await uow.conn.fetch("SELECT * FROM members_registered_elsewhere_all_tenants($1::bytea[], $2)",
                                list(bidx), uow.tenant)
    return {bytes(r[0]) for r in rows}


async def known_orgs(uow: UnitOfWork, *, org_ids: Sequence[str]) -> set[str]:
    """Which of these organisations the county has (active), as the registry's replica knows them."""
    rows = await uow.conn.fetch("SELECT id FROM org_replica WHERE id = ANY($1::uuid[]) AND NOT dissolved",
                                list(org_ids))
    return {str(r[0]) for r in rows}


async def stage(uow: UnitOfWork) -> None:
    """Transaction-local tables the chunks of an import are copied into (COPY into a table under RLS is refused).

    PostgreSQL refuses COPY FROM into a table with row-level security for a role subject to it, so the rows go
    through temporary tables; each INSERT … SELECT then meets the same policy (WITH CHECK) and constraints as any
    insert.
    """
    await uow.conn.execute(
        f"CREATE TEMP TABLE import_members ON COMMIT DROP AS SELECT {MEMBER_COLUMNS} FROM members WITH NO DATA;"
        f" CREATE TEMP TABLE import_outbox ON COMMIT DROP AS SELECT {_OUTBOX_LIST} FROM outbox WITH NO DATA"
    )


async def copy_members(uow: UnitOfWork, *, records: Sequence[Sequence[object]]) -> None:
    """Bulk-insert members rows (values in MEMBER_FIELDS order) through the staging table of ``stage``."""
    await uow.conn.copy_records_to_table("import_members", records=records, columns=MEMBER_FIELDS)
    # Emptied for the next chunk; a table created in this transaction is truncated in place, cheaply.
    await uow.conn.execute(f"INSERT INTO members ({MEMBER_COLUMNS}) SELECT {MEMBER_COLUMNS} FROM import_members;"
                           " TRUNCATE import_members")


async def copy_outbox(uow: UnitOfWork, *, records: Sequence[Sequence[object]]) -> None:
    """Bulk-write outbox rows (values in _OUTBOX_COLUMNS order) the same way (the outbox is under RLS too)."""
    await uow.conn.copy_records_to_table("import_outbox", records=records, columns=_OUTBOX_COLUMNS)
    await uow.conn.execute(f"INSERT INTO outbox ({_OUTBOX_LIST}) SELECT {_OUTBOX_LIST} FROM import_outbox;"
                           " TRUNCATE import_outbox")
