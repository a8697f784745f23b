"""Replica: SQL over desk_orgs, desk_members, desk_member_flows and desk_guests (all keyed by ``uow.tenant``).

Every write moves a row only forward (a parent by its aggregate version, a flow by its attempt, a guest by attempt
then status rank, closure sticky), so replays and events arriving out of order across consumers converge.
"""

from __future__ import annotations

from datetime import datetime

from jinqiao.desk.replica.domain import GUEST_RANK, Guest, MemberFacts, ReplicaMember, ReplicaOrg
from jinqiao.desk.replica.models import facts_from_record, guest_from_record, member_from_record, org_from_record
from jinqiao.kit.db import UnitOfWork

# Deep enough for any real tree; stops a walk should a corrupted replica ever hold a cycle.
MAX_DEPTH = 64

_ORG_COLUMNS = "id, parent_id, name, kind, dissolved"

# ---- organisations


async def upsert_org(uow: UnitOfWork, *, org_id: str, name: str | None = None, kind: str | None = None,
                     dissolved: bool = False) -> None:
    """Keep an organisation's name, kind and dissolution (a stub row if its creation is still to come)."""
    await uow.conn.execute(
        "INSERT INTO desk_orgs (tenant_id, id, name, kind, dissolved) VALUES ($1, $2, coalesce($3, ''),"
        " coalesce($4, ''), $5) ON CONFLICT (tenant_id, id) DO UPDATE SET"
        " name = coalesce($3, desk_orgs.name), kind = coalesce($4, desk_orgs.kind),"
        " dissolved = desk_orgs.dissolved OR $5",
        uow.tenant, org_id, name, kind, dissolved,
    )


async def set_org_parent(uow: UnitOfWork, *, org_id: str, parent_id: str | None, version: int) -> None:
    """Record an organisation's parent as of its ``version``; an older event never undoes a newer one."""
    await uow.conn.execute(
        "INSERT INTO desk_orgs (tenant_id, id, parent_id, parent_version) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET parent_id = $3, parent_version = $4"
        " WHERE desk_orgs.parent_version < $4",
        uow.tenant, org_id, parent_id, version,
    )


async def get_org(uow: UnitOfWork, *, org_id: str) -> ReplicaOrg | None:
    """One organisation, or None."""
    r = await uow.conn.fetchrow(f"SELECT {_ORG_COLUMNS} FROM desk_orgs WHERE tenant_id = $1 AND id = $2",
                                uow.tenant, org_id)
    return None if r is None else org_from_record(r)


async def org_subtree(uow: UnitOfWork, *, root_id: str) -> frozenset[str]:
    """The organisation's id and every id below it (empty if the replica does not know it)."""
    # UNION (not UNION ALL) stops on a cycle.
    records = await uow.conn.fetch(
        "WITH RECURSIVE down(id) AS (SELECT id FROM desk_orgs WHERE tenant_id = $1 AND id = $2"
        " UNION SELECT o.id FROM desk_orgs o JOIN down d ON o.parent_id = d.id WHERE o.tenant_id = $1)"
        " SELECT id FROM down", uow.tenant, root_id,
    )
    return frozenset(str(r["id"]) for r in records)


async def ancestors(uow: UnitOfWork, *, org_id: str) -> list[ReplicaOrg]:
    """The organisation's parents, nearest first."""
    records = await uow.conn.fetch(
        "WITH RECURSIVE up(id, depth) AS ("
        " SELECT parent_id, 1 FROM desk_orgs WHERE tenant_id = $1 AND id = $2 AND parent_id IS NOT NULL"
        " UNION ALL SELECT o.parent_id, u.depth + 1 FROM desk_orgs o JOIN up u ON o.id = u.id"
        " WHERE o.tenant_id = $1 AND o.parent_id IS NOT NULL AND u.depth < $3)"
        f" SELECT {', '.join('o.' + c for c in _ORG_COLUMNS.split(', '))} FROM up"
        " JOIN desk_orgs o ON o.tenant_id = $1 AND o.id = up.id ORDER BY up.depth",
        uow.tenant, org_id, MAX_DEPTH,
    )
    return [org_from_record(r) for r in records]


async def stations(uow: UnitOfWork, *, kinds: frozenset[str]) -> list[ReplicaOrg]:
    """The county's organisations of ``kinds`` that are not dissolved, by name."""
    records = await uow.conn.fetch(
        f"SELECT {_ORG_COLUMNS} FROM desk_orgs WHERE tenant_id = $1 AND kind = ANY($2::text[]) AND NOT dissolved"
        " ORDER BY name, id", uow.tenant, sorted(kinds),
    )
    return [org_from_record(r) for r in records]


