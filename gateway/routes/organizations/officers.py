"""Officers (书记, 党建指导员, 联络员) with their appointment history, and grids (网格) under an organisation."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body, enum_in, enum_out
from jinqiao.organizations.v1 import organizations_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}/orgs", tags=["orgs"])

PositionName = Literal["secretary", "deputy_secretary", "organization_committee_member", "guidance_officer",
                       "liaison", "grid_leader"]


class AppointmentOut(BaseModel):
    """An officer in a position for a period; the phone always masked."""

    id: str
    officer_id: str
    officer_name: str
    phone_masked: str
    org_id: str
    org_name: str
    position: str
    start_date: str
    end_date: str | None

    @classmethod
    def from_proto(cls, a: pb.Appointment) -> AppointmentOut:
        """Map the wire form."""
        return cls(id=a.id, officer_id=a.officer_id, officer_name=a.officer_name, phone_masked=a.phone_masked,
                   org_id=a.org_id, org_name=a.org_name,
                   position=enum_out(pb.OfficerPosition, "OFFICER_POSITION", a.position), start_date=a.start_date,
                   end_date=a.end_date or None)


class AppointIn(Body):
    """A new person (name and phone), or one on record (officer_id)."""

    position: PositionName
    officer_id: str = Field(default="", max_length=36)
    name: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=32)
    start_date: str = Field(max_length=10, description="任职日期 YYYY-MM-DD")


class EndIn(Body):
    """When the appointment ends."""

    end_date: str = Field(max_length=10, description="离任日期 YYYY-MM-DD")


@router.get("/{org_id}/officers", response_model=list[AppointmentOut])
async def officers(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep,
                   include_history: bool = False) -> list[AppointmentOut]:
    """The organisation's officers (with history on request)."""
    reply = await gw.clients.organizations.ListAppointments(
        pb.ListAppointmentsRequest(org_id=org_id, include_history=include_history), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    return [AppointmentOut.from_proto(a) for a in reply.appointments]


@router.post("/{org_id}/officers", status_code=201, response_model=AppointmentOut)
async def appoint(tenant: TenantDep, org_id: str, body: AppointIn, who: CallerDep, gw: GatewayDep) -> AppointmentOut:
    """Appoint an officer (任职)."""
    reply = await gw.clients.organizations.AppointOfficer(
        pb.AppointOfficerRequest(org_id=org_id, position=enum_in(pb.OfficerPosition, "OFFICER_POSITION",
                                                                   body.position),
                                 officer_id=body.officer_id, name=body.name, phone=body.phone,
                                 start_date=body.start_date),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return AppointmentOut.from_proto(reply.appointment)


@router.post("/{org_id}/officers/{appointment_id}/end", response_model=AppointmentOut)
async def end(tenant: TenantDep, org_id: str, appointment_id: str, body: EndIn, who: CallerDep,
              gw: GatewayDep) -> AppointmentOut:
    """End an appointment (离任); it stays in the history."""
    reply = await gw.clients.organizations.EndAppointment(
        pb.EndAppointmentRequest(appointment_id=appointment_id, end_date=body.end_date), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    return AppointmentOut.from_proto(reply.appointment)


class GridIn(Body):
    """A grid: name, leader (an officer on record), addresses and members covered."""

    name: str = Field(min_length=1, max_length=100)
    leader_officer_id: str = Field(default="", max_length=36)
    addresses: list[str] = Field(default_factory=list, max_length=500)
    member_ids: list[str] = Field(default_factory=list, max_length=500)


class GridOut(BaseModel):
    """A grid with its leader's masked phone."""

    id: str
    org_id: str
    name: str
    leader_officer_id: str | None
    leader_name: str
    leader_phone_masked: str
    addresses: list[str]
    member_ids: list[str]

    @classmethod
    def from_proto(cls, g: pb.Grid) -> GridOut:
        """Map the wire form."""
        return cls(id=g.id, org_id=g.org_id, name=g.name, leader_officer_id=g.leader_officer_id or None,
                   leader_name=g.leader_name, leader_phone_masked=g.leader_phone_masked,
                   addresses=list(g.addresses), member_ids=list(g.member_ids))


@router.get("/{org_id}/grids", response_model=list[GridOut])
async def grids(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> list[GridOut]:
    """The grids (网格) of a station or township."""
    reply = await gw.clients.organizations.ListGrids(pb.ListGridsRequest(org_id=org_id), metadata=who.metadata,
                                                     timeout=gw.clients.timeout)
    return [GridOut.from_proto(grid) for grid in reply.grids]


@router.post("/{org_id}/grids", status_code=201, response_model=GridOut)
async def create_grid(tenant: TenantDep, org_id: str, body: GridIn, who: CallerDep, gw: GatewayDep) -> GridOut:
    """Draw a grid under a station or township."""
    reply = await gw.clients.organizations.CreateGrid(
        pb.CreateGridRequest(org_id=org_id, name=body.name, leader_officer_id=body.leader_officer_id,
                             addresses=body.addresses, member_ids=body.member_ids),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return GridOut.from_proto(reply.grid)


MeetingTypeName = Literal["general_meeting", "committee_meeting", "group_meeting", "party_lecture", "theme_day"]
