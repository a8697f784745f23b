"""Notebook use cases: the 活动记事本 and 双向评议 of the county's members.

Staff and members read them through the API; the destination's entries and assessments arrive as events and
run in the consumer's unit of work (its inbox row commits with the effect). An entry (activity, attendance) about
no member of this county, or from a county the member has nothing to do with, is a forged event: dead-lettered
with its reason, never written. An assessment about a member this county does not hold, or with a grade it does
not know, returns quietly, as a duplicate does.
"""

from __future__ import annotations

from datetime import date, datetime

from jinqiao.kit.auth import Principal
from jinqiao.kit.clock import china_date
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import ForgedEvent
from jinqiao.kit.regions import name_of
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.flows import domain as flows_domain
from jinqiao.registry.flows import repo as flows_repo
from jinqiao.registry.members import domain as members_domain
from jinqiao.registry.members import service as members
from jinqiao.registry.notebook import domain as notebook
from jinqiao.registry.notebook import repo

# A member has at most one open flow; an entry arriving late concerns one of the last few.
_RECENT_FLOWS = 20


async def list_activities(*, deps: RegistryDeps, principal: Principal, member_id: str) -> list[notebook.Activity]:
    """A member's 活动记事本 (a member reads their own)."""
    key = parse_id(member_id, what="该党员")
    members_domain.ensure_may_see_member(role=principal.role, own_member=principal.member, member_id=key)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        await members.active_member(uow, member_id=key)
        return await repo.activities(uow, member_id=key)


async def record_home_assessment(*, deps: RegistryDeps, principal: Principal, member_id: str, year: int, grade: int,
                                 comment: str) -> notebook.Evaluation:
    """The home branch's side of 双向评议; returns the merged evaluation of the year."""
    # Written by the staff who register and close flows (the same permission and message as before the split).
    flows_domain.ensure_may_write(principal.role)
    clean_year, parsed, note = notebook.validate_assessment(year=year, grade=grade, comment=comment,
                                                            today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        member = await members.active_member(uow, member_id=member_id, for_update=True)
        facts = await members.current_profile(uow, member_id=member.id)
        await repo.save_home_assessment(uow, member_id=member.id, year=clean_year, grade=int(parsed), comment=note)
        # A 双向评议 completed (or its merged grade changed) is a fact loan programmes decide on.
        await members.publish_profile(uow, cipher=deps.cipher, member_id=member.id,
                                      before=None if facts is None else facts[1])
        await record_act(uow, principal, service=SERVICE,
                         action="evaluation.home", object_type="member", object_id=member.id,
                         reason=f"{clean_year}:{parsed.name}")
        rows = [e for e in await repo.evaluations(uow, member_id=member.id) if e.year == clean_year]
        await uow.commit()
    return rows[0]


async def list_evaluations(*, deps: RegistryDeps, principal: Principal,
                           member_id: str) -> list[notebook.Evaluation]:
    """A member's yearly evaluations, both sides and the merged grade."""
    key = parse_id(member_id, what="该党员")
    members_domain.ensure_may_see_member(role=principal.role, own_member=principal.member, member_id=key)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        await members.active_member(uow, member_id=key)
        return await repo.evaluations(uow, member_id=key)


# ---------------------------------------------------------------------------------------- what the destination tells


async def _member_here(uow: UnitOfWork, member_id: str) -> str | None:
    key = parse_id_or_none(member_id)
    return key if key and await members.find_member(uow, member_id=key) is not None else None


async def _member_or_forged(uow: UnitOfWork, member_id: str) -> str:
    """The member an organisation's entry names; an entry about no member of this county can never apply."""
    if (member := await _member_here(uow, member_id)) is None:
        raise ForgedEvent("本县没有该党员，不能记入活动记事本")
    return member


async def _placements(uow: UnitOfWork, member_id: str) -> list[notebook.Placement]:
    """Where the member's flows were placed, newest first (the few most recent are enough)."""
    rows, _ = await flows_repo.list_flows(uow, after=None, limit=_RECENT_FLOWS, member_id=member_id, statuses=[],
                                          destination_code="")
    return [notebook.Placement(flow_id=row.id, placing_tenant_id=row.placing_tenant_id,
                               open=flows_domain.FlowStatus(row.status) in flows_domain.OPEN, closed_on=row.closed_on)
            for row, _, _ in rows]


def _date_or(value: str, fallback: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return fallback


async def record_destination_activity(*, uow: UnitOfWork, activity_id: str, member_id: str, flow_id: str,
                                      occurred_on: str, occurred_at: datetime, title: str, note: str,
                                      org_name: str, held_in: str) -> None:
    """An activity the destination organisation recorded goes into the member's 活动记事本, checked.

    Only the county that placed the member's flow may vouch for it: anyone else's entry is dead-lettered.
    """
    member = await _member_or_forged(uow, member_id)
    day = _date_or(occurred_on, china_date(occurred_at))
    flow = parse_id_or_none(flow_id)
    if flow is None or not notebook.placed_in(held_in, placements=await _placements(uow, member), on=day,
                                              flow_id=flow):
        raise ForgedEvent(f"活动记录来自 {held_in}，但该党员的这次外出并未安置在该县")
    await repo.insert_activity(uow, activity_id=f"activity:{activity_id}", member_id=member, flow_id=flow,
                               occurred_on=day, title=title, note=note, org_name=org_name,
                               source="DESTINATION_ACTIVITY")


async def record_attendance(*, uow: UnitOfWork, meeting_id: str, member_id: str, status: str, meeting_type: str,
                            occurred_at: datetime, held_in: str, guest: bool) -> None:
    """Organisational life attended anywhere (as a guest too) counts in the home county's notebook.

    The meeting's county must be the member's own, or one where a flow of the member is placed: another county's
    say-so writes nothing (dead-lettered with the reason).
    """
    member = await _member_or_forged(uow, member_id)
    if held_in != uow.tenant and not notebook.placed_in(held_in, placements=await _placements(uow, member),
                                                        on=china_date(occurred_at)):
        raise ForgedEvent(f"会议在 {held_in} 召开，但该党员既不属于该县，也没有安置在该县的外出登记")
    if status != "PRESENT":
        return
    await repo.insert_activity(uow, activity_id=f"meeting:{meeting_id}:{member}", member_id=member, flow_id=None,
                               occurred_on=china_date(occurred_at), title=notebook.meeting_title(meeting_type),
                               note="", org_name=f"{name_of(held_in)}党组织" if guest else "", source="MEETING")


async def record_destination_assessment(*, uow: UnitOfWork, cipher: FieldCipher, member_id: str, year: int,
                                        grade: str, comment: str, org_name: str, held_in: str) -> None:
    """The destination's side of 双向评议; a later assessment of the same year replaces an earlier one.

    Only a county that placed one of the member's flows during that year may assess it: anyone else's is forged.
    """
    if (member := await _member_here(uow, member_id)) is None or grade not in notebook.Grade.__members__:
        return
    if not 1900 < year < 10000 or not notebook.placed_in(held_in, placements=await _placements(uow, member),
                                                         on=date(year, 1, 1)):
        raise ForgedEvent(f"评议来自 {held_in}，但该党员 {year} 年没有安置在该县的外出登记")
    facts = await members.current_profile(uow, member_id=member, lock=True)
    await repo.save_destination_assessment(uow, member_id=member, year=year, grade=int(notebook.Grade[grade]),
                                           comment=comment, org_name=org_name)
    await members.publish_profile(uow, cipher=cipher, member_id=member, before=None if facts is None else facts[1])
