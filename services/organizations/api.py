"""Organisations gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

from datetime import UTC

import grpc

from jinqiao.kit.grpcserver import current_principal
from jinqiao.organizations import checklist, domain, meetings, memberships, officers, service
from jinqiao.organizations.placement import TEMPORARY_BRANCH_THRESHOLD
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc


def org_to_proto(org: domain.Org) -> pb.Org:
    """The wire form of an organisation."""
    message = pb.Org(
        id=org.id, tenant_id=org.tenant_id, parent_id=org.parent_id or "", name=org.name, kind=int(org.kind),
        city_code=org.city_code, founding_mode=int(org.founding_mode) if org.founding_mode else 0,
        industry=org.industry, status=int(org.status), depth=org.depth, version=org.version,
        employer=org.employer, coverage=list(org.coverage),
    )
    message.create_time.FromDatetime(org.created_at)
    return message


class OrganizationsServicer(organizations_pb2_grpc.OrganizationsServiceServicer):
    """jinqiao.organizations.v1.OrganizationsService."""

    def __init__(self, deps: service.OrgDeps) -> None:
        self._deps = deps

    async def CreateOrg(self, request: pb.CreateOrgRequest, context: grpc.aio.ServicerContext) -> pb.CreateOrgResponse:
        """Found an organisation."""
        org = await service.create_org(deps=self._deps, principal=current_principal(), data=service.OrgInput(
            parent_id=request.parent_id, name=request.name, kind=request.kind, city_code=request.city_code,
            founding_mode=request.founding_mode, industry=request.industry, employer=request.employer,
            coverage=tuple(request.coverage),
        ))
        return pb.CreateOrgResponse(org=org_to_proto(org))

    async def GetOrg(self, request: pb.GetOrgRequest, context: grpc.aio.ServicerContext) -> pb.GetOrgResponse:
        """One organisation."""
        org = await service.get_org(deps=self._deps, principal=current_principal(), org_id=request.id)
        return pb.GetOrgResponse(org=org_to_proto(org))

    async def RenameOrg(self, request: pb.RenameOrgRequest, context: grpc.aio.ServicerContext) -> pb.RenameOrgResponse:
        """Rename."""
        org = await service.rename_org(deps=self._deps, principal=current_principal(), org_id=request.id,
                                       name=request.name)
        return pb.RenameOrgResponse(org=org_to_proto(org))

    async def MoveOrg(self, request: pb.MoveOrgRequest, context: grpc.aio.ServicerContext) -> pb.MoveOrgResponse:
        """Move with the subtree."""
        org, moved = await service.move_org(deps=self._deps, principal=current_principal(), org_id=request.id,
                                            new_parent_id=request.new_parent_id)
        return pb.MoveOrgResponse(org=org_to_proto(org), moved=moved)

    async def DissolveOrg(
        self, request: pb.DissolveOrgRequest, context: grpc.aio.ServicerContext
    ) -> pb.DissolveOrgResponse:
        """Dissolve an empty organisation."""
        org = await service.dissolve_org(deps=self._deps, principal=current_principal(), org_id=request.id,
                                         reason=request.reason)
        return pb.DissolveOrgResponse(org=org_to_proto(org))

    async def ListChildOrgs(
        self, request: pb.ListChildOrgsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListChildOrgsResponse:
        """Direct children."""
        orgs, token = await service.list_children(
            deps=self._deps, principal=current_principal(), parent_id=request.parent_id,
            page_size=request.page_size, page_token=request.page_token, include_dissolved=request.include_dissolved,
        )
        return pb.ListChildOrgsResponse(orgs=[org_to_proto(o) for o in orgs], next_page_token=token)

    async def ListSubtreeOrgs(
        self, request: pb.ListSubtreeOrgsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSubtreeOrgsResponse:
        """A subtree in tree order."""
        orgs, token = await service.list_subtree(deps=self._deps, principal=current_principal(),
                                                 root_id=request.root_id, page_size=request.page_size,
                                                 page_token=request.page_token)
        return pb.ListSubtreeOrgsResponse(orgs=[org_to_proto(o) for o in orgs], next_page_token=token)

    async def ListAncestorOrgs(
        self, request: pb.ListAncestorOrgsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAncestorOrgsResponse:
        """Ancestors, root first."""
        orgs = await service.list_ancestors(deps=self._deps, principal=current_principal(), org_id=request.id)
        return pb.ListAncestorOrgsResponse(orgs=[org_to_proto(o) for o in orgs])

    async def SuggestTemporaryOrg(
        self, request: pb.SuggestTemporaryOrgRequest, context: grpc.aio.ServicerContext
    ) -> pb.SuggestTemporaryOrgResponse:
        """Where a mobile member should be taken in, and why."""
        result = await service.suggest_temporary_org(
            deps=self._deps, principal=current_principal(), destination_code=request.destination_code,
            employer=request.employer, industry=request.industry, address=request.address,
        )
        reply = pb.SuggestTemporaryOrgResponse(
            found=result.candidate is not None, reason=result.reason, advice=result.advice,
            rule=int(result.rule) if result.rule else 0, temporary_branch_threshold=TEMPORARY_BRANCH_THRESHOLD,
        )
        if result.candidate is not None:
            reply.org.CopyFrom(org_to_proto(result.candidate.org))
        return reply

    async def GetPlacementRules(
        self, request: pb.GetPlacementRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPlacementRulesResponse:
        """The rule order in force."""
        rules, is_default = await service.get_placement_rules(deps=self._deps, principal=current_principal(),
                                                              scope=request.scope)
        return pb.GetPlacementRulesResponse(rules=[int(r) for r in rules], is_default=is_default)

    async def UpdatePlacementRules(
        self, request: pb.UpdatePlacementRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdatePlacementRulesResponse:
        """Replace the rule order."""
        rules = await service.update_placement_rules(deps=self._deps, principal=current_principal(),
                                                     scope=request.scope, rules=list(request.rules))
        return pb.UpdatePlacementRulesResponse(rules=[int(r) for r in rules])

    async def SearchOrgs(
        self, request: pb.SearchOrgsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchOrgsResponse:
        """Find organisations."""
        orgs, token = await service.search_orgs(
            deps=self._deps, principal=current_principal(), name_contains=request.name_contains,
            kinds=list(request.kinds), city_code=request.city_code, include_dissolved=request.include_dissolved,
            page_size=request.page_size, page_token=request.page_token,
        )
        return pb.SearchOrgsResponse(orgs=[org_to_proto(o) for o in orgs], next_page_token=token)

    async def AppointOfficer(
        self, request: pb.AppointOfficerRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppointOfficerResponse:
        """Appoint an officer."""
        result = await service.appoint_officer(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, position=request.position,
            officer_id=request.officer_id, name=request.name, phone=request.phone, start_date=request.start_date,
        )
        return pb.AppointOfficerResponse(appointment=_appointment(result))

    async def EndAppointment(
        self, request: pb.EndAppointmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.EndAppointmentResponse:
        """End an appointment."""
        result = await service.end_appointment(deps=self._deps, principal=current_principal(),
                                               appointment_id=request.appointment_id, end_date=request.end_date)
        return pb.EndAppointmentResponse(appointment=_appointment(result))

    async def ListAppointments(
        self, request: pb.ListAppointmentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAppointmentsResponse:
        """Officers of an organisation, or of positions county-wide."""
        results = await service.list_appointments(deps=self._deps, principal=current_principal(),
                                                  org_id=request.org_id, positions=list(request.positions),
                                                  include_history=request.include_history)
        return pb.ListAppointmentsResponse(appointments=[_appointment(a) for a in results])

    async def CreateGrid(
        self, request: pb.CreateGridRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateGridResponse:
        """Draw a grid."""
        grid = await service.create_grid(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, name=request.name,
            leader_officer_id=request.leader_officer_id, addresses=list(request.addresses),
            member_ids=list(request.member_ids),
        )
        return pb.CreateGridResponse(grid=_grid(grid))

    async def ListGrids(self, request: pb.ListGridsRequest, context: grpc.aio.ServicerContext) -> pb.ListGridsResponse:
        """Grids of a station or township."""
        grids = await service.list_grids(deps=self._deps, principal=current_principal(), org_id=request.org_id)
        return pb.ListGridsResponse(grids=[_grid(g) for g in grids])

    async def ScheduleMeeting(
        self, request: pb.ScheduleMeetingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ScheduleMeetingResponse:
        """Schedule a meeting."""
        result = await service.schedule_meeting(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, type_=request.type,
            title=request.title,
            starts_at=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
            place=request.place, online_link=request.online_link, agenda=request.agenda,
        )
        return pb.ScheduleMeetingResponse(meeting=_meeting(result))

    async def RecordAttendance(
        self, request: pb.RecordAttendanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordAttendanceResponse:
        """Record attendance."""
        result = await service.record_attendance(
            deps=self._deps, principal=current_principal(), meeting_id=request.meeting_id,
            entries=[(e.member_id, e.home_tenant_id, e.status) for e in request.entries],
        )
        return pb.RecordAttendanceResponse(meeting=_meeting(result))

    async def ListMeetings(
        self, request: pb.ListMeetingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMeetingsResponse:
        """Meetings of an organisation."""
        results = await service.list_meetings(deps=self._deps, principal=current_principal(), org_id=request.org_id)
        return pb.ListMeetingsResponse(meetings=[_meeting(m) for m in results])

    async def ListMemberAttendance(
        self, request: pb.ListMemberAttendanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMemberAttendanceResponse:
        """A member's attendance."""
        results = await service.member_attendance(deps=self._deps, principal=current_principal(),
                                                  member_id=request.member_id)
        return pb.ListMemberAttendanceResponse(attendance=[
            pb.MemberAttendance(meeting=_meeting(m), status=int(status), guest=guest) for m, status, guest in results
        ])

    async def GetChecklist(
        self, request: pb.GetChecklistRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetChecklistResponse:
        """The 七有 checklist."""
        entries, percent = await service.get_checklist(deps=self._deps, principal=current_principal(),
                                                       org_id=request.org_id)
        return pb.GetChecklistResponse(entries=[_entry(e) for e in entries], completeness_percent=percent)

    async def UpdateChecklistItem(
        self, request: pb.UpdateChecklistItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateChecklistItemResponse:
        """Record one item."""
        entries, percent = await service.update_checklist_item(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, item=request.item,
            done=request.done, evidence=request.evidence,
        )
        return pb.UpdateChecklistItemResponse(entries=[_entry(e) for e in entries], completeness_percent=percent)

    async def ListMemberships(
        self, request: pb.ListMembershipsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMembershipsResponse:
        """The county's temporary memberships, newest first."""
        rows, token = await service.list_memberships(
            deps=self._deps, principal=current_principal(), statuses=list(request.statuses), org_id=request.org_id,
            page_size=request.page_size, page_token=request.page_token,
        )
        return pb.ListMembershipsResponse(memberships=[membership_to_proto(m) for m in rows], next_page_token=token)

    async def GetMembership(
        self, request: pb.GetMembershipRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMembershipResponse:
        """One temporary membership."""
        m = await service.get_membership(deps=self._deps, principal=current_principal(), membership_id=request.id)
        return pb.GetMembershipResponse(membership=membership_to_proto(m))

    async def RefuseMembership(
        self, request: pb.RefuseMembershipRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefuseMembershipResponse:
        """Refuse an offer."""
        m = await service.refuse_membership(deps=self._deps, principal=current_principal(),
                                            membership_id=request.id, reason=request.reason)
        return pb.RefuseMembershipResponse(membership=membership_to_proto(m))

    async def CheckInMembership(
        self, request: pb.CheckInMembershipRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckInMembershipResponse:
        """报到 recorded by staff."""
        m = await service.check_in_membership(deps=self._deps, principal=current_principal(),
                                              membership_id=request.id)
        return pb.CheckInMembershipResponse(membership=membership_to_proto(m))

    async def CheckInByCode(
        self, request: pb.CheckInByCodeRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckInByCodeResponse:
        """报到 by the member scanning a QR code."""
        m = await service.check_in_by_code_across_tenants(deps=self._deps, principal=current_principal(),
                                                          code=request.code)
        return pb.CheckInByCodeResponse(membership_id=m.id, org_name=m.org_name, tenant_id=m.tenant_id)

    async def GetCheckInCode(
        self, request: pb.GetCheckInCodeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCheckInCodeResponse:
        """An organisation's QR check-in code."""
        code, org_name = await service.get_check_in_code(deps=self._deps, principal=current_principal(),
                                                         org_id=request.org_id)
        return pb.GetCheckInCodeResponse(code=code, org_name=org_name)

    async def RecordActivity(
        self, request: pb.RecordActivityRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordActivityResponse:
        """An activity of a mobile member."""
        activity_id = await service.record_activity(
            deps=self._deps, principal=current_principal(), membership_id=request.membership_id,
            occurred_on=request.occurred_on, title=request.title, note=request.note,
        )
        return pb.RecordActivityResponse(activity_id=activity_id)

    async def AssessMembership(
        self, request: pb.AssessMembershipRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssessMembershipResponse:
        """The destination's yearly assessment."""
        result = await service.assess_membership(
            deps=self._deps, principal=current_principal(), membership_id=request.membership_id, year=request.year,
            grade=request.grade, comment=request.comment,
        )
        return pb.AssessMembershipResponse(membership_id=request.membership_id, year=result.year, grade=result.grade)


def membership_to_proto(m: memberships.Membership) -> pb.Membership:
    """The wire form of a temporary membership: the phone masked, the ID number only ever masked."""
    message = pb.Membership(
        id=m.id, tenant_id=m.tenant_id, origin_tenant_id=m.origin_tenant_id, flow_id=m.flow_id, member_id=m.member_id,
        attempt=m.attempt, member_name=m.member_name, id_number_masked=m.id_number_masked,
        phone_masked=m.phone_masked, gender=m.gender, industry=m.industry, employer=m.employer, address=m.address,
        destination_code=m.destination_code, org_id=m.org_id or "", org_name=m.org_name,
        rule=int(m.rule) if m.rule else 0, reason=m.reason, status=int(m.status), refusal_reason=m.refusal_reason,
        check_in_method=m.check_in_method, close_reason=m.close_reason, version=m.version,
    )
    message.offer_time.FromDatetime(m.offered_at)
    if m.check_in_at is not None:
        message.check_in_time.FromDatetime(m.check_in_at)
    return message


def _entry(entry: checklist.Entry) -> pb.ChecklistEntry:
    message = pb.ChecklistEntry(item=int(entry.item), label=checklist.LABELS[entry.item], done=entry.done,
                                evidence=entry.evidence)
    if entry.updated_at:
        message.update_time.FromDatetime(entry.updated_at)
    return message


def _appointment(a: officers.Appointment) -> pb.Appointment:
    return pb.Appointment(
        id=a.id, officer_id=a.officer_id, officer_name=a.officer_name, phone_masked=a.phone_masked,
        org_id=a.org_id, org_name=a.org_name, city_code=a.city_code, position=int(a.position),
        start_date=a.start_date.isoformat(), end_date=a.end_date.isoformat() if a.end_date else "",
    )


def _grid(g: officers.Grid) -> pb.Grid:
    return pb.Grid(id=g.id, org_id=g.org_id, name=g.name, leader_officer_id=g.leader_officer_id or "",
                   leader_name=g.leader_name, leader_phone_masked=g.leader_phone_masked, addresses=list(g.addresses),
                   member_ids=list(g.member_ids))


def _meeting(m: meetings.Meeting) -> pb.Meeting:
    message = pb.Meeting(id=m.id, org_id=m.org_id, type=int(m.type), title=m.title, place=m.place,
                         online_link=m.online_link, agenda=m.agenda, present=m.present, guests=m.guests)
    message.start_time.FromDatetime(m.starts_at)
    return message
