"""Organisations repository: SQL over the unit of work's connection (RLS scopes it to one county)."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists
from jinqiao.organizations.checklist import Entry, Item
from jinqiao.organizations.domain import NewOrg, Org, OrgKind, OrgStatus
from jinqiao.organizations.meetings import Entry as MeetingEntry
from jinqiao.organizations.meetings import Meeting, MeetingType, NewMeeting, Status
from jinqiao.organizations.memberships import OPEN, Arrival, Assessment, Closure, Membership, NewActivity
from jinqiao.organizations.memberships import Status as MembershipStatus
from jinqiao.organizations.models import ORG_COLUMNS, label, org_from_record
from jinqiao.organizations.officers import Appointment, Grid, Position
from jinqiao.organizations.placement import Candidate, Rule, Scope


async def lock_tree(uow: UnitOfWork) -> None:
    """Serialise structural changes of one county's tree (two crossing moves could otherwise make a cycle)."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('org-tree:' || $1, 0))", uow.tenant)


async def get(uow: UnitOfWork, *, org_id: str) -> tuple[Org, str] | None:
    """An organisation and its path, or None."""
    record = await uow.conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1", org_id)
    return (org_from_record(record), record["path"]) if record else None


async def insert(uow: UnitOfWork, *, org_id: str, parent_id: str | None, parent_path: str | None, org: NewOrg,
                 created_at: datetime) -> None:
    """Insert an organisation under a parent (or as the county's root)."""
    path = f"{parent_path}.{label(org_id)}" if parent_path else label(org_id)
    try:
        await uow.conn.execute(
            "INSERT INTO orgs (tenant_id, id, parent_id, path, name, kind, city_code, founding_mode, industry,"
            " created_at, employer, coverage) VALUES ($1, $2, $3, $4::ltree, $5, $6, $7, $8, $9, $10, $11, $12)",
            uow.tenant, org_id, parent_id, path, org.name, int(org.kind), org.city_code,
            int(org.founding_mode) if org.founding_mode else None, org.industry, created_at, org.employer,
            list(org.coverage),
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc


def _conflict(exc: asyncpg.UniqueViolationError) -> AlreadyExists:
    if exc.constraint_name == "orgs_one_root":
        return AlreadyExists("本县已有县委根组织")
    return AlreadyExists("同一上级组织下已有同名组织")


async def rename(uow: UnitOfWork, *, org_id: str, name: str) -> None:
    """Change the name, bumping the version."""
    try:
        await uow.conn.execute(
            "UPDATE orgs SET name = $2, version = version + 1, updated_at = now() WHERE id = $1", org_id, name
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc


async def move_subtree(uow: UnitOfWork, *, org_id: str, old_path: str, new_parent_id: str,
                       new_parent_path: str) -> int:
    """Re-root every path under ``old_path`` beneath the new parent; return how many rows moved."""
    moved = await uow.conn.fetchval(
        "WITH moved AS (UPDATE orgs SET path = $2::ltree || subpath(path, nlevel($1::ltree) - 1),"
        " updated_at = now() WHERE path <@ $1::ltree RETURNING 1) SELECT count(*) FROM moved",
        old_path, new_parent_path,
    )
    try:
        await uow.conn.execute(
            "UPDATE orgs SET parent_id = $2, version = version + 1 WHERE id = $1", org_id, new_parent_id
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc
    return int(moved)


async def active_children(uow: UnitOfWork, *, org_id: str) -> int:
    """How many active organisations sit directly under this one."""
    return await uow.conn.fetchval(
        "SELECT count(*) FROM orgs WHERE parent_id = $1 AND status = $2", org_id, int(OrgStatus.ACTIVE)
    )


async def members(uow: UnitOfWork, *, org_id: str) -> int:
    """How many members the organisation holds."""
    return await uow.conn.fetchval("SELECT member_count FROM orgs WHERE id = $1", org_id)


async def dissolve(uow: UnitOfWork, *, org_id: str, reason: str) -> None:
    """Mark dissolved; the row stays for the ledgers."""
    await uow.conn.execute(
        "UPDATE orgs SET status = $2, dissolve_reason = $3, version = version + 1, updated_at = now() WHERE id = $1",
        org_id, int(OrgStatus.DISSOLVED), reason,
    )


async def children(uow: UnitOfWork, *, parent_id: str | None, after: tuple[str, str] | None, limit: int,
                   include_dissolved: bool) -> list[Org]:
    """A page of direct children by name."""
    statuses = [1, 2] if include_dissolved else [1]
    # parent None lists the roots (the county committee); NOT DISTINCT keeps one statement for both.
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS} FROM orgs WHERE parent_id IS NOT DISTINCT FROM $1::uuid"
        " AND status = ANY($2::smallint[]) AND ($3::text IS NULL OR (name, id) > ($3, $4::uuid))"
        " ORDER BY name, id LIMIT $5",
        parent_id, statuses, after[0] if after else None, after[1] if after else None, limit,
    )
    return [org_from_record(r) for r in records]


async def subtree(uow: UnitOfWork, *, root_path: str, after_path: str | None, limit: int) -> list[tuple[Org, str]]:
    """A page of the subtree in path order (a parent always before its children)."""
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS} FROM orgs WHERE tenant_id = $1 AND path_key >= $2 AND path_key < $2 || '/'"
        " AND path_key > coalesce($3, '') ORDER BY path_key LIMIT $4",
        uow.tenant, root_path, after_path, limit,
    )
    return [(org_from_record(r), r["path"]) for r in records]


