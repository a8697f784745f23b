"""Temporary memberships, flow closures, activities, assessments and check-in codes: SQL over the unit of work."""

from __future__ import annotations

from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.organizations.memberships.domain import OPEN, Arrival, Assessment, Closure, Membership, NewActivity, Status
from jinqiao.organizations.memberships.models import MEMBERSHIP, membership_from_record
from jinqiao.organizations.placement.domain import Rule


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


async def flow_origins(uow: UnitOfWork, *, flow_id: str) -> set[str]:
    """The home counties this county's memberships of a flow were opened for (one, unless something was forged)."""
    records = await uow.conn.fetch("SELECT DISTINCT origin_tenant_id FROM memberships WHERE flow_id = $1", flow_id)
    return {r["origin_tenant_id"] for r in records}


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
                            status: Status, refusal_reason: str = "") -> Membership:
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
    record = await uow.conn.fetchrow(f"{MEMBERSHIP} WHERE m.id = $1{lock}", membership_id)
    return membership_from_record(record) if record else None


async def close_open_memberships(uow: UnitOfWork, *, flow_id: str, below_attempt: int | None,
                                 reason: str) -> list[Membership]:
    """Close the flow's open memberships (only attempts below ``below_attempt`` when given); return them."""
    ids = await uow.conn.fetch(
        "UPDATE memberships SET status = $2, close_reason = $3, closed_at = now(), updated_at = now(),"
        " version = version + 1 WHERE flow_id = $1 AND status = ANY($4::smallint[])"
        " AND ($5::integer IS NULL OR attempt < $5) RETURNING id",
        flow_id, int(Status.CLOSED), reason, [int(s) for s in OPEN], below_attempt,
    )
    if not ids:
        return []
    records = await uow.conn.fetch(f"{MEMBERSHIP} WHERE m.id = ANY($1::uuid[]) ORDER BY m.attempt",
                                   [r["id"] for r in ids])
    return [membership_from_record(r) for r in records]


async def list_memberships(uow: UnitOfWork, *, statuses: list[int], within_path: str | None, org_id: str | None,
                           after: tuple[datetime, str] | None, limit: int) -> list[Membership]:
    """A page newest first; ``within_path`` keeps an organisation's subtree, ``org_id`` one organisation."""
    records = await uow.conn.fetch(
        f"{MEMBERSHIP} WHERE (cardinality($1::smallint[]) = 0 OR m.status = ANY($1::smallint[]))"
        " AND ($2::text IS NULL OR (o.path_key >= $2 AND o.path_key < $2 || '/'))"
        " AND ($3::uuid IS NULL OR m.org_id = $3)"
        " AND ($4::timestamptz IS NULL OR (m.created_at, m.id) < ($4, $5::uuid))"
        " ORDER BY m.created_at DESC, m.id DESC LIMIT $6",
        statuses, within_path, org_id, after[0] if after else None, after[1] if after else None, limit,
    )
    return [membership_from_record(r) for r in records]


async def memberships_of_member(uow: UnitOfWork, *, origin_tenant_id: str, member_id: str,
                                within_path: str) -> list[Membership]:
    """A member's open memberships held inside an organisation's subtree, offered ones first, newest attempt first."""
    records = await uow.conn.fetch(
        f"{MEMBERSHIP} WHERE m.origin_tenant_id = $1 AND m.member_id = $2 AND m.status = ANY($3::smallint[])"
        " AND o.path_key >= $4 AND o.path_key < $4 || '/' ORDER BY m.status, m.attempt DESC FOR UPDATE OF m",
        origin_tenant_id, member_id, [int(s) for s in OPEN], within_path,
    )
    return [membership_from_record(r) for r in records]


