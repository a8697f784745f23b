"""The directory's SQL over dir_orgs, dir_appointments, dir_members and dir_guests (all keyed by ``uow.tenant``).

Every write is an upsert that only moves a row forward, so replays and events arriving out of order (each event type
has its own durable consumer) converge:
- an org's parent follows the newest of OrgCreated/OrgMoved by occur time (``updated_at``); a row first made by a
  rename or a dissolution carries ``-infinity`` so the creation still sets its parent; the kind is filled once, a
  creation never overwrites a name a rename already set, and dissolution is for good;
- an appointment, once ended, stays ended (an OfficerAppointmentEnded arriving first leaves an ended row that the
  appointment then only fills in);
- a member's facts follow the newest MemberProfileChanged by occur time (``seen_at``);
- a guest's state only moves up offered → checked_in → closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.directory.domain import GUEST_STATES, MemberEntry, Officer, OrgEntry
from jinqiao.notifications.directory.models import (
    MEMBER_COLUMNS,
    OFFICER_COLUMNS,
    ORG_COLUMNS,
    member_from_record,
    officer_from_record,
    org_from_record,
)

# Deeper than any real tree (≤ 6); stops a walk should a corrupted replica ever hold a cycle.
MAX_DEPTH = 16
# The org of a guest whose closure arrived before its offer (TemporaryMembershipClosed names no org).
NO_ORG = "00000000-0000-0000-0000-000000000000"

# ---- the org tree


async def org_placed(uow: UnitOfWork, *, org_id: str, parent_id: str | None, at: datetime, kind: str = "",
                     name: str = "") -> None:
    """OrgCreated (kind, name, parent) or OrgMoved (parent only) as of ``at``: the parent only when newer."""
    await uow.conn.execute(
        "INSERT INTO dir_orgs AS o (tenant_id, id, parent_id, kind, name, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET"
        " parent_id = CASE WHEN o.updated_at < $6 THEN $3 ELSE o.parent_id END,"
        " updated_at = greatest(o.updated_at, $6),"
        " kind = CASE WHEN o.kind = '' THEN $4 ELSE o.kind END,"
        " name = CASE WHEN o.name = '' THEN $5 ELSE o.name END",
        uow.tenant, org_id, parent_id, kind, name, at,
    )


async def org_renamed(uow: UnitOfWork, *, org_id: str, name: str) -> None:
    """OrgRenamed: the name (a stub row when the creation is still to come)."""
    await uow.conn.execute(
        "INSERT INTO dir_orgs (tenant_id, id, name, updated_at) VALUES ($1, $2, $3, '-infinity')"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3",
        uow.tenant, org_id, name,
    )


async def org_dissolved(uow: UnitOfWork, *, org_id: str) -> None:
    """OrgDissolved: for good."""
    await uow.conn.execute(
        "INSERT INTO dir_orgs (tenant_id, id, dissolved, updated_at) VALUES ($1, $2, true, '-infinity')"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET dissolved = true",
        uow.tenant, org_id,
    )


async def get_org(uow: UnitOfWork, *, org_id: str) -> OrgEntry | None:
    """One org of the county, or None."""
    record = await uow.conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM dir_orgs WHERE tenant_id = $1 AND id = $2",
                                     uow.tenant, org_id)
    return None if record is None else org_from_record(record)


async def chain(uow: UnitOfWork, *, org_id: str) -> list[OrgEntry]:
    """The org and its parents, nearest first (empty when the directory does not know the org)."""
    records = await uow.conn.fetch(
        "WITH RECURSIVE up(id, depth) AS (SELECT $2::uuid, 0"
        " UNION ALL SELECT o.parent_id, u.depth + 1 FROM dir_orgs o JOIN up u ON o.tenant_id = $1 AND o.id = u.id"
        " WHERE o.parent_id IS NOT NULL AND u.depth < $3)"
        f" SELECT {', '.join('o.' + c for c in ORG_COLUMNS.split(', '))} FROM up"
        " JOIN dir_orgs o ON o.tenant_id = $1 AND o.id = up.id ORDER BY up.depth",
        uow.tenant, org_id, MAX_DEPTH,
    )
    return [org_from_record(r) for r in records]


# ---- officers


async def appointed(uow: UnitOfWork, *, appointment_id: str, officer_id: str, org_id: str, position: str,
                    officer_name: str, phone_enc: bytes | None, phone_masked: str, at: datetime) -> None:
    """OfficerAppointed: the appointment (an ended row stays ended; the person's details are filled in)."""
    await uow.conn.execute(
        "INSERT INTO dir_appointments AS a (tenant_id, id, officer_id, org_id, position, officer_name, phone_enc,"
        " phone_masked, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET officer_name = $6, phone_enc = $7, phone_masked = $8,"
        " updated_at = greatest(a.updated_at, $9)",
        uow.tenant, appointment_id, officer_id, org_id, position, officer_name, phone_enc, phone_masked, at,
    )


async def appointment_ended(uow: UnitOfWork, *, appointment_id: str, officer_id: str, org_id: str, position: str,
                            at: datetime) -> None:
    """OfficerAppointmentEnded: ended for good (an ended row when the appointment itself is still to come)."""
    await uow.conn.execute(
        "INSERT INTO dir_appointments AS a (tenant_id, id, officer_id, org_id, position, ended, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, true, $6)"
        " ON CONFLICT (tenant_id, id) DO UPDATE SET ended = true, updated_at = greatest(a.updated_at, $6)",
        uow.tenant, appointment_id, officer_id, org_id, position, at,
    )


async def active_officers(uow: UnitOfWork, *, org_ids: Sequence[str]) -> dict[str, list[Officer]]:
    """The active appointments at each of the orgs (by position, then name)."""
    records = await uow.conn.fetch(
        f"SELECT {OFFICER_COLUMNS} FROM dir_appointments WHERE tenant_id = $1 AND org_id = ANY($2::uuid[])"
        " AND NOT ended ORDER BY position, officer_name, id",
        uow.tenant, list(org_ids),
    )
    found: dict[str, list[Officer]] = {}
    for record in records:
        found.setdefault(str(record["org_id"]), []).append(officer_from_record(record))
    return found


# ---- members of this county


async def member_profile(uow: UnitOfWork, *, member_id: str, name: str, home_org_id: str | None, township: str,
                         active: bool, at: datetime) -> None:
    """MemberProfileChanged: the member's facts when newer than the row's."""
    await uow.conn.execute(
        "INSERT INTO dir_members AS m (tenant_id, id, name, home_org_id, township, active, seen_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3,"
        " home_org_id = $4, township = $5, active = $6, seen_at = $7 WHERE m.seen_at < $7",
        uow.tenant, member_id, name, home_org_id, township, active, at,
    )


async def get_member(uow: UnitOfWork, *, member_id: str) -> MemberEntry | None:
    """One member of the county, or None."""
    record = await uow.conn.fetchrow(f"SELECT {MEMBER_COLUMNS} FROM dir_members WHERE tenant_id = $1 AND id = $2",
                                     uow.tenant, member_id)
    return None if record is None else member_from_record(record)


async def home_members(uow: UnitOfWork, *, org_id: str) -> list[tuple[str, str]]:
    """(id, name) of the county's active members whose home branch is the org."""
    records = await uow.conn.fetch(
        "SELECT id, name FROM dir_members WHERE tenant_id = $1 AND home_org_id = $2 AND active ORDER BY id",
        uow.tenant, org_id,
    )
    return [(str(r["id"]), r["name"]) for r in records]


# ---- guests at this county's orgs


async def guest_state(uow: UnitOfWork, *, membership_id: str, member_id: str, origin_tenant_id: str,
                      flow_id: str | None, org_id: str | None, state: str, at: datetime) -> None:
    """A temporary membership's state: only ever forward (offered → checked_in → closed)."""
    await uow.conn.execute(
        "INSERT INTO dir_guests AS g (tenant_id, membership_id, member_id, origin_tenant_id, flow_id, org_id, state,"
        " seen_at) VALUES ($1, $2, $3, $4, $5, coalesce($6::uuid, $9::uuid), $7, $8)"
        " ON CONFLICT (tenant_id, membership_id) DO UPDATE SET"
        " state = CASE WHEN array_position($10::text[], $7) > array_position($10::text[], g.state) THEN $7"
        " ELSE g.state END,"
        " org_id = CASE WHEN g.org_id = $9::uuid AND $6::uuid IS NOT NULL THEN $6::uuid ELSE g.org_id END,"
        " flow_id = coalesce(g.flow_id, $5), seen_at = greatest(g.seen_at, $8)",
        uow.tenant, membership_id, member_id, origin_tenant_id, flow_id, org_id, state, at, NO_ORG,
        list(GUEST_STATES),
    )


async def guests(uow: UnitOfWork, *, org_id: str) -> list[tuple[str, str]]:
    """(member id, home county) of the org's guests whose temporary membership is not closed."""
    records = await uow.conn.fetch(
        "SELECT DISTINCT member_id, origin_tenant_id FROM dir_guests WHERE tenant_id = $1 AND org_id = $2"
        " AND state <> 'closed' ORDER BY origin_tenant_id, member_id",
        uow.tenant, org_id,
    )
    return [(str(r["member_id"]), r["origin_tenant_id"]) for r in records]


# ---- the county's own members' flows (who places them)


async def flow_placed(uow: UnitOfWork, *, flow_id: str, member_id: str, placing_tenant_id: str, attempt: int,
                      at: datetime) -> None:
    """FlowRegistered/FlowRedirected: the attempt's placing county, when the attempt is the newest (never reopens)."""
    await uow.conn.execute(
        "INSERT INTO dir_flows AS f (tenant_id, id, member_id, placing_tenant_id, attempt, seen_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, id) DO UPDATE SET placing_tenant_id = $4,"
        " attempt = $5, seen_at = greatest(f.seen_at, $6) WHERE f.attempt < $5",
        uow.tenant, flow_id, member_id, placing_tenant_id, attempt, at,
    )


async def flow_closed(uow: UnitOfWork, *, flow_id: str, member_id: str, placing_tenant_id: str,
                      at: datetime) -> None:
    """FlowClosed: the flow ended (a close arriving first leaves a closed row the registration cannot reopen)."""
    await uow.conn.execute(
        "INSERT INTO dir_flows AS f (tenant_id, id, member_id, placing_tenant_id, attempt, closed, seen_at)"
        " VALUES ($1, $2, $3, $4, 2147483647, true, $5) ON CONFLICT (tenant_id, id) DO UPDATE SET closed = true,"
        " seen_at = greatest(f.seen_at, $5)",
        uow.tenant, flow_id, member_id, placing_tenant_id, at,
    )


async def flow_placing(uow: UnitOfWork, *, flow_id: str) -> tuple[str, str, bool] | None:
    """(member id, placing county, closed) of one flow of the county, or None when unknown."""
    record = await uow.conn.fetchrow(
        "SELECT member_id, placing_tenant_id, closed FROM dir_flows WHERE tenant_id = $1 AND id = $2",
        uow.tenant, flow_id)
    return None if record is None else (str(record["member_id"]), record["placing_tenant_id"], record["closed"])


async def placed_by(uow: UnitOfWork, *, member_id: str, placing_tenant_id: str) -> bool:
    """Whether the member has an open flow placed by that county."""
    found = await uow.conn.fetchval(
        "SELECT true FROM dir_flows WHERE tenant_id = $1 AND member_id = $2 AND placing_tenant_id = $3"
        " AND NOT closed LIMIT 1", uow.tenant, member_id, placing_tenant_id)
    return bool(found)