# ---- members of this county


async def upsert_member(uow: UnitOfWork, *, member_id: str, name: str, home_org_id: str | None,
                        township: str) -> None:
    """A registered member (the flow columns are the flows' business and are left alone).

    The fact columns are MemberProfileChanged's: once a profile arrived (facts_at set) it is at least as new as the
    registration (registry queues both in one transaction, the profile last), so a late MemberRegistered changes
    nothing, not even the name, home branch or township a later profile moved.
    """
    await uow.conn.execute(
        "INSERT INTO desk_members (tenant_id, id, name, home_org_id, township, active) VALUES ($1, $2, $3, $4, $5,"
        " true) ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3, home_org_id = $4, township = $5,"
        " updated_at = now() WHERE desk_members.facts_at IS NULL",
        uow.tenant, member_id, name, home_org_id, township,
    )


async def upsert_member_facts(uow: UnitOfWork, *, facts: MemberFacts) -> bool:
    """A member's full fact set as of ``facts.facts_at``: applied only when newer than what the row holds (an older
    or replayed profile changes nothing); a member the replica does not know yet gets a row. True when applied.

    Leaving the roster (转出) is for good: a profile never makes an inactive member active again (MemberTransferred
    may have deactivated the row before an older profile arrives).
    """
    f = facts
    status: str = await uow.conn.execute(
        "INSERT INTO desk_members AS m (tenant_id, id, name, home_org_id, township, active, membership_status,"
        " join_date, birth_year, latest_grade, latest_grade_year, returned, facts_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3, home_org_id = $4, township = $5,"
        " active = m.active AND $6, membership_status = $7, join_date = $8, birth_year = $9, latest_grade = $10,"
        " latest_grade_year = $11, returned = $12, facts_at = $13, updated_at = now()"
        " WHERE m.facts_at IS NULL OR m.facts_at < $13",
        uow.tenant, f.member_id, f.name, f.home_org_id, f.township, f.active, f.membership_status, f.join_date,
        f.birth_year, f.latest_grade, f.latest_grade_year, f.returned, f.facts_at,
    )
    return status.endswith(" 1")


async def deactivate_member(uow: UnitOfWork, *, member_id: str) -> None:
    """The member left the county (转出); a stub row if the registration is still to come."""
    await uow.conn.execute(
        "INSERT INTO desk_members (tenant_id, id, active) VALUES ($1, $2, false)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET active = false, updated_at = now()",
        uow.tenant, member_id,
    )


async def get_member(uow: UnitOfWork, *, member_id: str) -> ReplicaMember | None:
    """One member of this county, or None."""
    r = await uow.conn.fetchrow("SELECT * FROM desk_members WHERE tenant_id = $1 AND id = $2", uow.tenant, member_id)
    return None if r is None else member_from_record(r)


async def upsert_member_flow(uow: UnitOfWork, *, member_id: str, flow_id: str, attempt: int,
                             destination_code: str, placing_tenant_id: str, at: datetime | None) -> None:
    """A flow's attempt as the origin registered or redirected it; only a later attempt of an open flow moves it."""
    await uow.conn.execute(
        "INSERT INTO desk_member_flows (tenant_id, member_id, flow_id, attempt, destination_code, placing_tenant_id,"
        " opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, member_id, flow_id) DO UPDATE SET"
        " attempt = $4, destination_code = $5, placing_tenant_id = $6,"
        " opened_at = least(desk_member_flows.opened_at, $7)"
        " WHERE desk_member_flows.attempt < $4 AND NOT desk_member_flows.closed",
        uow.tenant, member_id, flow_id, attempt, destination_code, placing_tenant_id, at,
    )


async def close_member_flow(uow: UnitOfWork, *, member_id: str, flow_id: str) -> None:
    """The flow ended; nothing that arrives later reopens it."""
    await uow.conn.execute(
        "INSERT INTO desk_member_flows (tenant_id, member_id, flow_id, closed) VALUES ($1, $2, $3, true)"
        " ON CONFLICT (tenant_id, member_id, flow_id) DO UPDATE SET closed = true",
        uow.tenant, member_id, flow_id,
    )


