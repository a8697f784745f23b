"""Flows repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.registry.flows.domain import OPEN, Alert, AlertCase, AlertState, Policy, Returnee, ReturneeFacts
from jinqiao.registry.flows.models import FLOW_COLUMNS, FLOW_FIELDS, FlowRow
from jinqiao.registry.members.models import MEMBER_COLUMNS, MemberRow

_FLOW_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(FLOW_FIELDS) + 1))
_OPEN = [int(s) for s in OPEN]
_FACTS = tuple(ReturneeFacts.__dataclass_fields__)



async def policy_and_next_certificate_number(uow: UnitOfWork, *, year: int) -> tuple[Policy, int]:
    """The county's policy timers and the next 活动证 number of its year, in one round trip (the counter's row lock
    serialises concurrent issues)."""
    record = await uow.conn.fetchrow(
        "WITH issued AS (INSERT INTO certificate_counters (tenant_id, year, last) VALUES ($1, $2, 1)"
        " ON CONFLICT (tenant_id, year) DO UPDATE SET last = certificate_counters.last + 1 RETURNING last)"
        " SELECT issued.last AS issued_number, p.* FROM issued LEFT JOIN flow_policies p ON p.tenant_id = $1",
        uow.tenant, year,
    )
    return _policy_of(record), int(record["issued_number"])


async def insert_open_flow(uow: UnitOfWork, *, row: FlowRow) -> MemberRow:
    """Insert an open flow and point its member's current-flow columns (used by search) at it, in one statement;
    returns the member's row as updated. A second open flow of the same member is refused."""
    n = len(FLOW_FIELDS)
    try:
        record = await uow.conn.fetchrow(
            f"WITH added AS (INSERT INTO flows ({FLOW_COLUMNS}) VALUES ({_FLOW_PLACEHOLDERS}))"
            f" UPDATE members SET flow_id = ${n + 1}, flow_status = ${n + 2}, destination_code = ${n + 3},"
            f" industry = ${n + 4}, updated_at = now() WHERE id = ${n + 5} RETURNING {MEMBER_COLUMNS}",
            *row.values(), row.id, row.status, row.destination_code, row.industry, row.member_id,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "flows_one_open":
            raise AlreadyExists("该党员已有未结束的外出登记") from exc
        raise
    return MemberRow.from_record(record)


async def get_flow(uow: UnitOfWork, *, flow_id: str, for_update: bool = False) -> tuple[FlowRow, str] | None:
    """A flow with its member's name, or None."""
    lock = " FOR UPDATE OF f" if for_update else ""
    record = await uow.conn.fetchrow(
        f"SELECT f.*, m.name AS member_name FROM flows f JOIN members m ON m.tenant_id = f.tenant_id"
        f" AND m.id = f.member_id WHERE f.id = $1{lock}", flow_id,
    )
    return (FlowRow.from_record(record), record["member_name"]) if record else None


async def lock_request_id(uow: UnitOfWork, *, request_id: str) -> None:
    """Serialise concurrent requests carrying the same idempotency key until this transaction ends.

    The key is the one member registration takes (``registry.request``), as before the split into concepts.
    """
    await uow.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('registry.request:' || $1 || ':' || $2, 0))",
        uow.tenant, request_id,
    )


async def flow_by_request_id(uow: UnitOfWork, *, request_id: str) -> str | None:
    """The flow an earlier request with this idempotency key registered, if any."""
    found = await uow.conn.fetchval("SELECT id FROM flows WHERE request_id = $1", request_id)
    return str(found) if found else None


