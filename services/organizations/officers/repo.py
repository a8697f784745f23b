"""Officers, appointments and grids: SQL over the unit of work's connection."""

from __future__ import annotations

from datetime import date

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.organizations.officers.domain import Appointment, Grid, Position
from jinqiao.organizations.officers.models import APPOINTMENT, GRID, appointment_from_record, grid_from_record


async def insert_officer(uow: UnitOfWork, *, officer_id: str, name: str, phone_enc: bytes,
                         phone_masked: str) -> None:
    """Record a person."""
    await uow.conn.execute(
        "INSERT INTO officers (tenant_id, id, name, phone_enc, phone_masked) VALUES ($1, $2, $3, $4, $5)",
        uow.tenant, officer_id, name, phone_enc, phone_masked,
    )


async def officer_exists(uow: UnitOfWork, *, officer_id: str) -> bool:
    """Whether the county has this officer on record."""
    return bool(await uow.conn.fetchval("SELECT true FROM officers WHERE id = $1", officer_id))


async def officer_phone_enc(uow: UnitOfWork, *, officer_id: str) -> bytes | None:
    """The officer's sealed phone (bound to the county, "officers", "phone", the officer), or None."""
    sealed = await uow.conn.fetchval("SELECT phone_enc FROM officers WHERE id = $1", officer_id)
    return None if sealed is None else bytes(sealed)


async def insert_appointment(uow: UnitOfWork, *, appointment_id: str, officer_id: str, org_id: str,
                             position: Position, start: date) -> None:
    """Record an appointment; a second sitting secretary or a repeated appointment is refused."""
    try:
        await uow.conn.execute(
            "INSERT INTO appointments (tenant_id, id, officer_id, org_id, position, start_date)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            uow.tenant, appointment_id, officer_id, org_id, int(position), start,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "appointments_one_secretary":
            raise AlreadyExists("该组织已有在任书记，请先办理离任") from exc
        raise AlreadyExists("此人已在该组织担任该职务") from exc


async def appointment(uow: UnitOfWork, *, appointment_id: str) -> Appointment | None:
    """One appointment, or None."""
    record = await uow.conn.fetchrow(f"{APPOINTMENT} WHERE a.id = $1", appointment_id)
    return appointment_from_record(record) if record else None


async def end_appointment(uow: UnitOfWork, *, appointment_id: str, end: date) -> None:
    """Close an appointment."""
    await uow.conn.execute("UPDATE appointments SET end_date = $2 WHERE id = $1", appointment_id, end)


async def appointments(uow: UnitOfWork, *, org_id: str | None, positions: list[int],
                       include_history: bool) -> list[Appointment]:
    """Appointments by organisation and/or position; current ones first, then by start date."""
    records = await uow.conn.fetch(
        f"{APPOINTMENT} WHERE ($1::uuid IS NULL OR a.org_id = $1)"
        " AND (cardinality($2::smallint[]) = 0 OR a.position = ANY($2::smallint[]))"
        " AND ($3 OR a.end_date IS NULL) ORDER BY a.end_date IS NOT NULL, a.start_date DESC, a.id LIMIT 5000",
        org_id, positions, include_history,
    )
    return [appointment_from_record(r) for r in records]


async def insert_grid(uow: UnitOfWork, *, grid_id: str, org_id: str, name: str, leader_officer_id: str | None,
                      addresses: tuple[str, ...], member_ids: tuple[str, ...]) -> Grid:
    """Record a grid; the same name twice under one organisation is refused."""
    try:
        await uow.conn.execute(
            "INSERT INTO grids (tenant_id, id, org_id, name, leader_officer_id, addresses, member_ids)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::uuid[])",
            uow.tenant, grid_id, org_id, name, leader_officer_id, list(addresses), list(member_ids),
        )
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyExists("该组织下已有同名网格") from exc
    return grid_from_record(await uow.conn.fetchrow(f"{GRID} WHERE g.id = $1", grid_id))


async def grids(uow: UnitOfWork, *, org_id: str) -> list[Grid]:
    """The grids of an organisation by name."""
    return [grid_from_record(r) for r in await uow.conn.fetch(f"{GRID} WHERE g.org_id = $1 ORDER BY g.name", org_id)]