async def flow_placing(uow: UnitOfWork, *, member_id: str, flow_id: str) -> tuple[int, str] | None:
    """(attempt, placing county) the origin knows for a flow (attempt 0: only a stub), or None."""
    r = await uow.conn.fetchrow(
        "SELECT attempt, placing_tenant_id FROM desk_member_flows WHERE tenant_id = $1 AND member_id = $2"
        " AND flow_id = $3", uow.tenant, member_id, flow_id,
    )
    return None if r is None else (r["attempt"], r["placing_tenant_id"])


async def place_member_flow(uow: UnitOfWork, *, member_id: str, flow_id: str, placed_by: str, attempt: int,
                            rank: int, org_id: str | None, org_name: str) -> None:
    """The placing county's answer (offer, check-in) for an attempt; a later attempt or a stronger answer wins.

    A county that is not the flow's placing county (when known) changes nothing.
    """
    await uow.conn.execute(
        "INSERT INTO desk_member_flows (tenant_id, member_id, flow_id, placed_by, placed_attempt, placed_rank,"
        " placed_org_id, placed_org_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (tenant_id, member_id, flow_id) DO UPDATE SET placed_by = $4, placed_attempt = $5,"
        " placed_rank = $6, placed_org_id = $7, placed_org_name = $8"
        " WHERE desk_member_flows.placing_tenant_id IN ('', $4)"
        " AND (desk_member_flows.placed_attempt, desk_member_flows.placed_rank) < ($5, $6)",
        uow.tenant, member_id, flow_id, placed_by, attempt, rank, org_id, org_name,
    )


async def refresh_member(uow: UnitOfWork, *, member_id: str) -> None:
    """Copy the member's current flow (the latest open one) and its valid placement onto desk_members."""
    # A placement counts only if the flow's placing county gave it for the flow's current attempt.
    await uow.conn.execute(
        "WITH cur AS (SELECT flow_id, destination_code, placing_tenant_id,"
        " CASE WHEN placed_by = placing_tenant_id AND placed_attempt = attempt THEN placed_org_id END AS org_id,"
        " CASE WHEN placed_by = placing_tenant_id AND placed_attempt = attempt THEN placed_org_name END AS org_name"
        " FROM desk_member_flows WHERE tenant_id = $1 AND member_id = $2 AND attempt > 0 AND NOT closed"
        " ORDER BY opened_at DESC NULLS LAST, flow_id DESC LIMIT 1)"
        " INSERT INTO desk_members AS m (tenant_id, id, flow_id, destination_code, placing_tenant_id, placed_org_id,"
        " placed_org_name) SELECT $1, $2, cur.flow_id, coalesce(cur.destination_code, ''),"
        " coalesce(cur.placing_tenant_id, ''), cur.org_id, coalesce(cur.org_name, '')"
        " FROM (SELECT 1) AS one LEFT JOIN cur ON true"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET flow_id = excluded.flow_id,"
        " destination_code = excluded.destination_code, placing_tenant_id = excluded.placing_tenant_id,"
        " placed_org_id = excluded.placed_org_id, placed_org_name = excluded.placed_org_name, updated_at = now()"
        " WHERE (m.flow_id, m.destination_code, m.placing_tenant_id, m.placed_org_id, m.placed_org_name)"
        " IS DISTINCT FROM (excluded.flow_id, excluded.destination_code, excluded.placing_tenant_id,"
        " excluded.placed_org_id, excluded.placed_org_name)",
        uow.tenant, member_id,
    )


# ---- guests: members of other counties placed here


async def register_guest(uow: UnitOfWork, *, flow_id: str, origin_tenant_id: str, member_id: str,
                         member_name: str, id_number_masked: str, attempt: int) -> None:
    """A flow's attempt placed here (the origin's word): who the guest is; a later attempt starts over.

    Like every guest write, it changes only a row of the same origin: a county cannot speak for another's flow.
    """
    await uow.conn.execute(
        "INSERT INTO desk_guests (tenant_id, flow_id, origin_tenant_id, member_id, member_name, id_number_masked,"
        " attempt, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'REGISTERED')"
        " ON CONFLICT (tenant_id, flow_id) DO UPDATE SET member_id = $4, member_name = $5,"
        " id_number_masked = $6, updated_at = now(),"
        " attempt = greatest(desk_guests.attempt, $7),"
        " status = CASE WHEN $7 > desk_guests.attempt AND NOT desk_guests.flow_closed THEN 'REGISTERED'"
        " ELSE desk_guests.status END,"
        " org_id = CASE WHEN $7 > desk_guests.attempt AND NOT desk_guests.flow_closed THEN NULL"
        " ELSE desk_guests.org_id END,"
        " org_name = CASE WHEN $7 > desk_guests.attempt AND NOT desk_guests.flow_closed THEN ''"
        " ELSE desk_guests.org_name END"
        " WHERE desk_guests.origin_tenant_id = $3",
        uow.tenant, flow_id, origin_tenant_id, member_id, member_name, id_number_masked, attempt,
    )