async def update_flow(uow: UnitOfWork, *, flow_id: str, changes: dict[str, object]) -> None:
    """Write changed columns and bump the version."""
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await uow.conn.execute(
        f"UPDATE flows SET {assignments}, version = version + 1, updated_at = now() WHERE id = $1",
        flow_id, *changes.values(),
    )


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_flows(uow: UnitOfWork, *, after: tuple[datetime, str] | None, limit: int, member_id: str | None,
                     statuses: Sequence[int], destination_code: str, member_name: str = "",
                     offset: int = 0) -> tuple[list[tuple[FlowRow, str, str]], int]:
    """A page of flows with their members' names and masked ID numbers, newest first, and how many match."""
    records = await uow.conn.fetch(
        "SELECT f.*, m.name AS member_name, m.id_number_masked AS member_id_masked, count(*) OVER () AS total"
        " FROM flows f JOIN members m ON m.tenant_id = f.tenant_id"
        " AND m.id = f.member_id WHERE ($1::uuid IS NULL OR f.member_id = $1)"
        " AND (cardinality($2::smallint[]) = 0 OR f.status = ANY($2::smallint[]))"
        " AND ($3 = '' OR f.destination_code = $3)"
        " AND ($4::timestamptz IS NULL OR (f.created_at, f.id) < ($4, $5::uuid))"
        " AND ($7 = '' OR m.name ILIKE $8)"
        " ORDER BY f.created_at DESC, f.id DESC LIMIT $6 OFFSET $9",
        member_id, list(statuses), destination_code, after[0] if after else None, after[1] if after else None,
        limit, member_name, _like(member_name), offset,
    )
    total = int(records[0]["total"]) if records else 0
    if not records and offset:
        total = int(await uow.conn.fetchval(
            "SELECT count(*) FROM flows f JOIN members m ON m.tenant_id = f.tenant_id AND m.id = f.member_id"
            " WHERE ($1::uuid IS NULL OR f.member_id = $1)"
            " AND (cardinality($2::smallint[]) = 0 OR f.status = ANY($2::smallint[]))"
            " AND ($3 = '' OR f.destination_code = $3) AND ($4 = '' OR m.name ILIKE $5)",
            member_id, list(statuses), destination_code, member_name, _like(member_name)))
    return [(FlowRow.from_record(r), r["member_name"], r["member_id_masked"]) for r in records], total


async def open_flows(uow: UnitOfWork) -> list[tuple[FlowRow, str]]:
    """Every open flow of the county (the timers' sweep)."""
    records = await uow.conn.fetch(
        "SELECT f.*, m.name AS member_name FROM flows f JOIN members m ON m.tenant_id = f.tenant_id"
        " AND m.id = f.member_id WHERE f.status = ANY($1::smallint[]) ORDER BY f.created_at",
        _OPEN,
    )
    return [(FlowRow.from_record(r), r["member_name"]) for r in records]


async def counties_with_open_flows_all_tenants(conn: asyncpg.Connection) -> list[str]:
    """The counties the timers must visit; a SECURITY DEFINER function names them and nothing else."""
    return [r[0] for r in await conn.fetch("SELECT * FROM counties_with_open_flows_all_tenants()")]


async def policy(uow: UnitOfWork) -> Policy:
    """The county's policy timers, or the defaults."""
    return _policy_of(await uow.conn.fetchrow("SELECT * FROM flow_policies WHERE tenant_id = $1", uow.tenant))


def _policy_of(record: asyncpg.Record | None) -> Policy:
    # A record without the county's row (none fetched, or the outer join found none) is the defaults.
    if record is None or record["tenant_id"] is None:
        return Policy()
    return Policy(**{k: record[k] for k in Policy.__dataclass_fields__ if k != "is_default"}, is_default=False)


async def save_policy(uow: UnitOfWork, *, policy: Policy) -> None:
    """Replace the county's policy timers."""
    await uow.conn.execute(
        "INSERT INTO flow_policies (tenant_id, check_in_days, escalate_township_days, escalate_county_days,"
        " certificate_months, report_back_months, transfer_due_months, placement_timeout_hours)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id) DO UPDATE SET"
        " check_in_days = $2, escalate_township_days = $3, escalate_county_days = $4, certificate_months = $5,"
        " report_back_months = $6, transfer_due_months = $7, placement_timeout_hours = $8, updated_at = now()",
        uow.tenant, policy.check_in_days, policy.escalate_township_days, policy.escalate_county_days,
        policy.certificate_months, policy.report_back_months, policy.transfer_due_months,
        policy.placement_timeout_hours,
    )


async def insert_alert(uow: UnitOfWork, *, flow_id: str, member_id: str, timer: str, level: int, due_date: date,
                       fired_at: datetime) -> bool:
    """Record a fired timer; False when it had fired before (each fires once)."""
    inserted = await uow.conn.fetchval(
        "INSERT INTO flow_alerts (tenant_id, flow_id, timer, level, due_date, member_id, fired_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
        uow.tenant, flow_id, timer, level, due_date, member_id, fired_at,
    )
    return bool(inserted)