async def ancestors(uow: UnitOfWork, *, path: str) -> list[Org]:
    """Every proper ancestor, root first."""
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS} FROM orgs WHERE path @> $1::ltree AND path <> $1::ltree ORDER BY nlevel(path)", path
    )
    return [org_from_record(r) for r in records]


_PLACEABLE = [int(k) for k in (OrgKind.ENTERPRISE_BRANCH, OrgKind.COMMUNITY_BRANCH, OrgKind.VILLAGE_BRANCH,
                               OrgKind.TEMPORARY_BRANCH, OrgKind.EXTERNAL_BRANCH, OrgKind.EXTERNAL_GENERAL_BRANCH,
                               OrgKind.INDUSTRY_BRANCH, OrgKind.ONLINE_BRANCH)]


async def placement_candidates(uow: UnitOfWork) -> list[Candidate]:
    """Active organisations a member could be placed in, with whether each sits under a town station."""
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS}, EXISTS (SELECT 1 FROM orgs p WHERE p.id = o.parent_id AND p.kind = $2)"
        " AS station_child FROM orgs o WHERE status = 1 AND kind = ANY($1::smallint[]) ORDER BY path_key",
        _PLACEABLE, int(OrgKind.TOWN_STATION),
    )
    return [Candidate(org=org_from_record(r), employer=r["employer"], coverage=tuple(r["coverage"]),
                      station_child=r["station_child"]) for r in records]


async def placement_rules(uow: UnitOfWork, *, scope: Scope) -> list[Rule]:
    """The county's rule order for a scope, or [] when it uses the defaults."""
    records = await uow.conn.fetch(
        "SELECT rule FROM placement_rules WHERE scope = $1 ORDER BY position", int(scope)
    )
    return [Rule(r["rule"]) for r in records]


async def replace_placement_rules(uow: UnitOfWork, *, scope: Scope, rules: list[Rule]) -> None:
    """Replace the county's rule order for a scope."""
    await uow.conn.execute("DELETE FROM placement_rules WHERE scope = $1", int(scope))
    await uow.conn.executemany(
        "INSERT INTO placement_rules (tenant_id, scope, position, rule) VALUES ($1, $2, $3, $4)",
        [(uow.tenant, int(scope), i, int(rule)) for i, rule in enumerate(rules)],
    )


