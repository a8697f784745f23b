"""The organisation tree of a county: ``/api/v1/tenants/{tenant}/orgs…`` over the organizations gRPC API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.kit.regions import name_of
from jinqiao.organizations.v1 import organizations_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

router = APIRouter(prefix="/api/v1/tenants/{tenant}/orgs", tags=["orgs"])
member_router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["orgs"])

OrgKindName = Literal[
    "county_committee", "township_committee", "village_branch", "community_branch", "enterprise_branch",
    "institution_branch", "external_general_branch", "external_branch", "town_station", "service_center",
    "temporary_branch", "online_branch", "functional_group", "industry_branch",
]
FoundingName = Literal["standalone", "hosted", "affiliated", "joint"]


_V = TypeVar("_V", bound=int)


def _enum_in(enum: _EnumTypeWrapper[_V], prefix: str, name: str) -> _V:
    return enum.Value(f"{prefix}_{name.upper()}")


def _enum_out(enum: _EnumTypeWrapper[_V], prefix: str, value: _V) -> str:
    return enum.Name(value).removeprefix(f"{prefix}_").lower()


class OrgIn(BaseModel):
    """A new organisation; external ones name their city (GB/T 2260) and founding mode."""

    parent_id: str = Field(default="", max_length=36, description="上级组织（县委留空）")
    name: str = Field(min_length=1, max_length=100, description="组织名称")
    kind: OrgKindName
    city_code: str = Field(default="", max_length=6, description="驻外党组织所在城市代码")
    founding_mode: FoundingName | None = Field(default=None, description="单独建/依托建/挂靠建/联合建")
    industry: str = Field(default="", max_length=50)
    employer: str = Field(default="", max_length=100, description="企业党支部所在单位")
    coverage: list[str] = Field(default_factory=list, max_length=50, description="覆盖的街道、社区、村")


class OrgOut(BaseModel):
    """An organisation of the tree."""

    id: str
    tenant_id: str
    parent_id: str | None
    name: str
    kind: str
    city_code: str | None
    city_name: str | None
    founding_mode: str | None
    industry: str
    employer: str
    coverage: list[str]
    status: str
    depth: int
    version: int
    created_at: datetime

    @classmethod
    def from_proto(cls, o: pb.Org) -> OrgOut:
        """Map the wire form."""
        return cls(
            id=o.id, tenant_id=o.tenant_id, parent_id=o.parent_id or None, name=o.name,
            kind=_enum_out(pb.OrgKind, "ORG_KIND", o.kind), city_code=o.city_code or None,
            city_name=name_of(o.city_code) if o.city_code else None,
            founding_mode=_enum_out(pb.FoundingMode, "FOUNDING_MODE", o.founding_mode) if o.founding_mode else None,
            industry=o.industry, employer=o.employer, coverage=list(o.coverage),
            status=_enum_out(pb.OrgStatus, "ORG_STATUS", o.status), depth=o.depth, version=o.version,
            created_at=o.create_time.ToDatetime(tzinfo=UTC),
        )


class OrgPage(BaseModel):
    """One page of organisations."""

    orgs: list[OrgOut]
    next_page_token: str


class RenameIn(BaseModel):
    """A new name."""

    name: str = Field(min_length=1, max_length=100)


class MoveIn(BaseModel):
    """The new parent."""

    new_parent_id: str = Field(min_length=1, max_length=36)


class MoveOut(BaseModel):
    """The moved organisation and how many moved with it."""

    org: OrgOut
    moved: int


class DissolveIn(BaseModel):
    """Why it is dissolved."""

    reason: str = Field(min_length=1, max_length=200)


@router.post("", status_code=201, response_model=OrgOut)
async def create_org(tenant: TenantDep, body: OrgIn, who: CallerDep, gw: GatewayDep, response: Response) -> OrgOut:
    """Found an organisation (成立党组织)."""
    reply = await gw.clients.organizations.CreateOrg(
        pb.CreateOrgRequest(
            parent_id=body.parent_id, name=body.name, kind=_enum_in(pb.OrgKind, "ORG_KIND", body.kind),
            city_code=body.city_code, industry=body.industry, employer=body.employer, coverage=body.coverage,
            founding_mode=_enum_in(pb.FoundingMode, "FOUNDING_MODE", body.founding_mode) if body.founding_mode
            else pb.FOUNDING_MODE_UNSPECIFIED,
        ),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/orgs/{reply.org.id}"
    return OrgOut.from_proto(reply.org)


@router.get("", response_model=OrgPage)
async def roots(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> OrgPage:
    """The county's root organisation (县委), where the tree starts."""
    reply = await gw.clients.organizations.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=who.metadata,
                                                         timeout=gw.clients.timeout)
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