async def alerts(uow: UnitOfWork, *, flow_id: str | None, timer: str) -> list[Alert]:
    """Fired timers, newest first, with the members' names."""
    records = await uow.conn.fetch(
        "SELECT a.*, m.name AS member_name FROM flow_alerts a JOIN members m ON m.tenant_id = a.tenant_id"
        " AND m.id = a.member_id WHERE ($1::uuid IS NULL OR a.flow_id = $1) AND ($2 = '' OR a.timer = $2)"
        " ORDER BY a.fired_at DESC, a.timer, a.level LIMIT 500",
        flow_id, timer,
    )
    return [Alert(flow_id=str(r["flow_id"]), member_id=str(r["member_id"]), member_name=r["member_name"],
                  timer=r["timer"], level=r["level"], due_date=r["due_date"], fired_at=r["fired_at"]) for r in records]


# ------------------------------------------------------------------------------------------------ 预警 cases

_CASE_SELECT = (
    "SELECT c.*, m.name AS member_name, f.destination_code, coalesce(t.name, m.township, '') AS township_name,"
    " count(*) OVER () AS total"
    " FROM alert_cases c JOIN members m ON m.tenant_id = c.tenant_id AND m.id = c.member_id"
    " JOIN flows f ON f.tenant_id = c.tenant_id AND f.id = c.flow_id"
    # The member's 乡镇党委: the nearest township committee above the home branch, as the org replica knows it.
    " LEFT JOIN LATERAL (WITH RECURSIVE up(id, parent_id, name, kind, depth) AS ("
    "   SELECT o.id, o.parent_id, o.name, o.kind, 0 FROM org_replica o WHERE o.id = m.home_branch_id"
    "   UNION ALL SELECT p.id, p.parent_id, p.name, p.kind, up.depth + 1 FROM org_replica p"
    "   JOIN up ON p.id = up.parent_id WHERE up.depth < 20)"
    "  SELECT name FROM up WHERE kind = 'TOWNSHIP_COMMITTEE' AND name <> '' ORDER BY depth LIMIT 1) t ON true"
)


async def open_case(uow: UnitOfWork, *, flow_id: str, member_id: str, timer: str, level: int,
                    fired_at: datetime) -> str:
    """A newly fired level opens the flow's case for this timer, or re-opens it with the level raised."""
    return str(await uow.conn.fetchval(
        "INSERT INTO alert_cases (tenant_id, id, flow_id, member_id, timer, level, state, first_fired_at,"
        " last_fired_at) VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, 1, $6, $6)"
        " ON CONFLICT (tenant_id, flow_id, timer) DO UPDATE SET level = greatest(alert_cases.level, $5),"
        " last_fired_at = greatest(alert_cases.last_fired_at, $6), state = 1, acknowledged_at = NULL,"
        " acknowledged_by = '', closed_at = NULL, closed_by = '', version = alert_cases.version + 1"
        " RETURNING id",
        uow.tenant, flow_id, member_id, timer, level, fired_at,
    ))


_Levels = dict[tuple[str, str], list[tuple[int, datetime]]]


async def _levels(uow: UnitOfWork, records: Sequence[asyncpg.Record]) -> _Levels:
    if not records:
        return {}
    rows = await uow.conn.fetch(
        "SELECT flow_id, timer, level, fired_at FROM flow_alerts WHERE flow_id = ANY($1::uuid[])"
        " ORDER BY fired_at, level", list({r["flow_id"] for r in records}),
    )
    levels: _Levels = {}
    for r in rows:
        levels.setdefault((str(r["flow_id"]), r["timer"]), []).append((r["level"], r["fired_at"]))
    return levels


def _case(r: asyncpg.Record, levels: _Levels) -> AlertCase:
    return AlertCase(
        id=str(r["id"]), flow_id=str(r["flow_id"]), member_id=str(r["member_id"]), member_name=r["member_name"],
        timer=r["timer"], level=r["level"], levels=tuple(levels.get((str(r["flow_id"]), r["timer"]), ())),
        state=AlertState(r["state"]), first_fired_at=r["first_fired_at"], last_fired_at=r["last_fired_at"],
        acknowledged_at=r["acknowledged_at"], acknowledged_by=r["acknowledged_by"], closed_at=r["closed_at"],
        closed_by=r["closed_by"], note=r["note"], destination_code=r["destination_code"],
        township_name=r["township_name"], version=r["version"],
    )