async def checklist(uow: UnitOfWork, *, org_id: str) -> dict[Item, Entry]:
    """The recorded 七有 items of a branch."""
    records = await uow.conn.fetch(
        "SELECT item, done, evidence, updated_at FROM checklist_items WHERE org_id = $1", org_id
    )
    return {Item(r["item"]): Entry(item=Item(r["item"]), done=r["done"], evidence=r["evidence"],
                                   updated_at=r["updated_at"]) for r in records}


async def set_checklist_item(uow: UnitOfWork, *, org_id: str, item: Item, done: bool, evidence: str,
                             actor: str) -> None:
    """Record one item's state."""
    await uow.conn.execute(
        "INSERT INTO checklist_items (tenant_id, org_id, item, done, evidence, updated_by) VALUES ($1, $2, $3, $4,"
        " $5, $6) ON CONFLICT (tenant_id, org_id, item) DO UPDATE SET done = EXCLUDED.done,"
        " evidence = EXCLUDED.evidence, updated_by = EXCLUDED.updated_by, updated_at = now()",
        uow.tenant, org_id, int(item), done, evidence, actor,
    )


async def search(uow: UnitOfWork, *, within: str | None, name_contains: str, kinds: list[int], city_code: str,
                 include_dissolved: bool, after_path: str | None, limit: int) -> list[tuple[Org, str]]:
    """Organisations matching every given filter, in tree order."""
    pattern = "%" + name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS}, path_key FROM orgs WHERE ($1 = '%%' OR name ILIKE $1)"
        " AND (cardinality($2::smallint[]) = 0 OR kind = ANY($2::smallint[])) AND ($3 = '' OR city_code = $3)"
        " AND ($4 OR status = 1) AND path_key > coalesce($5, '')"
        " AND ($7::text IS NULL OR (path_key >= $7 AND path_key < $7 || '/'))"
        " ORDER BY path_key LIMIT $6",
        pattern, kinds, city_code, include_dissolved, after_path, limit, within,
    )
    return [(org_from_record(r), r["path_key"]) for r in records]


_APPOINTMENT = (
    "SELECT a.id, a.officer_id, o.name AS officer_name, o.phone_masked, a.org_id, g.name AS org_name, g.city_code,"
    " a.position, a.start_date, a.end_date FROM appointments a JOIN officers o ON o.id = a.officer_id"
    " AND o.tenant_id = a.tenant_id JOIN orgs g ON g.id = a.org_id AND g.tenant_id = a.tenant_id"
)


def _appointment(r: asyncpg.Record) -> Appointment:
    return Appointment(id=str(r["id"]), officer_id=str(r["officer_id"]), officer_name=r["officer_name"],
                       phone_masked=r["phone_masked"], org_id=str(r["org_id"]), org_name=r["org_name"],
                       city_code=r["city_code"], position=Position(r["position"]), start_date=r["start_date"],
                       end_date=r["end_date"])


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
    record = await uow.conn.fetchrow(f"{_APPOINTMENT} WHERE a.id = $1", appointment_id)
    return _appointment(record) if record else None


async def end_appointment(uow: UnitOfWork, *, appointment_id: str, end: date) -> None:
    """Close an appointment."""
    await uow.conn.execute("UPDATE appointments SET end_date = $2 WHERE id = $1", appointment_id, end)


async def appointments(uow: UnitOfWork, *, org_id: str | None, positions: list[int],
                       include_history: bool) -> list[Appointment]:
    """Appointments by organisation and/or position; current ones first, then by start date."""
    records = await uow.conn.fetch(
        f"{_APPOINTMENT} WHERE ($1::uuid IS NULL OR a.org_id = $1)"
        " AND (cardinality($2::smallint[]) = 0 OR a.position = ANY($2::smallint[]))"
        " AND ($3 OR a.end_date IS NULL) ORDER BY a.end_date IS NOT NULL, a.start_date DESC, a.id LIMIT 5000",
        org_id, positions, include_history,
    )
    return [_appointment(r) for r in records]


