"""Officers' and grids' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.officers import domain, service
from jinqiao.organizations.v1 import organizations_pb2 as pb


def _appointment(a: domain.Appointment) -> pb.Appointment:
    return pb.Appointment(
        id=a.id, officer_id=a.officer_id, officer_name=a.officer_name, phone_masked=a.phone_masked,
        org_id=a.org_id, org_name=a.org_name, city_code=a.city_code, position=pb.OfficerPosition.ValueType(a.position),
        start_date=a.start_date.isoformat(), end_date=a.end_date.isoformat() if a.end_date else "",
    )


def _grid(g: domain.Grid) -> pb.Grid:
    return pb.Grid(id=g.id, org_id=g.org_id, name=g.name, leader_officer_id=g.leader_officer_id or "",
                   leader_name=g.leader_name, leader_phone_masked=g.leader_phone_masked, addresses=list(g.addresses),
                   member_ids=list(g.member_ids))


class OfficersServicer:
    """Officers' and grids' part of jinqiao.organizations.v1.OrganizationsService (composed in ``server.py``)."""

    _deps: OrgDeps

    async def AppointOfficer(
        self, request: pb.AppointOfficerRequest, context: Context
    ) -> pb.AppointOfficerResponse:
        """Appoint an officer."""
        result = await service.appoint_officer(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, position=request.position,
            officer_id=request.officer_id, name=request.name, phone=request.phone, start_date=request.start_date,
        )
        return pb.AppointOfficerResponse(appointment=_appointment(result))

    async def EndAppointment(
        self, request: pb.EndAppointmentRequest, context: Context
    ) -> pb.EndAppointmentResponse:
        """End an appointment."""
        result = await service.end_appointment(deps=self._deps, principal=current_principal(),
                                               appointment_id=request.appointment_id, end_date=request.end_date)
        return pb.EndAppointmentResponse(appointment=_appointment(result))

    async def ListAppointments(
        self, request: pb.ListAppointmentsRequest, context: Context
    ) -> pb.ListAppointmentsResponse:
        """Officers of an organisation, or of positions county-wide."""
        results = await service.list_appointments(deps=self._deps, principal=current_principal(),
                                                  org_id=request.org_id, positions=list(request.positions),
                                                  include_history=request.include_history)
        return pb.ListAppointmentsResponse(appointments=[_appointment(a) for a in results])

    async def CreateGrid(
        self, request: pb.CreateGridRequest, context: Context
    ) -> pb.CreateGridResponse:
        """Draw a grid."""
        grid = await service.create_grid(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, name=request.name,
            leader_officer_id=request.leader_officer_id, addresses=list(request.addresses),
            member_ids=list(request.member_ids),
        )
        return pb.CreateGridResponse(grid=_grid(grid))

    async def ListGrids(self, request: pb.ListGridsRequest, context: Context) -> pb.ListGridsResponse:
        """Grids of a station or township."""
        grids = await service.list_grids(deps=self._deps, principal=current_principal(), org_id=request.org_id)
        return pb.ListGridsResponse(grids=[_grid(g) for g in grids])
