"""三会一课 and 主题党日: ``…/orgs/{org_id}/meetings`` with attendance, and a member's attendance record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body, Instant, enum_in, enum_out
from jinqiao.organizations.v1 import organizations_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}/orgs", tags=["orgs"])
member_router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["orgs"])

MeetingTypeName = Literal["general_meeting", "committee_meeting", "group_meeting", "party_lecture", "theme_day"]
StatusName = Literal["present", "absent", "on_leave"]


class MeetingIn(Body):
    """A 三会一课 meeting or 主题党日: a place or an https link."""

    type: MeetingTypeName
    title: str = Field(min_length=1, max_length=100)
    start_time: Instant
    place: str = Field(default="", max_length=100)
    online_link: str = Field(default="", max_length=500)
    agenda: str = Field(default="", max_length=2000)


class MeetingOut(BaseModel):
    """A meeting with attendance counts."""

    id: str
    org_id: str
    type: str
    title: str
    start_time: datetime
    place: str
    online_link: str
    agenda: str
    present: int
    guests: int

    @classmethod
    def from_proto(cls, m: pb.Meeting) -> MeetingOut:
        """Map the wire form."""
        return cls(id=m.id, org_id=m.org_id, type=enum_out(pb.MeetingType, "MEETING_TYPE", m.type), title=m.title,
                   start_time=m.start_time.ToDatetime(tzinfo=UTC), place=m.place, online_link=m.online_link,
                   agenda=m.agenda, present=m.present, guests=m.guests)


class AttendanceIn(Body):
    """One member's attendance; a member of another county attends as a guest."""

    member_id: str = Field(max_length=36)
    home_tenant_id: str = Field(min_length=6, max_length=6)
    status: StatusName


class AttendanceListIn(Body):
    """Attendance entries of a meeting."""

    entries: list[AttendanceIn] = Field(min_length=1, max_length=500)


@router.post("/{org_id}/meetings", status_code=201, response_model=MeetingOut)
async def schedule_meeting(tenant: TenantDep, org_id: str, body: MeetingIn, who: CallerDep,
                           gw: GatewayDep) -> MeetingOut:
    """Schedule a 三会一课 meeting or 主题党日."""
    request = pb.ScheduleMeetingRequest(org_id=org_id, type=enum_in(pb.MeetingType, "MEETING_TYPE", body.type),
                                        title=body.title, place=body.place, online_link=body.online_link,
                                        agenda=body.agenda)
    request.start_time.FromDatetime(body.start_time)
    reply = await gw.clients.organizations.ScheduleMeeting(request, metadata=who.metadata, timeout=gw.clients.timeout)
    return MeetingOut.from_proto(reply.meeting)


@router.get("/{org_id}/meetings", response_model=list[MeetingOut])
async def list_meetings(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> list[MeetingOut]:
    """An organisation's meetings, newest first."""
    reply = await gw.clients.organizations.ListMeetings(pb.ListMeetingsRequest(org_id=org_id), metadata=who.metadata,
                                                        timeout=gw.clients.timeout)
    return [MeetingOut.from_proto(m) for m in reply.meetings]


@router.post("/{org_id}/meetings/{meeting_id}/attendance", response_model=MeetingOut)
async def record_attendance(tenant: TenantDep, org_id: str, meeting_id: str, body: AttendanceListIn,
                            who: CallerDep, gw: GatewayDep) -> MeetingOut:
    """Record who attended (出席情况)."""
    reply = await gw.clients.organizations.RecordAttendance(
        pb.RecordAttendanceRequest(meeting_id=meeting_id, org_id=org_id, entries=[
            pb.AttendanceEntry(member_id=e.member_id, home_tenant_id=e.home_tenant_id,
                               status=enum_in(pb.AttendanceStatus, "ATTENDANCE_STATUS", e.status))
            for e in body.entries]),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return MeetingOut.from_proto(reply.meeting)


class MemberAttendanceOut(BaseModel):
    """One meeting a member was recorded at in this county."""

    meeting: MeetingOut
    status: str
    guest: bool


@member_router.get("/members/{member_id}/attendance", response_model=list[MemberAttendanceOut])
async def member_attendance(tenant: TenantDep, member_id: str, who: CallerDep,
                            gw: GatewayDep) -> list[MemberAttendanceOut]:
    """A member's attendance at this county's meetings, guests included (their home branch counts it)."""
    reply = await gw.clients.organizations.ListMemberAttendance(
        pb.ListMemberAttendanceRequest(member_id=member_id), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return [MemberAttendanceOut(meeting=MeetingOut.from_proto(a.meeting),
                                status=enum_out(pb.AttendanceStatus, "ATTENDANCE_STATUS", a.status), guest=a.guest)
            for a in reply.attendance]
