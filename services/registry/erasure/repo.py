"""Erasure SQL over the unit of work's connection (RLS scopes it to one county), and the one cross-county look-up."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.registry.erasure.models import ERASED_HISTORY_FIELDS, ERASED_TEXT

# Flows that are not closed (flows_one_open: 1..4).
_OPEN_FLOW = "SELECT EXISTS (SELECT 1 FROM flows WHERE member_id = $1 AND status IN (1, 2, 3, 4))"


async def has_open_flow(uow: UnitOfWork, *, member_id: str) -> bool:
    """Whether the member is away on a flow not yet closed."""
    return bool(await uow.conn.fetchval(_OPEN_FLOW, member_id))


async def end_record(uow: UnitOfWork, *, member_id: str, status: int, departure: int, ended_on: date) -> None:
    """Mark the record ended (去世 or 出党) on ``ended_on``; the row stays for the ledgers and the counts."""
    await uow.conn.execute(
        "UPDATE members SET record_status = $2, departure = $3, ended_on = $4, version = version + 1,"
        " updated_at = now() WHERE id = $1", member_id, status, departure, ended_on,
    )


async def erase_member(uow: UnitOfWork, *, member_id: str, at: datetime) -> bool:
    """Erase the member's personal fields (numbers, blind index, address, day and month of birth); False when an
    earlier erasure already did (idempotent)."""
    done = await uow.conn.fetchval(
        "UPDATE members SET id_number_enc = NULL, id_number_bidx = NULL, id_number_masked = $3,"
        " phone_enc = NULL, phone_masked = $3, household_address = '',"
        " birth_date = make_date(extract(year FROM birth_date)::int, 1, 1),"
        " erased_at = $2, version = version + 1, updated_at = now()"
        " WHERE id = $1 AND erased_at IS NULL RETURNING true", member_id, at, ERASED_TEXT,
    )
    if not done:
        return False
    # The member's flows: the address at the destination and the contact phone (ciphertext and mask).
    await uow.conn.execute(
        "UPDATE flows SET address = '', contact_phone_enc = NULL,"
        " contact_phone_masked = CASE WHEN contact_phone_masked = '' THEN '' ELSE $2 END WHERE member_id = $1",
        member_id, ERASED_TEXT,
    )
    # The member's change history keeps who changed what and when, not the erased values.
    await uow.conn.execute(
        "UPDATE member_changes SET fields = (SELECT coalesce(jsonb_agg(CASE WHEN f->>'field' = ANY($2::text[])"
        " THEN jsonb_build_object('field', f->>'field', 'old', $3::text, 'new', $3::text) ELSE f END), '[]'::jsonb)"
        " FROM jsonb_array_elements(fields) f) WHERE member_id = $1",
        member_id, list(ERASED_HISTORY_FIELDS), ERASED_TEXT,
    )
    return True


async def holder_counties(uow: UnitOfWork, *, member_id: str) -> list[str]:
    """The counties that placed one of the member's flows: each holds a temporary membership with copies."""
    records = await uow.conn.fetch(
        "SELECT DISTINCT placing_tenant_id FROM flows WHERE member_id = $1 AND placing_tenant_id <> ''"
        " ORDER BY 1", member_id,
    )
    return [r[0] for r in records]


async def due_for_erasure_all_tenants(conn: asyncpg.Connection, *, ended_by: date,
                                      batch: int) -> list[tuple[str, str]]:
    """(county, member id) of records ended on or before ``ended_by`` and not erased, across counties by design:
    the scheduled erasure needs the ids, nothing more (a SECURITY DEFINER function; each county erases under RLS)."""
    records = await conn.fetch("SELECT tenant_id, member_id FROM members_due_for_erasure_all_tenants($1, $2)",
                               ended_by, batch)
    return [(r["tenant_id"], str(r["member_id"])) for r in records]