RuleName = Literal["employer_branch", "residence_community_branch", "fringe_village_branch",
                   "station_temporary_branch", "external_branch_in_city", "industry_branch", "online_branch"]
ScopeName = Literal["in_province", "out_of_province"]


class PlacementOut(BaseModel):
    """The organisation that should take the member in, the rule and the reason; or none and advice."""

    found: bool
    org: OrgOut | None
    rule: str | None
    reason: str
    advice: str
    temporary_branch_threshold: int


class RulesIn(BaseModel):
    """A county's rule order for one scope."""

    rules: list[RuleName] = Field(min_length=1, max_length=7)


class RulesOut(BaseModel):
    """The rule order in force."""

    scope: str
    rules: list[str]
    is_default: bool


@router.get("/search", response_model=OrgPage)
async def search(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep, name: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[list[OrgKindName] | None, Query()] = None, city_code: Annotated[str, Query(max_length=6)] = "",
    include_dissolved: bool = False, page_size: Annotated[int, Query(ge=0, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=2000)] = "",
) -> OrgPage:
    """Find organisations by name, kind and city, in tree order."""
    reply = await gw.clients.organizations.SearchOrgs(
        pb.SearchOrgsRequest(name_contains=name, kinds=[_enum_in(pb.OrgKind, "ORG_KIND", k) for k in kind or []],
                             city_code=city_code, include_dissolved=include_dissolved, page_size=page_size,
                             page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


@router.get("/placement-suggestion", response_model=PlacementOut)
async def placement_suggestion(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    destination_code: Annotated[str, Query(min_length=6, max_length=6)],
    employer: Annotated[str, Query(max_length=100)] = "", industry: Annotated[str, Query(max_length=50)] = "",
    address: Annotated[str, Query(max_length=200)] = "",
) -> PlacementOut:
    """Which organisation should take a mobile member in (安置建议), by the county's rules in order."""
    reply = await gw.clients.organizations.SuggestTemporaryOrg(
        pb.SuggestTemporaryOrgRequest(destination_code=destination_code, employer=employer, industry=industry,
                                      address=address),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return PlacementOut(
        found=reply.found, org=OrgOut.from_proto(reply.org) if reply.found else None,
        rule=_enum_out(pb.PlacementRule, "PLACEMENT_RULE", reply.rule) if reply.rule else None,
        reason=reply.reason, advice=reply.advice, temporary_branch_threshold=reply.temporary_branch_threshold,
    )


@router.get("/placement-rules/{scope}", response_model=RulesOut)
async def placement_rules(tenant: TenantDep, scope: ScopeName, who: CallerDep, gw: GatewayDep) -> RulesOut:
    """The county's placement rules for destinations inside or outside the province, in order."""
    reply = await gw.clients.organizations.GetPlacementRules(
        pb.GetPlacementRulesRequest(scope=_enum_in(pb.PlacementScope, "PLACEMENT_SCOPE", scope)),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return RulesOut(scope=scope, rules=[_enum_out(pb.PlacementRule, "PLACEMENT_RULE", r) for r in reply.rules],
                    is_default=reply.is_default)


@router.put("/placement-rules/{scope}", response_model=RulesOut)
async def set_placement_rules(tenant: TenantDep, scope: ScopeName, body: RulesIn, who: CallerDep,
                              gw: GatewayDep) -> RulesOut:
    """Reorder the county's placement rules (no code change needed)."""
    reply = await gw.clients.organizations.UpdatePlacementRules(
        pb.UpdatePlacementRulesRequest(scope=_enum_in(pb.PlacementScope, "PLACEMENT_SCOPE", scope),
                                       rules=[_enum_in(pb.PlacementRule, "PLACEMENT_RULE", r) for r in body.rules]),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return RulesOut(scope=scope, rules=[_enum_out(pb.PlacementRule, "PLACEMENT_RULE", r) for r in reply.rules],
                    is_default=False)


@router.get("/{org_id}", response_model=OrgOut)
async def get_org(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> OrgOut:
    """One organisation."""
    reply = await gw.clients.organizations.GetOrg(pb.GetOrgRequest(id=org_id), metadata=who.metadata,
                                                  timeout=gw.clients.timeout)
    return OrgOut.from_proto(reply.org)


@router.patch("/{org_id}", response_model=OrgOut)
async def rename_org(tenant: TenantDep, org_id: str, body: RenameIn, who: CallerDep, gw: GatewayDep) -> OrgOut:
    """Rename an organisation."""
    reply = await gw.clients.organizations.RenameOrg(pb.RenameOrgRequest(id=org_id, name=body.name),
                                                     metadata=who.metadata, timeout=gw.clients.timeout)
    return OrgOut.from_proto(reply.org)


@router.post("/{org_id}/move", response_model=MoveOut)
async def move_org(tenant: TenantDep, org_id: str, body: MoveIn, who: CallerDep, gw: GatewayDep) -> MoveOut:
    """Move an organisation with its whole subtree."""
    reply = await gw.clients.organizations.MoveOrg(pb.MoveOrgRequest(id=org_id, new_parent_id=body.new_parent_id),
                                                   metadata=who.metadata, timeout=gw.clients.timeout)
    return MoveOut(org=OrgOut.from_proto(reply.org), moved=reply.moved)


@router.post("/{org_id}/dissolve", response_model=OrgOut)
async def dissolve_org(tenant: TenantDep, org_id: str, body: DissolveIn, who: CallerDep, gw: GatewayDep) -> OrgOut:
    """Dissolve an empty organisation (撤销)."""
    reply = await gw.clients.organizations.DissolveOrg(pb.DissolveOrgRequest(id=org_id, reason=body.reason),
                                                       metadata=who.metadata, timeout=gw.clients.timeout)
    return OrgOut.from_proto(reply.org)


@router.get("/{org_id}/children", response_model=OrgPage)
async def children(
    tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 50, page_token: Annotated[str, Query(max_length=2000)] = "",
    include_dissolved: bool = False,
) -> OrgPage:
    """Direct children, by name."""
    reply = await gw.clients.organizations.ListChildOrgs(
        pb.ListChildOrgsRequest(parent_id=org_id, page_size=page_size, page_token=page_token,
                                include_dissolved=include_dissolved),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


@router.get("/{org_id}/subtree", response_model=OrgPage)
async def subtree(
    tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 200, page_token: Annotated[str, Query(max_length=2000)] = "",
) -> OrgPage:
    """The organisation and everything under it, each after its parent."""
    reply = await gw.clients.organizations.ListSubtreeOrgs(
        pb.ListSubtreeOrgsRequest(root_id=org_id, page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


@router.get("/{org_id}/ancestors", response_model=list[OrgOut])
async def ancestors(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> list[OrgOut]:
    """From the county committee down to the parent."""
    reply = await gw.clients.organizations.ListAncestorOrgs(pb.ListAncestorOrgsRequest(id=org_id),
                                                            metadata=who.metadata, timeout=gw.clients.timeout)
    return [OrgOut.from_proto(o) for o in reply.orgs]


ItemName = Literal["activity_room", "sign_and_flag", "register_and_roster", "rules", "work_plan",
                   "study_materials", "activity_records"]


class ChecklistEntryOut(BaseModel):
    """One of the 七有 items."""

    item: str
    label: str
    done: bool
    evidence: str
    updated_at: datetime | None


class ChecklistOut(BaseModel):
    """The 七有 checklist and its completeness."""

    entries: list[ChecklistEntryOut]
    completeness_percent: int


class ChecklistItemIn(BaseModel):
    """Whether the item is in place, and the evidence."""

    done: bool
    evidence: str = Field(default="", max_length=500)


def _checklist(reply: pb.GetChecklistResponse | pb.UpdateChecklistItemResponse) -> ChecklistOut:
    return ChecklistOut(
        entries=[ChecklistEntryOut(
            item=_enum_out(pb.ChecklistItem, "CHECKLIST_ITEM", e.item), label=e.label, done=e.done,
            evidence=e.evidence, updated_at=e.update_time.ToDatetime(tzinfo=UTC) if e.HasField("update_time") else None,
        ) for e in reply.entries],
        completeness_percent=reply.completeness_percent,
    )


@router.get("/{org_id}/checklist", response_model=ChecklistOut)
async def get_checklist(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> ChecklistOut:
    """The 七有 checklist of an external branch."""
    reply = await gw.clients.organizations.GetChecklist(pb.GetChecklistRequest(org_id=org_id), metadata=who.metadata,
                                                        timeout=gw.clients.timeout)
    return _checklist(reply)


@router.put("/{org_id}/checklist/{item}", response_model=ChecklistOut)
async def put_checklist_item(tenant: TenantDep, org_id: str, item: ItemName, body: ChecklistItemIn, who: CallerDep,
                             gw: GatewayDep) -> ChecklistOut:
    """Record one 七有 item with its evidence."""
    reply = await gw.clients.organizations.UpdateChecklistItem(
        pb.UpdateChecklistItemRequest(org_id=org_id, item=_enum_in(pb.ChecklistItem, "CHECKLIST_ITEM", item),
                                      done=body.done, evidence=body.evidence),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return _checklist(reply)


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
                   position=_enum_out(pb.OfficerPosition, "OFFICER_POSITION", a.position), start_date=a.start_date,
                   end_date=a.end_date or None)


class AppointIn(BaseModel):
    """A new person (name and phone), or one on record (officer_id)."""

    position: PositionName
    officer_id: str = Field(default="", max_length=36)
    name: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=32)
    start_date: str = Field(max_length=10, description="任职日期 YYYY-MM-DD")


class EndIn(BaseModel):
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
        pb.AppointOfficerRequest(org_id=org_id, position=_enum_in(pb.OfficerPosition, "OFFICER_POSITION",
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


class GridIn(BaseModel):
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
StatusName = Literal["present", "absent", "on_leave"]


class MeetingIn(BaseModel):
    """A 三会一课 meeting or 主题党日: a place or an https link."""

    type: MeetingTypeName
    title: str = Field(min_length=1, max_length=100)
    start_time: datetime
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
        return cls(id=m.id, org_id=m.org_id, type=_enum_out(pb.MeetingType, "MEETING_TYPE", m.type), title=m.title,
                   start_time=m.start_time.ToDatetime(tzinfo=UTC), place=m.place, online_link=m.online_link,
                   agenda=m.agenda, present=m.present, guests=m.guests)


class AttendanceIn(BaseModel):
    """One member's attendance; a member of another county attends as a guest."""

    member_id: str = Field(max_length=36)
    home_tenant_id: str = Field(min_length=6, max_length=6)
    status: StatusName


class AttendanceListIn(BaseModel):
    """Attendance entries of a meeting."""

    entries: list[AttendanceIn] = Field(min_length=1, max_length=500)


@router.post("/{org_id}/meetings", status_code=201, response_model=MeetingOut)
async def schedule_meeting(tenant: TenantDep, org_id: str, body: MeetingIn, who: CallerDep,
                           gw: GatewayDep) -> MeetingOut:
    """Schedule a 三会一课 meeting or 主题党日."""
    request = pb.ScheduleMeetingRequest(org_id=org_id, type=_enum_in(pb.MeetingType, "MEETING_TYPE", body.type),
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
        pb.RecordAttendanceRequest(meeting_id=meeting_id, entries=[
            pb.AttendanceEntry(member_id=e.member_id, home_tenant_id=e.home_tenant_id,
                               status=_enum_in(pb.AttendanceStatus, "ATTENDANCE_STATUS", e.status))
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
                                status=_enum_out(pb.AttendanceStatus, "ATTENDANCE_STATUS", a.status), guest=a.guest)
            for a in reply.attendance]
