"""发展党员 repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from datetime import date, datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.registry.development import domain as dev
from jinqiao.registry.development.models import (
    APPLICANT_COLUMNS,
    APPLICANT_FIELDS,
    MENTOR_FIELDS,
    ApplicantRow,
    Children,
    MentorRow,
    to_domain,
)

DUPLICATE = "该身份证号已在本县登记为入党申请人"


def _placeholders(n: int) -> str:
    return ", ".join(f"${i}" for i in range(1, n + 1))


def _applicant_row(record: asyncpg.Record) -> ApplicantRow:
    values = {name: record[name] for name in APPLICANT_FIELDS}
    values["id"] = str(values["id"])
    values["home_org_id"] = str(values["home_org_id"]) if values["home_org_id"] is not None else None
    values["id_number_enc"] = bytes(values["id_number_enc"])
    values["id_number_bidx"] = bytes(values["id_number_bidx"])
    values["phone_enc"] = bytes(values["phone_enc"]) if values["phone_enc"] is not None else None
    return ApplicantRow(**values)


async def insert_applicant(uow: UnitOfWork, *, row: ApplicantRow, mentors: Sequence[MentorRow],
                           applied_on: date, actor: str) -> None:
    """Insert an applicant with their mentors and the 申请人 stage; the same ID number twice in a county is refused."""
    try:
        await uow.conn.execute(
            f"INSERT INTO applicants ({APPLICANT_COLUMNS}) VALUES ({_placeholders(len(APPLICANT_FIELDS))})",
            *astuple(row),
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "applicants_id_number_unique":
            raise AlreadyExists(DUPLICATE) from exc
        raise
    if mentors:
        await uow.conn.executemany(
            f"INSERT INTO applicant_mentors ({', '.join(MENTOR_FIELDS)})"
            f" VALUES ({_placeholders(len(MENTOR_FIELDS))})",
            [astuple(m) for m in mentors],
        )
    await insert_stage(uow, applicant_id=row.id, stage=dev.Stage.APPLICANT, reached_on=applied_on, actor=actor)


async def insert_stage(uow: UnitOfWork, *, applicant_id: str, stage: int, reached_on: date, actor: str) -> None:
    """Record the date the applicant reached a stage."""
    await uow.conn.execute(
        "INSERT INTO applicant_stages (tenant_id, applicant_id, stage, reached_on, actor) VALUES ($1, $2, $3, $4, $5)",
        uow.tenant, applicant_id, stage, reached_on, actor,
    )


async def set_stage(uow: UnitOfWork, *, applicant_id: str, stage: int) -> None:
    """Move the applicant's current stage and bump the version (the caller checked it under a row lock)."""
    await uow.conn.execute(
        "UPDATE applicants SET stage = $2, version = version + 1, updated_at = now() WHERE id = $1",
        applicant_id, stage,
    )


async def bump_version(uow: UnitOfWork, *, applicant_id: str) -> None:
    """A new inspection changes what an advance may rely on, so it counts as a change of the applicant."""
    await uow.conn.execute(
        "UPDATE applicants SET version = version + 1, updated_at = now() WHERE id = $1", applicant_id
    )


async def insert_inspection(uow: UnitOfWork, *, inspection_id: str, applicant_id: str,
                            inspection: dev.NewInspection, actor: str) -> None:
    """Add one 双向考察 report."""
    await uow.conn.execute(
        "INSERT INTO applicant_inspections (tenant_id, id, applicant_id, side, inspected_on, inspector, summary,"
        " actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uow.tenant, inspection_id, applicant_id, inspection.side.value, inspection.inspected_on,
        inspection.inspector, inspection.summary, actor,
    )


async def get_applicant(uow: UnitOfWork, *, applicant_id: str, for_update: bool = False) -> ApplicantRow | None:
    """One applicant of the unit of work's county, or None."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(
        f"SELECT {APPLICANT_COLUMNS} FROM applicants WHERE id = $1{lock}", applicant_id
    )
    return _applicant_row(record) if record else None


async def applicant_by_bidx(uow: UnitOfWork, *, bidx: bytes) -> ApplicantRow | None:
    """The county's applicant with this ID number (blind index), if any."""
    record = await uow.conn.fetchrow(f"SELECT {APPLICANT_COLUMNS} FROM applicants WHERE id_number_bidx = $1", bidx)
    return _applicant_row(record) if record else None