async def advance_guest(uow: UnitOfWork, *, flow_id: str, origin_tenant_id: str, member_id: str, attempt: int,
                        status: str, org_id: str | None = None, org_name: str = "") -> None:
    """The guest's placement moved (offered, checked in, refused, closed) for an attempt: applied when it is a
    later attempt, or the same attempt and a further step; never after the flow closed."""
    rank = GUEST_RANK[status]
    ranks = "CASE desk_guests.status " + " ".join(f"WHEN '{s}' THEN {n}" for s, n in GUEST_RANK.items()) + " END"
    await uow.conn.execute(
        "INSERT INTO desk_guests (tenant_id, flow_id, origin_tenant_id, member_id, attempt, status, org_id, org_name)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (tenant_id, flow_id) DO UPDATE SET attempt = $5, status = $6, updated_at = now(),"
        " org_id = CASE WHEN $5 > desk_guests.attempt THEN $7 ELSE coalesce($7, desk_guests.org_id) END,"
        " org_name = CASE WHEN $5 > desk_guests.attempt OR $7 IS NOT NULL THEN $8 ELSE desk_guests.org_name END"
        f" WHERE desk_guests.origin_tenant_id = $3 AND NOT desk_guests.flow_closed"
        f" AND (desk_guests.attempt, {ranks}) < ($5, $9)",
        uow.tenant, flow_id, origin_tenant_id, member_id, attempt, status, org_id, org_name, rank,
    )


async def close_superseded_guest(uow: UnitOfWork, *, flow_id: str, origin_tenant_id: str, member_id: str,
                                 attempt: int) -> None:
    """Every attempt before ``attempt`` is over here (a stub CLOSED row if the earlier one has not arrived yet)."""
    await uow.conn.execute(
        "INSERT INTO desk_guests (tenant_id, flow_id, origin_tenant_id, member_id, attempt, status)"
        " VALUES ($1, $2, $3, $4, $5 - 1, 'CLOSED')"
        " ON CONFLICT (tenant_id, flow_id) DO UPDATE SET status = 'CLOSED', updated_at = now()"
        " WHERE desk_guests.origin_tenant_id = $3 AND desk_guests.attempt < $5",
        uow.tenant, flow_id, origin_tenant_id, member_id, attempt,
    )


async def close_guest_flow(uow: UnitOfWork, *, flow_id: str, origin_tenant_id: str, member_id: str) -> None:
    """The flow ended: the guest row is CLOSED for good."""
    await uow.conn.execute(
        "INSERT INTO desk_guests (tenant_id, flow_id, origin_tenant_id, member_id, status, flow_closed)"
        " VALUES ($1, $2, $3, $4, 'CLOSED', true)"
        " ON CONFLICT (tenant_id, flow_id) DO UPDATE SET status = 'CLOSED', flow_closed = true, updated_at = now()"
        " WHERE desk_guests.origin_tenant_id = $3",
        uow.tenant, flow_id, origin_tenant_id, member_id,
    )


async def open_guest(uow: UnitOfWork, *, origin_tenant_id: str, member_id: str,
                     shut: frozenset[str]) -> Guest | None:
    """The member's latest guest row here whose status is not in ``shut``, or None."""
    r = await uow.conn.fetchrow(
        "SELECT * FROM desk_guests WHERE tenant_id = $1 AND origin_tenant_id = $2 AND member_id = $3"
        " AND NOT flow_closed AND status <> ALL($4::text[]) ORDER BY updated_at DESC, flow_id DESC LIMIT 1",
        uow.tenant, origin_tenant_id, member_id, sorted(shut),
    )
    return None if r is None else guest_from_record(r)


async def member_facts(uow: UnitOfWork, *, member_id: str) -> MemberFacts | None:
    """A member's loan-relevant facts (issue 14), or None."""
    r = await uow.conn.fetchrow(
        "SELECT id, name, home_org_id, township, active, membership_status, join_date, birth_year, latest_grade,"
        " latest_grade_year, returned, facts_at FROM desk_members WHERE tenant_id = $1 AND id = $2",
        uow.tenant, member_id)
    return None if r is None else facts_from_record(r)