async def members_held_within(uow: UnitOfWork, *, members: list[tuple[str, str]],
                               within_path: str) -> set[tuple[str, str]]:
    """Of (home county, member id) pairs, those holding an open membership inside an organisation's subtree."""
    if not members:
        return set()
    records = await uow.conn.fetch(
        "SELECT DISTINCT m.origin_tenant_id, m.member_id FROM memberships m"
        " JOIN orgs o ON o.tenant_id = m.tenant_id AND o.id = m.org_id"
        " JOIN unnest($1::text[], $2::uuid[]) AS w(origin, member) ON w.origin = m.origin_tenant_id"
        " AND w.member = m.member_id WHERE m.status = ANY($3::smallint[]) AND o.path_key >= $4"
        " AND o.path_key < $4 || '/'",
        [origin for origin, _ in members], [member for _, member in members], [int(s) for s in OPEN], within_path,
    )
    return {(r["origin_tenant_id"], str(r["member_id"])) for r in records}


async def member_ids_held_within(uow: UnitOfWork, *, member_ids: list[str], within_path: str) -> set[str]:
    """Of member ids (any home county), those holding an open membership inside an organisation's subtree."""
    records = await uow.conn.fetch(
        "SELECT DISTINCT m.member_id FROM memberships m JOIN orgs o ON o.tenant_id = m.tenant_id AND o.id = m.org_id"
        " WHERE m.member_id = ANY($1::uuid[]) AND m.status = ANY($2::smallint[]) AND o.path_key >= $3"
        " AND o.path_key < $3 || '/'",
        member_ids, [int(s) for s in OPEN], within_path,
    )
    return {str(r["member_id"]) for r in records}


async def ever_held(uow: UnitOfWork, *, member_id: str) -> bool:
    """Whether the county ever placed the member (a membership in any status)."""
    return bool(await uow.conn.fetchval("SELECT EXISTS (SELECT 1 FROM memberships WHERE member_id = $1)", member_id))


async def refuse_membership(uow: UnitOfWork, *, membership_id: str, reason: str) -> None:
    """Mark refused with the reason."""
    await uow.conn.execute(
        "UPDATE memberships SET status = $2, refusal_reason = $3, updated_at = now(), version = version + 1"
        " WHERE id = $1", membership_id, int(Status.REFUSED), reason,
    )


async def check_in_membership(uow: UnitOfWork, *, membership_id: str, method: str, at: datetime) -> None:
    """Mark checked in, with how and when."""
    await uow.conn.execute(
        "UPDATE memberships SET status = $2, check_in_method = $3, check_in_at = $4, updated_at = now(),"
        " version = version + 1 WHERE id = $1", membership_id, int(Status.CHECKED_IN), method, at,
    )


async def touch_membership(uow: UnitOfWork, *, membership_id: str) -> int:
    """Bump the version for an event about the membership (activities, assessments); return the new version."""
    return int(await uow.conn.fetchval(
        "UPDATE memberships SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING version",
        membership_id,
    ))


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
    secret = await uow.conn.fetchval("SELECT secret FROM checkin_codes WHERE org_id = $1", org_id)
    return str(secret) if secret is not None else None


async def create_checkin_secret(uow: UnitOfWork, *, org_id: str, secret: str, created_by: str) -> str:
    """Store a secret unless a concurrent call stored one first; return the one in force."""
    await uow.conn.execute(
        "INSERT INTO checkin_codes (tenant_id, org_id, secret, created_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, org_id) DO NOTHING",
        uow.tenant, org_id, secret, created_by,
    )
    return str(await uow.conn.fetchval("SELECT secret FROM checkin_codes WHERE org_id = $1", org_id))


async def erase_member_copies(uow: UnitOfWork, *, member_id: str, origin_tenant_id: str) -> int:
    """Erase the copies of a member's personal fields in this county's memberships of them; how many changed."""
    result = await uow.conn.execute(
        "UPDATE memberships SET id_number_masked = '已删除', phone_enc = NULL,"
        " phone_masked = CASE WHEN phone_masked = '' THEN '' ELSE '已删除' END, address = ''"
        " WHERE member_id = $1 AND origin_tenant_id = $2"
        " AND (id_number_masked <> '已删除' OR phone_enc IS NOT NULL OR address <> '')",
        member_id, origin_tenant_id,
    )
    return int(result.split()[-1])