async def list_cases(uow: UnitOfWork, *, states: Sequence[int], timer: str, level: int, reach: Sequence[str] | None,
                     limit: int, offset: int) -> tuple[list[AlertCase], int]:
    """A page of cases, most recently fired first, with how many match (reach: the home orgs, None = county)."""
    where = (" WHERE c.state = ANY($1::smallint[]) AND ($2 = '' OR c.timer = $2) AND ($3 = 0 OR c.level = $3)"
             " AND ($4::uuid[] IS NULL OR m.home_branch_id = ANY($4::uuid[]))")
    args = (list(states), timer, level, list(reach) if reach is not None else None)
    if limit == 0:
        total = await uow.conn.fetchval(
            "SELECT count(*) FROM alert_cases c JOIN members m ON m.tenant_id = c.tenant_id AND m.id = c.member_id"
            + where, *args)
        return [], int(total)
    records = await uow.conn.fetch(
        _CASE_SELECT + where + " ORDER BY c.last_fired_at DESC, c.id LIMIT $5 OFFSET $6", *args, limit, offset)
    if not records and offset:
        return [], (await list_cases(uow, states=states, timer=timer, level=level, reach=reach, limit=0,
                                     offset=0))[1]
    levels = await _levels(uow, records)
    return [_case(r, levels) for r in records], int(records[0]["total"]) if records else 0


async def get_case(uow: UnitOfWork, *, case_id: str, for_update: bool = False) -> tuple[AlertCase, str | None] | None:
    """A case with its member's home organisation, or None."""
    lock = " FOR UPDATE OF c" if for_update else ""
    record = await uow.conn.fetchrow(
        _CASE_SELECT.replace(" count(*) OVER () AS total", " m.home_branch_id") + " WHERE c.id = $1" + lock,
        case_id)
    if record is None:
        return None
    home = record["home_branch_id"]
    return _case(record, await _levels(uow, [record])), (str(home) if home else None)


async def close_cases_of_flow(uow: UnitOfWork, *, flow_id: str, timers: Sequence[str] | None, note: str,
                              at: datetime, by: str) -> list[str]:
    """Close the flow's active cases (of these timers; None: all) that the flow's own progress settled."""
    rows = await uow.conn.fetch(
        "UPDATE alert_cases SET state = 3, closed_at = $3, closed_by = $4, note = $5, version = version + 1"
        " WHERE flow_id = $1 AND state <> 3 AND ($2::text[] IS NULL OR timer = ANY($2::text[])) RETURNING id",
        flow_id, list(timers) if timers is not None else None, at, by, note)
    return [str(r["id"]) for r in rows]


async def update_case(uow: UnitOfWork, *, case_id: str, changes: dict[str, object]) -> None:
    """Write changed columns and bump the version."""
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await uow.conn.execute(f"UPDATE alert_cases SET {assignments}, version = version + 1 WHERE id = $1",
                           case_id, *changes.values())


# ------------------------------------------------------------------------------------------------ 回归工程


async def insert_returnee(uow: UnitOfWork, *, flow_id: str, member_id: str, destination_code: str,
                          return_date: date, facts: ReturneeFacts) -> None:
    """Record the 回归工程 facts of a member who came home."""
    await uow.conn.execute(
        "INSERT INTO returnees (tenant_id, flow_id, member_id, destination_code, return_date, started_business,"
        " business_name, joined_reserve_pool, elected_village_committee, village_post, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        uow.tenant, flow_id, member_id, destination_code, return_date, facts.started_business,
        facts.business_name, facts.joined_reserve_pool, facts.elected_village_committee, facts.village_post,
        facts.note,
    )


async def returnees(uow: UnitOfWork, *, after: tuple[str, ...] | None, limit: int) -> list[Returnee]:
    """A page of returnees with their members' names and places, newest return first."""
    records = await uow.conn.fetch(
        "SELECT r.*, m.name AS member_name, m.township, m.village FROM returnees r JOIN members m"
        " ON m.tenant_id = r.tenant_id AND m.id = r.member_id"
        " WHERE ($1::date IS NULL OR (r.return_date, r.flow_id) < ($1, $2::uuid))"
        " ORDER BY r.return_date DESC, r.flow_id DESC LIMIT $3",
        date.fromisoformat(after[0]) if after else None, after[1] if after else None, limit,
    )
    return [Returnee(member_id=str(r["member_id"]), member_name=r["member_name"], flow_id=str(r["flow_id"]),
                     destination_code=r["destination_code"], return_date=r["return_date"],
                     facts=ReturneeFacts(**{k: r[k] for k in _FACTS}), township=r["township"],
                     village=r["village"]) for r in records]