_GRID = (
    "SELECT g.id, g.org_id, g.name, g.leader_officer_id, coalesce(o.name, '') AS leader_name,"
    " coalesce(o.phone_masked, '') AS leader_phone_masked, g.addresses, g.member_ids"
    " FROM grids g LEFT JOIN officers o ON o.id = g.leader_officer_id AND o.tenant_id = g.tenant_id"
)


def _grid(r: asyncpg.Record) -> Grid:
    return Grid(id=str(r["id"]), org_id=str(r["org_id"]), name=r["name"],
                leader_officer_id=str(r["leader_officer_id"]) if r["leader_officer_id"] else None,
                leader_name=r["leader_name"], leader_phone_masked=r["leader_phone_masked"],
                addresses=tuple(r["addresses"]), member_ids=tuple(str(m) for m in r["member_ids"]))


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
    return _grid(await uow.conn.fetchrow(f"{_GRID} WHERE g.id = $1", grid_id))


async def grids(uow: UnitOfWork, *, org_id: str) -> list[Grid]:
    """The grids of an organisation by name."""
    return [_grid(r) for r in await uow.conn.fetch(f"{_GRID} WHERE g.org_id = $1 ORDER BY g.name", org_id)]


_MEETING = (
    "SELECT m.id, m.org_id, m.type, m.title, m.starts_at, m.place, m.online_link, m.agenda,"
    " (SELECT count(*) FROM attendance a WHERE a.meeting_id = m.id AND a.tenant_id = m.tenant_id"
    "  AND a.status = 1) AS present,"
    " (SELECT count(*) FROM attendance a WHERE a.meeting_id = m.id AND a.tenant_id = m.tenant_id"
    "  AND a.status = 1 AND a.home_tenant_id <> m.tenant_id) AS guests"
    " FROM meetings m"
)


def _meeting(r: asyncpg.Record) -> Meeting:
    return Meeting(id=str(r["id"]), org_id=str(r["org_id"]), type=MeetingType(r["type"]), title=r["title"],
                   starts_at=r["starts_at"], place=r["place"], online_link=r["online_link"], agenda=r["agenda"],
                   present=r["present"], guests=r["guests"])


async def insert_meeting(uow: UnitOfWork, *, meeting_id: str, org_id: str, meeting: NewMeeting) -> Meeting:
    """Record a scheduled meeting."""
    await uow.conn.execute(
        "INSERT INTO meetings (tenant_id, id, org_id, type, title, starts_at, place, online_link, agenda)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        uow.tenant, meeting_id, org_id, int(meeting.type), meeting.title, meeting.starts_at, meeting.place,
        meeting.online_link, meeting.agenda,
    )
    return _meeting(await uow.conn.fetchrow(f"{_MEETING} WHERE m.id = $1", meeting_id))


async def meeting(uow: UnitOfWork, *, meeting_id: str) -> Meeting | None:
    """One meeting, or None."""
    record = await uow.conn.fetchrow(f"{_MEETING} WHERE m.id = $1", meeting_id)
    return _meeting(record) if record else None


async def upsert_attendance(uow: UnitOfWork, *, meeting_id: str, entries: list[MeetingEntry]) -> None:
    """Record attendance; a repeated member replaces its earlier entry."""
    await uow.conn.executemany(
        "INSERT INTO attendance (tenant_id, meeting_id, member_id, home_tenant_id, status) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id, meeting_id, member_id) DO UPDATE SET home_tenant_id = EXCLUDED.home_tenant_id,"
        " status = EXCLUDED.status, recorded_at = now()",
        [(uow.tenant, meeting_id, e.member_id, e.home_tenant_id, int(e.status)) for e in entries],
    )


