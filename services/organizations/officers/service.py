"""Officers' use cases: appointments (任职, 离任) and the grids officers lead."""

from __future__ import annotations

import logging
import uuid

from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit import pii
from jinqiao.kit.auth import Principal
from jinqiao.kit.clock import china_date
from jinqiao.kit.crypto import DecryptionError
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from jinqiao.kit.usecases import parse_id, record_act, require_tenant
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.meetings import service as meetings
from jinqiao.organizations.memberships import service as memberships
from jinqiao.organizations.officers import domain, repo
from jinqiao.organizations.orgs import domain as orgs
from jinqiao.organizations.orgs import service as org_scope

log = logging.getLogger(__name__)


def _officer_phone(deps: OrgDeps, tenant: str, officer_id: str, sealed: bytes | None) -> str:
    """An officer on record's phone, opened to be sealed again for the event ("" when it will not open)."""
    if sealed is None:
        return ""
    try:
        return deps.cipher.decrypt(sealed, tenant=tenant, table="officers", column="phone", row=officer_id)
    except DecryptionError:
        # A garbled or foreign seal: the appointment still stands; SMS will not reach this officer.
        log.warning("officer phone does not open", extra={"tenant": tenant})
        return ""


async def appoint_officer(*, deps: OrgDeps, principal: Principal, org_id: str, position: int, officer_id: str,
                          name: str, phone: str, start_date: str) -> domain.Appointment:
    """Appoint a person (recorded now, or already on record) to a position; the phone is encrypted at rest."""
    orgs.ensure_may_write(principal.role)
    start = domain.parse_date(start_date, field="start_date", today=china_date(deps.clock()))
    new = None if officer_id else domain.validate_new_officer(name=name, phone=phone)
    appointment_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        parsed = domain.parse_position(position, org_kind=org.kind)
        if new is None:
            person = parse_id(officer_id, field="officer_id")
            if not await repo.officer_exists(uow, officer_id=person):
                raise InvalidArgument.field("officer_id", "本县没有该人员记录")
            plain_phone = _officer_phone(deps, uow.tenant, person, await repo.officer_phone_enc(uow, officer_id=person))
        else:
            person = str(uuid.uuid4())
            plain_phone = new.phone
            await repo.insert_officer(
                uow, officer_id=person, name=new.name, phone_masked=pii.mask_phone(new.phone),
                phone_enc=deps.cipher.encrypt(new.phone, tenant=uow.tenant, table="officers", column="phone",
                                              row=person),
            )
        await repo.insert_appointment(uow, appointment_id=appointment_id, officer_id=person, org_id=org.id,
                                      position=parsed, start=start)
        result = await repo.appointment(uow, appointment_id=appointment_id)
        assert result is not None
        # The phone travels sealed to this county and appointment (notifications opens it to send an SMS), never plain.
        sealed = b"" if not plain_phone else deps.cipher.encrypt(
            plain_phone, tenant=uow.tenant, table=pii.OFFICER_SEAL_TABLE, column=pii.OFFICER_SEAL_COLUMN,
            row=appointment_id)
        event = events.OfficerAppointed(
            appointment_id=appointment_id, officer_id=person, org_id=org.id, position=parsed.name,
            officer_name=result.officer_name, phone_sealed=sealed, phone_masked=result.phone_masked,
            start_date=start.isoformat())
        await record_act(uow, principal, service=SERVICE, action="officer.appoint", object_type="appointment",
                         object_id=appointment_id, reason=parsed.name, event=event)
        await uow.commit()
    assert result is not None
    return result


async def end_appointment(*, deps: OrgDeps, principal: Principal, appointment_id: str,
                          end_date: str) -> domain.Appointment:
    """Close an appointment (离任); it stays in the history."""
    orgs.ensure_may_write(principal.role)
    end = domain.parse_date(end_date, field="end_date", today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        found = await repo.appointment(uow, appointment_id=parse_id(appointment_id, what="该任职记录"))
        if found is None:
            raise NotFound("未找到该任职记录")
        await org_scope.load(uow, principal, found.org_id)
        if found.end_date is not None:
            raise FailedPrecondition("该任职已结束")
        if end < found.start_date:
            raise InvalidArgument.field("end_date", "离任日期不能早于任职日期")
        await repo.end_appointment(uow, appointment_id=found.id, end=end)
        result = await repo.appointment(uow, appointment_id=found.id)
        event = events.OfficerAppointmentEnded(appointment_id=found.id, officer_id=found.officer_id,
                                               org_id=found.org_id, position=found.position.name,
                                               end_date=end.isoformat())
        await record_act(uow, principal, service=SERVICE, action="officer.end", object_type="appointment",
                         object_id=found.id, event=event, aggregate_version=2)
        await uow.commit()
    assert result is not None
    return result


async def list_appointments(*, deps: OrgDeps, principal: Principal, org_id: str, positions: list[int],
                            include_history: bool) -> list[domain.Appointment]:
    """An organisation's officers, or every appointment of some positions across the county (for ledgers)."""
    orgs.ensure_may_read(principal.role)
    try:
        parsed = [int(domain.Position(p)) for p in positions]
    except ValueError:
        raise InvalidArgument.field("positions", "职务无效") from None
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        if org_id:
            org_key: str | None = (await org_scope.load(uow, principal, org_id)).org.id
        elif await org_scope.scope_path(uow, principal) is not None:
            raise InvalidArgument.field("org_id", "须指定组织")
        else:
            org_key = None
        return await repo.appointments(uow, org_id=org_key, positions=parsed, include_history=include_history)


async def create_grid(*, deps: OrgDeps, principal: Principal, org_id: str, name: str, leader_officer_id: str,
                      addresses: list[str], member_ids: list[str]) -> domain.Grid:
    """Draw a grid under a station or township, led by an officer on record (网格长)."""
    orgs.ensure_may_write(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        here = await org_scope.load(uow, principal, org_id)
        org = here.org
        clean, areas, members = domain.validate_grid(name=name, org_kind=org.kind, addresses=addresses,
                                                     member_ids=member_ids)
        # A grid holds the county's own members and those placed under its organisation, no one else's.
        held = await meetings.members_held(uow, member_ids=list(members))
        held |= await memberships.member_ids_held(uow, member_ids=[m for m in members if m not in held],
                                                  within_path=here.path)
        if strangers := [m for m in members if m not in held]:
            raise InvalidArgument.field("member_ids", f"本县没有该党员，且其在本组织没有临时组织关系：{strangers[0]}")
        leader = parse_id(leader_officer_id, field="leader_officer_id") if leader_officer_id else None
        if leader and not await repo.officer_exists(uow, officer_id=leader):
            raise InvalidArgument.field("leader_officer_id", "本县没有该人员记录")
        grid_id = str(uuid.uuid4())
        grid = await repo.insert_grid(uow, grid_id=grid_id, org_id=org.id, name=clean, leader_officer_id=leader,
                                      addresses=areas, member_ids=members)
        await record_act(uow, principal, service=SERVICE, action="grid.create", object_type="grid",
                         object_id=grid_id)
        await uow.commit()
    return grid


async def list_grids(*, deps: OrgDeps, principal: Principal, org_id: str) -> list[domain.Grid]:
    """The grids of a station or township."""
    orgs.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        return await repo.grids(uow, org_id=org.id)
