"""Meetings' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from datetime import UTC

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.meetings import domain, service
from jinqiao.organizations.v1 import organizations_pb2 as pb


def _meeting(m: domain.Meeting) -> pb.Meeting:
    message = pb.Meeting(id=m.id, org_id=m.org_id, type=pb.MeetingType.ValueType(m.type), title=m.title, place=m.place,
                         online_link=m.online_link, agenda=m.agenda, present=m.present, guests=m.guests)
    message.start_time.FromDatetime(m.starts_at)
    return message


class MeetingsServicer:
    """Meetings' part of jinqiao.organizations.v1.OrganizationsService (composed in ``server.py``)."""

    _deps: OrgDeps

    async def ScheduleMeeting(
        self, request: pb.ScheduleMeetingRequest, context: Context
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
        self, request: pb.RecordAttendanceRequest, context: Context
    ) -> pb.RecordAttendanceResponse:
        """Record attendance."""
        result = await service.record_attendance(
            deps=self._deps, principal=current_principal(), meeting_id=request.meeting_id,
            entries=[(e.member_id, e.home_tenant_id, e.status) for e in request.entries], org_id=request.org_id,
        )
        return pb.RecordAttendanceResponse(meeting=_meeting(result))

    async def ListMeetings(
        self, request: pb.ListMeetingsRequest, context: Context
    ) -> pb.ListMeetingsResponse:
        """Meetings of an organisation."""
        results = await service.list_meetings(deps=self._deps, principal=current_principal(), org_id=request.org_id)
        return pb.ListMeetingsResponse(meetings=[_meeting(m) for m in results])

    async def ListMemberAttendance(
        self, request: pb.ListMemberAttendanceRequest, context: Context
    ) -> pb.ListMemberAttendanceResponse:
        """A member's attendance."""
        results = await service.member_attendance(deps=self._deps, principal=current_principal(),
                                                  member_id=request.member_id)
        return pb.ListMemberAttendanceResponse(attendance=[
            pb.MemberAttendance(meeting=_meeting(a.meeting), status=pb.AttendanceStatus.ValueType(a.status),
                                guest=a.guest) for a in results
        ])
