"""Replica lookups for the other concepts, and the use cases its consumers call (idempotent, order-tolerant)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from jinqiao.desk.replica import repo
from jinqiao.desk.replica.domain import (
    GUEST_RANK,
    GUEST_SHUT,
    PLACED_RANK,
    STATION_KINDS,
    Guest,
    MemberFacts,
    ReplicaMember,
    ReplicaOrg,
    hosts_guest,
    org_kind,
)
from jinqiao.kit.db import UnitOfWork


def _is_uuid(value: str) -> bool:
    """Ids are uuids; anything else (an empty id, the county queue's key) names nothing in the replica."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _uuids(*values: str) -> bool:
    """An event naming an id that is not a uuid names nothing the replica could hold: it is skipped."""
    return all(_is_uuid(v) for v in values)


# ---- lookups (CONTRACT)


async def home_member(uow: UnitOfWork, *, member_id: str) -> ReplicaMember | None:
    """CONTRACT: a member of ``uow.tenant`` (their home county), or None."""
    if not _is_uuid(member_id):
        return None
    return await repo.get_member(uow, member_id=member_id)


async def member_facts(uow: UnitOfWork, *, member_id: str) -> MemberFacts | None:
    """CONTRACT (issue 14): a member of ``uow.tenant`` with the facts loan rules are checked against, or None."""
    if not _is_uuid(member_id):
        return None
    return await repo.member_facts(uow, member_id=member_id)


async def guest(uow: UnitOfWork, *, origin_tenant_id: str, member_id: str) -> Guest | None:
    """CONTRACT: a member of ``origin_tenant_id`` placed in ``uow.tenant`` by an open flow (the latest), or None."""
    if not _is_uuid(member_id) or origin_tenant_id == uow.tenant:
        return None
    return await repo.open_guest(uow, origin_tenant_id=origin_tenant_id, member_id=member_id, shut=GUEST_SHUT)


async def org(uow: UnitOfWork, *, org_id: str) -> ReplicaOrg | None:
    """CONTRACT: an organisation of ``uow.tenant``, or None."""
    if not _is_uuid(org_id):
        return None
    return await repo.get_org(uow, org_id=org_id)


async def org_subtree(uow: UnitOfWork, *, root_id: str) -> frozenset[str]:
    """CONTRACT: the organisation and every organisation under it."""
    # An organisation the replica does not know yet reaches nothing (a scope check must fail closed).
    if not _is_uuid(root_id):
        return frozenset()
    return await repo.org_subtree(uow, root_id=root_id)


async def ancestors(uow: UnitOfWork, *, org_id: str) -> list[ReplicaOrg]:
    """CONTRACT: the organisation's parents, nearest first (the county committee last)."""
    if not _is_uuid(org_id):
        return []
    return await repo.ancestors(uow, org_id=org_id)


async def nearest_station(uow: UnitOfWork, *, org_id: str) -> ReplicaOrg | None:
    """CONTRACT: the organisation itself if it is a station, else its nearest station ancestor, else None."""
    here = await org(uow, org_id=org_id)
    if here is None:
        return None
    # A dissolved station keeps no queue: its tickets go to the next station up (or the county's queue).
    for candidate in [here, *await repo.ancestors(uow, org_id=org_id)]:
        if candidate.is_station and not candidate.dissolved:
            return candidate
    return None


async def stations(uow: UnitOfWork) -> list[ReplicaOrg]:
    """CONTRACT: the county's stations (驻城党建工作站, 服务中心) that are not dissolved, by name."""
    return await repo.stations(uow, kinds=STATION_KINDS)


# ---- use cases of the consumers: the org tree (organizations' events, in the publishing county)


async def mirror_org(*, uow: UnitOfWork, org_id: str, name: str | None = None, kind: str | None = None,
                     dissolved: bool = False) -> None:
    """Keep an organisation's name, kind (without the enum prefix) and dissolution."""
    if not _uuids(org_id):
        return
    await repo.upsert_org(uow, org_id=org_id, name=name, kind=None if kind is None else org_kind(kind),
                          dissolved=dissolved)


async def mirror_org_parent(*, uow: UnitOfWork, org_id: str, parent_id: str, version: int) -> None:
    """Keep where an organisation sits, as of its aggregate version (a late OrgCreated never undoes an OrgMoved)."""
    if not _uuids(org_id):
        return
    await repo.set_org_parent(uow, org_id=org_id, parent_id=parent_id if _is_uuid(parent_id) else None,
                              version=version)


# ---- members of this county and their flows (registry's events, in the origin)


async def mirror_member(*, uow: UnitOfWork, member_id: str, name: str, home_org_id: str, township: str) -> None:
    """A member registered here (created, imported, or transferred in)."""
    if not _uuids(member_id):
        return
    await repo.upsert_member(uow, member_id=member_id, name=name,
                             home_org_id=home_org_id if _is_uuid(home_org_id) else None, township=township)


async def member_profile(*, uow: UnitOfWork, publisher: str, event_tenant: str, facts: MemberFacts) -> bool:
    """registry's full fact set of a member of this county (MemberProfileChanged), newest by occur time wins.

    The replica learns only its own county's members: a profile the publisher (verified from the subject) sent about
    another county, or one naming no uuid, is skipped (False); so is one older than what the row holds.
    """
    if publisher != uow.tenant or event_tenant != uow.tenant or facts.facts_at is None:
        return False
    if not _uuids(facts.member_id):
        return False
    home = facts.home_org_id if facts.home_org_id and _is_uuid(facts.home_org_id) else None
    return await repo.upsert_member_facts(uow, facts=replace(facts, home_org_id=home))


async def member_left(*, uow: UnitOfWork, member_id: str) -> None:
    """A member transferred out (转出) is no longer this county's to serve."""
    if not _uuids(member_id):
        return
    await repo.deactivate_member(uow, member_id=member_id)


async def member_flow_opened(*, uow: UnitOfWork, member_id: str, flow_id: str, attempt: int, destination_code: str,
                             placing_tenant_id: str, at: datetime | None) -> None:
    """The origin registered or redirected a flow of its member: where they are and which county places them."""
    if not _uuids(member_id, flow_id):
        return
    await repo.upsert_member_flow(uow, member_id=member_id, flow_id=flow_id, attempt=attempt,
                                  destination_code=destination_code, placing_tenant_id=placing_tenant_id, at=at)
    await repo.refresh_member(uow, member_id=member_id)


async def member_flow_closed(*, uow: UnitOfWork, member_id: str, flow_id: str) -> None:
    """The flow ended (回归, 转出, cancelled): the member is no longer away by it."""
    if not _uuids(member_id, flow_id):
        return
    await repo.close_member_flow(uow, member_id=member_id, flow_id=flow_id)
    await repo.refresh_member(uow, member_id=member_id)


async def member_placed(*, uow: UnitOfWork, member_id: str, flow_id: str, answered_by: str, attempt: int,
                        status: str, org_id: str, org_name: str) -> bool:
    """The placing county offered a temporary membership or the member checked in (报到) there.

    ``answered_by`` is the verified publisher: an answer from a county that is not the flow's placing county is
    ignored (False). An answer arriving before the flow itself is kept and counts only once the flow confirms it.
    """
    if not _uuids(member_id, flow_id):
        return False
    known = await repo.flow_placing(uow, member_id=member_id, flow_id=flow_id)
    if known is not None and known[0] > 0 and known[1] != answered_by:
        return False
    await repo.place_member_flow(uow, member_id=member_id, flow_id=flow_id, placed_by=answered_by, attempt=attempt,
                                 rank=PLACED_RANK[status], org_id=org_id if _is_uuid(org_id) else None,
                                 org_name=org_name)
    await repo.refresh_member(uow, member_id=member_id)
    return True


# ---- guests: members of other counties placed here (registry's events routed here, organizations' from here)


async def guest_registered(*, uow: UnitOfWork, origin_tenant_id: str, flow_id: str, member_id: str, attempt: int,
                           placing_tenant_id: str, out_of_province: bool, member_name: str,
                           id_number_masked: str) -> bool:
    """The origin (verified publisher) asks this county to place its member: a guest row (False: not ours)."""
    if not _uuids(member_id, flow_id):
        return False
    if out_of_province or not hosts_guest(origin_tenant_id=origin_tenant_id, placing_tenant_id=placing_tenant_id,
                                          here=uow.tenant):
        return False
    await repo.register_guest(uow, flow_id=flow_id, origin_tenant_id=origin_tenant_id, member_id=member_id,
                              member_name=member_name, id_number_masked=id_number_masked, attempt=attempt)
    return True


async def guest_superseded(*, uow: UnitOfWork, origin_tenant_id: str, flow_id: str, member_id: str,
                           attempt: int) -> bool:
    """The origin redirected the flow: this county's earlier attempt is over (False: not ours)."""
    if not _uuids(member_id, flow_id):
        return False
    if origin_tenant_id == uow.tenant:
        return False
    await repo.close_superseded_guest(uow, flow_id=flow_id, origin_tenant_id=origin_tenant_id, member_id=member_id,
                                      attempt=attempt)
    return True


async def guest_flow_closed(*, uow: UnitOfWork, origin_tenant_id: str, flow_id: str, member_id: str) -> bool:
    """The origin closed the flow: the guest is gone for good (False: not ours)."""
    if not _uuids(member_id, flow_id):
        return False
    if origin_tenant_id == uow.tenant:
        return False
    await repo.close_guest_flow(uow, flow_id=flow_id, origin_tenant_id=origin_tenant_id, member_id=member_id)
    return True


async def guest_placement(*, uow: UnitOfWork, origin_tenant_id: str, flow_id: str, member_id: str, attempt: int,
                          status: str, org_id: str = "", org_name: str = "") -> bool:
    """This county's own organisations answered for a guest (offered, checked in, refused, closed)."""
    if not _uuids(member_id, flow_id):
        return False
    if status not in GUEST_RANK or origin_tenant_id == uow.tenant:
        return False
    await repo.advance_guest(uow, flow_id=flow_id, origin_tenant_id=origin_tenant_id, member_id=member_id,
                             attempt=attempt, status=status, org_id=org_id if _is_uuid(org_id) else None,
                             org_name=org_name)
    return True