async def meetings(uow: UnitOfWork, *, org_id: str) -> list[Meeting]:
    """An organisation's meetings, newest first."""
    return [_meeting(r) for r in await uow.conn.fetch(
        f"{_MEETING} WHERE m.org_id = $1 ORDER BY m.starts_at DESC LIMIT 500", org_id)]


async def member_attendance(uow: UnitOfWork, *, member_id: str) -> list[tuple[Meeting, Status, bool]]:
    """A member's attendance in this county's meetings, newest first."""
    records = await uow.conn.fetch(
        f"SELECT q.*, a.status AS member_status, a.home_tenant_id <> a.tenant_id AS guest FROM attendance a"
        f" JOIN ({_MEETING}) q ON q.id = a.meeting_id WHERE a.member_id = $1 ORDER BY q.starts_at DESC LIMIT 500",
        member_id,
    )
    return [(_meeting(r), Status(r["member_status"]), r["guest"]) for r in records]


_MEMBERSHIP = (
    "SELECT m.id, m.tenant_id, m.origin_tenant_id, m.flow_id, m.member_id, m.attempt, m.member_name,"
    " m.id_number_masked, m.phone_masked, m.gender, m.industry, m.employer, m.address, m.destination_code,"
    " m.org_id, coalesce(o.name, '') AS org_name, o.path_key AS org_path, m.rule, m.reason, m.advice, m.status,"
    " m.refusal_reason, m.created_at, m.check_in_at, m.check_in_method, m.close_reason, m.version, m.traceparent"
    " FROM memberships m LEFT JOIN orgs o ON o.tenant_id = m.tenant_id AND o.id = m.org_id"
)


def _membership(r: asyncpg.Record) -> Membership:
    return Membership(
        id=str(r["id"]), tenant_id=r["tenant_id"], origin_tenant_id=r["origin_tenant_id"], flow_id=str(r["flow_id"]),
        member_id=str(r["member_id"]), attempt=r["attempt"], member_name=r["member_name"],
        id_number_masked=r["id_number_masked"], phone_masked=r["phone_masked"], gender=r["gender"],
        industry=r["industry"], employer=r["employer"], address=r["address"], destination_code=r["destination_code"],
        org_id=str(r["org_id"]) if r["org_id"] else None, org_name=r["org_name"], org_path=r["org_path"],
        rule=Rule(r["rule"]) if r["rule"] else None, reason=r["reason"], advice=r["advice"],
        status=MembershipStatus(r["status"]), refusal_reason=r["refusal_reason"], offered_at=r["created_at"],
        check_in_at=r["check_in_at"], check_in_method=r["check_in_method"], close_reason=r["close_reason"],
        version=r["version"], traceparent=r["traceparent"],
    )