async def is_member(uow: UnitOfWork, *, member_bidx: bytes) -> bool:
    """Whether the county already holds this person as a member (the members' own blind index)."""
    return bool(await uow.conn.fetchval("SELECT true FROM members WHERE id_number_bidx = $1", member_bidx))


async def find_by_request_id(uow: UnitOfWork, *, request_id: str) -> ApplicantRow | None:
    """The applicant an earlier request with this idempotency key created, if any."""
    record = await uow.conn.fetchrow(f"SELECT {APPLICANT_COLUMNS} FROM applicants WHERE request_id = $1", request_id)
    return _applicant_row(record) if record else None


async def lock_request_id(uow: UnitOfWork, *, request_id: str) -> None:
    """Serialise concurrent requests carrying the same idempotency key until this transaction ends."""
    await uow.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('registry.applicant_request:' || $1 || ':' || $2, 0))",
        uow.tenant, request_id,
    )


async def list_applicants(uow: UnitOfWork, *, after: tuple[datetime, str] | None, limit: int,
                          stage: int, home_orgs: Sequence[str] | None = None) -> list[ApplicantRow]:
    """A page of applicants, newest first, after the keyset cursor; optionally of one stage; only those whose home
    organisation is one of ``home_orgs`` when given (a confined caller's reach)."""
    records = await uow.conn.fetch(
        f"SELECT {APPLICANT_COLUMNS} FROM applicants WHERE ($1 = 0 OR stage = $1)"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
        " AND ($5::uuid[] IS NULL OR home_org_id = ANY($5::uuid[]))"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        stage, after[0] if after else None, after[1] if after else None, limit,
        list(home_orgs) if home_orgs is not None else None,
    )
    return [_applicant_row(r) for r in records]


async def children(uow: UnitOfWork, *, applicant_ids: Sequence[str]) -> Children:
    """Load the child rows of many applicants in three queries (not three per applicant)."""
    ids = list(applicant_ids)
    result = Children(stages={i: [] for i in ids}, mentors={i: [] for i in ids}, inspections={i: [] for i in ids})
    if not ids:
        return result
    for r in await uow.conn.fetch(
        "SELECT applicant_id, stage, reached_on FROM applicant_stages WHERE applicant_id = ANY($1::uuid[])"
        " ORDER BY applicant_id, stage", ids,
    ):
        result.stages[str(r["applicant_id"])].append((r["stage"], r["reached_on"]))
    for r in await uow.conn.fetch(
        f"SELECT {', '.join(MENTOR_FIELDS)} FROM applicant_mentors WHERE applicant_id = ANY($1::uuid[])"
        " ORDER BY applicant_id, seq", ids,
    ):
        values = {name: r[name] for name in MENTOR_FIELDS}
        values["applicant_id"] = str(values["applicant_id"])
        values["phone_enc"] = bytes(values["phone_enc"]) if values["phone_enc"] is not None else None
        result.mentors[values["applicant_id"]].append(MentorRow(**values))
    for r in await uow.conn.fetch(
        "SELECT id, applicant_id, side, inspected_on, inspector, summary FROM applicant_inspections"
        " WHERE applicant_id = ANY($1::uuid[]) ORDER BY applicant_id, inspected_on, created_at, id", ids,
    ):
        result.inspections[str(r["applicant_id"])].append(dev.Inspection(
            id=str(r["id"]), side=dev.Side(r["side"]), inspected_on=r["inspected_on"], inspector=r["inspector"],
            summary=r["summary"],
        ))
    return result


async def load(uow: UnitOfWork, rows: Sequence[ApplicantRow]) -> list[dev.Applicant]:
    """Rows with their children, as domain applicants, in the rows' order."""
    kids = await children(uow, applicant_ids=[r.id for r in rows])
    return [to_domain(r, kids) for r in rows]