async def lock_flow(uow: UnitOfWork, *, flow_id: str) -> None:
    """Serialise the events of one flow in one county (placement, redirect and closure may race)."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('flow:' || $1 || ':' || $2, 0))",
                           uow.tenant, flow_id)


async def flow_state(uow: UnitOfWork, *, flow_id: str) -> tuple[int | None, Closure | None]:
    """The latest attempt recorded for a flow in this county, and what is known to be closed."""
    latest = await uow.conn.fetchval("SELECT max(attempt) FROM memberships WHERE flow_id = $1", flow_id)
    record = await uow.conn.fetchrow(
        "SELECT closed_reason, closed_below_attempt FROM flow_closures WHERE flow_id = $1", flow_id
    )
    closure = Closure(closed_reason=record["closed_reason"], closed_below_attempt=record["closed_below_attempt"]) \
        if record else None
    return latest, closure


async def record_closure(uow: UnitOfWork, *, flow_id: str, closed_reason: str = "", closed_below_attempt: int = 0
                         ) -> None:
    """Remember a closure so that an attempt arriving late opens nothing (a closed flow stays closed)."""
    await uow.conn.execute(
        "INSERT INTO flow_closures (tenant_id, flow_id, closed_reason, closed_below_attempt) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, flow_id) DO UPDATE SET"
        " closed_reason = CASE WHEN flow_closures.closed_reason = '' THEN EXCLUDED.closed_reason"
        " ELSE flow_closures.closed_reason END,"
        " closed_below_attempt = greatest(flow_closures.closed_below_attempt, EXCLUDED.closed_below_attempt),"
        " updated_at = now()",
        uow.tenant, flow_id, closed_reason, closed_below_attempt,
    )


async def insert_membership(uow: UnitOfWork, *, membership_id: str, arrival: Arrival, phone_enc: bytes | None,
                            phone_masked: str, org_id: str | None, rule: Rule | None, reason: str, advice: str,
                            status: MembershipStatus, refusal_reason: str = "") -> Membership:
    """Record one placement attempt (offered, or refused when nothing fits)."""
    await uow.conn.execute(
        "INSERT INTO memberships (tenant_id, id, origin_tenant_id, flow_id, member_id, attempt, member_name,"
        " id_number_masked, phone_enc, phone_masked, gender, industry, employer, address, destination_code, org_id,"
        " rule, reason, advice, status, refusal_reason, traceparent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        uow.tenant, membership_id, arrival.origin_tenant_id, arrival.flow_id, arrival.member_id, arrival.attempt,
        arrival.member_name, arrival.id_number_masked, phone_enc, phone_masked, arrival.gender, arrival.industry,
        arrival.employer, arrival.address, arrival.destination_code, org_id, int(rule) if rule else None, reason,
        advice, int(status), refusal_reason, arrival.traceparent,
    )
    found = await membership(uow, membership_id=membership_id)
    assert found is not None
    return found


async def membership(uow: UnitOfWork, *, membership_id: str, for_update: bool = False) -> Membership | None:
    """One membership, or None; ``for_update`` locks the row until the commit."""
    lock = " FOR UPDATE OF m" if for_update else ""
    record = await uow.conn.fetchrow(f"{_MEMBERSHIP} WHERE m.id = $1{lock}", membership_id)
    return _membership(record) if record else None


async def close_open_memberships(uow: UnitOfWork, *, flow_id: str, below_attempt: int | None,
                                 reason: str) -> list[Membership]:
    """Close the flow's open memberships (only attempts below ``below_attempt`` when given); return them."""
    ids = await uow.conn.fetch(
        "UPDATE memberships SET status = $2, close_reason = $3, closed_at = now(), updated_at = now(),"
        " version = version + 1 WHERE flow_id = $1 AND status = ANY($4::smallint[])"
        " AND ($5::integer IS NULL OR attempt < $5) RETURNING id",
        flow_id, int(MembershipStatus.CLOSED), reason, [int(s) for s in OPEN], below_attempt,
    )
    if not ids:
        return []
    records = await uow.conn.fetch(f"{_MEMBERSHIP} WHERE m.id = ANY($1::uuid[]) ORDER BY m.attempt",
                                   [r["id"] for r in ids])
    return [_membership(r) for r in records]


async def list_memberships(uow: UnitOfWork, *, statuses: list[int], within_path: str | None, org_id: str | None,
                           after: tuple[datetime, str] | None, limit: int) -> list[Membership]:
    """A page newest first; ``within_path`` keeps an organisation's subtree, ``org_id`` one organisation."""
    records = await uow.conn.fetch(
        f"{_MEMBERSHIP} WHERE (cardinality($1::smallint[]) = 0 OR m.status = ANY($1::smallint[]))"
        " AND ($2::text IS NULL OR (o.path_key >= $2 AND o.path_key < $2 || '/'))"
        " AND ($3::uuid IS NULL OR m.org_id = $3)"
        " AND ($4::timestamptz IS NULL OR (m.created_at, m.id) < ($4, $5::uuid))"
        " ORDER BY m.created_at DESC, m.id DESC LIMIT $6",
        statuses, within_path, org_id, after[0] if after else None, after[1] if after else None, limit,
    )
    return [_membership(r) for r in records]


async def memberships_of_member(uow: UnitOfWork, *, origin_tenant_id: str, member_id: str,
                                within_path: str) -> list[Membership]:
    """A member's open memberships held inside an organisation's subtree, offered ones first, newest attempt first."""
    records = await uow.conn.fetch(
        f"{_MEMBERSHIP} WHERE m.origin_tenant_id = $1 AND m.member_id = $2 AND m.status = ANY($3::smallint[])"
        " AND o.path_key >= $4 AND o.path_key < $4 || '/' ORDER BY m.status, m.attempt DESC FOR UPDATE OF m",
        origin_tenant_id, member_id, [int(s) for s in OPEN], within_path,
    )
    return [_membership(r) for r in records]


async def refuse_membership(uow: UnitOfWork, *, membership_id: str, reason: str) -> None:
    """Mark refused with the reason."""
    await uow.conn.execute(
        "UPDATE memberships SET status = $2, refusal_reason = $3, updated_at = now(), version = version + 1"
        " WHERE id = $1", membership_id, int(MembershipStatus.REFUSED), reason,
    )


async def check_in_membership(uow: UnitOfWork, *, membership_id: str, method: str, at: datetime) -> None:
    """Mark checked in, with how and when."""
    await uow.conn.execute(
        "UPDATE memberships SET status = $2, check_in_method = $3, check_in_at = $4, updated_at = now(),"
        " version = version + 1 WHERE id = $1", membership_id, int(MembershipStatus.CHECKED_IN), method, at,
    )


async def touch_membership(uow: UnitOfWork, *, membership_id: str) -> int:
    """Bump the version for an event about the membership (activities, assessments); return the new version."""
    return await uow.conn.fetchval(
        "UPDATE memberships SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING version",
        membership_id,
    )


async def insert_activity(uow: UnitOfWork, *, activity_id: str, membership_id: str, activity: NewActivity,
                          recorded_by: str) -> None:
    """Record an activity of the member's 活动记事本."""
    await uow.conn.execute(
        "INSERT INTO membership_activities (tenant_id, id, membership_id, occurred_on, title, note, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        uow.tenant, activity_id, membership_id, activity.occurred_on, activity.title, activity.note, recorded_by,
    )


async def upsert_assessment(uow: UnitOfWork, *, membership_id: str, assessment: Assessment,
                            assessed_by: str) -> None:
    """Record the year's assessment; assessing the same year again replaces it."""
    await uow.conn.execute(
        "INSERT INTO membership_assessments (tenant_id, membership_id, year, grade, comment, assessed_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, membership_id, year) DO UPDATE SET"
        " grade = EXCLUDED.grade, comment = EXCLUDED.comment, assessed_by = EXCLUDED.assessed_by, updated_at = now()",
        uow.tenant, membership_id, assessment.year, assessment.grade, assessment.comment, assessed_by,
    )


async def checkin_secret(uow: UnitOfWork, *, org_id: str) -> str | None:
    """The organisation's check-in secret, or None before its first use."""
    return await uow.conn.fetchval("SELECT secret FROM checkin_codes WHERE org_id = $1", org_id)


async def create_checkin_secret(uow: UnitOfWork, *, org_id: str, secret: str, created_by: str) -> str:
    """Store a secret unless a concurrent call stored one first; return the one in force."""
    await uow.conn.execute(
        "INSERT INTO checkin_codes (tenant_id, org_id, secret, created_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, org_id) DO NOTHING",
        uow.tenant, org_id, secret, created_by,
    )
    return await uow.conn.fetchval("SELECT secret FROM checkin_codes WHERE org_id = $1", org_id)
