"""Temporary memberships at the destination: routes under ``/api/v1/tenants/{tenant}/…``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body
from jinqiao.kit.errors import NotFound
from jinqiao.organizations.v1 import organizations_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["memberships"])

StatusName = Literal["offered", "checked_in", "refused", "closed"]
GradeName = Literal["excellent", "competent", "basically_competent", "incompetent"]


_V = TypeVar("_V", bound=int)


def _status_in(name: str) -> pb.MembershipStatus.ValueType:
    return pb.MembershipStatus.Value(f"MEMBERSHIP_STATUS_{name.upper()}")


def _name_out(enum: _EnumTypeWrapper[_V], prefix: str, value: _V) -> str | None:
    return enum.Name(value).removeprefix(f"{prefix}_").lower() if value else None


class MembershipOut(BaseModel):
    """A temporary membership (临时组织关系); ID and phone numbers only ever masked."""

    id: str
    tenant_id: str
    origin_tenant_id: str
    flow_id: str
    member_id: str
    attempt: int
    member_name: str
    id_number_masked: str
    phone_masked: str
    gender: str
    industry: str
    employer: str
    address: str
    destination_code: str
    org_id: str | None
    org_name: str
    rule: str | None
    reason: str
    status: str
    refusal_reason: str
    offered_at: datetime
    checked_in_at: datetime | None
    check_in_method: str | None
    close_reason: str | None
    version: int

    @classmethod
    def from_proto(cls, m: pb.Membership) -> MembershipOut:
        """Map the wire form."""
        return cls(
            id=m.id, tenant_id=m.tenant_id, origin_tenant_id=m.origin_tenant_id, flow_id=m.flow_id,
            member_id=m.member_id, attempt=m.attempt, member_name=m.member_name, id_number_masked=m.id_number_masked,
            phone_masked=m.phone_masked, gender=m.gender, industry=m.industry, employer=m.employer,
            address=m.address, destination_code=m.destination_code, org_id=m.org_id or None, org_name=m.org_name,
            rule=_name_out(pb.PlacementRule, "PLACEMENT_RULE", m.rule), reason=m.reason,
            status=_name_out(pb.MembershipStatus, "MEMBERSHIP_STATUS", m.status) or "",
            refusal_reason=m.refusal_reason, offered_at=m.offer_time.ToDatetime(tzinfo=UTC),
            checked_in_at=m.check_in_time.ToDatetime(tzinfo=UTC) if m.HasField("check_in_time") else None,
            check_in_method=m.check_in_method.lower() or None, close_reason=m.close_reason.lower() or None,
            version=m.version,
        )


class MembershipPage(BaseModel):
    """One page of memberships, newest first."""

    memberships: list[MembershipOut]
    next_page_token: str


class RefuseIn(Body):
    """Why the organisation cannot take the member in."""

    reason: str = Field(default="", max_length=200, description="拒绝接收的原因")


class ActivityIn(Body):
    """An activity the member attended (活动记事本)."""

    occurred_on: str = Field(max_length=10, description="活动日期 YYYY-MM-DD")
    title: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=2000)


class MembershipActivityOut(BaseModel):
    """The recorded activity."""

    activity_id: str


class AssessmentIn(Body):
    """The destination's assessment of a year (双向评议)."""

    year: int = Field(ge=2000, le=2999)
    grade: GradeName
    comment: str = Field(default="", max_length=500)


class AssessmentOut(BaseModel):
    """The recorded assessment."""

    membership_id: str
    year: int
    grade: str


class CheckInCodeOut(BaseModel):
    """The text to print as the organisation's QR check-in code."""

    code: str
    org_name: str


class CodeIn(Body):
    """The scanned code."""

    code: str = Field(min_length=1, max_length=200)


class SelfCheckInOut(BaseModel):
    """Where the member checked in."""

    membership_id: str
    org_name: str
    tenant_id: str


@router.get("/memberships", response_model=MembershipPage)
async def list_memberships(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    status: Annotated[list[StatusName] | None, Query()] = None, org_id: Annotated[str, Query(max_length=36)] = "",
    page_size: Annotated[int, Query(ge=0, le=200)] = 50, page_token: Annotated[str, Query(max_length=2000)] = "",
) -> MembershipPage:
    """The county's temporary memberships (临时组织关系), newest first; by status, and by organisation (subtree)."""
    reply = await gw.clients.organizations.ListMemberships(
        pb.ListMembershipsRequest(statuses=[_status_in(s) for s in status or []], org_id=org_id,
                                  page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return MembershipPage(memberships=[MembershipOut.from_proto(m) for m in reply.memberships],
                          next_page_token=reply.next_page_token)


@router.get("/memberships/{membership_id}", response_model=MembershipOut)
async def get_membership(tenant: TenantDep, membership_id: str, who: CallerDep, gw: GatewayDep) -> MembershipOut:
    """One temporary membership."""
    reply = await gw.clients.organizations.GetMembership(pb.GetMembershipRequest(id=membership_id),
                                                         metadata=who.metadata, timeout=gw.clients.timeout)
    return MembershipOut.from_proto(reply.membership)


@router.post("/memberships/{membership_id}/check-in", response_model=MembershipOut)
async def check_in(tenant: TenantDep, membership_id: str, who: CallerDep, gw: GatewayDep) -> MembershipOut:
    """Record the member's 报到 (by staff); repeating it changes nothing."""
    reply = await gw.clients.organizations.CheckInMembership(pb.CheckInMembershipRequest(id=membership_id),
                                                             metadata=who.metadata, timeout=gw.clients.timeout)
    return MembershipOut.from_proto(reply.membership)


@router.post("/memberships/{membership_id}/refuse", response_model=MembershipOut)
async def refuse(tenant: TenantDep, membership_id: str, body: RefuseIn, who: CallerDep,
                 gw: GatewayDep) -> MembershipOut:
    """Refuse an offered membership with a reason; the member's home county places them again."""
    reply = await gw.clients.organizations.RefuseMembership(
        pb.RefuseMembershipRequest(id=membership_id, reason=body.reason), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    return MembershipOut.from_proto(reply.membership)


@router.post("/memberships/{membership_id}/activities", status_code=201, response_model=MembershipActivityOut)
async def record_activity(tenant: TenantDep, membership_id: str, body: ActivityIn, who: CallerDep,
                          gw: GatewayDep) -> MembershipActivityOut:
    """Record an activity a checked-in member attended, for the home 活动记事本."""
    reply = await gw.clients.organizations.RecordActivity(
        pb.RecordActivityRequest(membership_id=membership_id, occurred_on=body.occurred_on, title=body.title,
                                 note=body.note),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return MembershipActivityOut(activity_id=reply.activity_id)


@router.post("/memberships/{membership_id}/assessments", response_model=AssessmentOut)
async def assess(tenant: TenantDep, membership_id: str, body: AssessmentIn, who: CallerDep,
                 gw: GatewayDep) -> AssessmentOut:
    """Record (or replace) the destination's assessment of a year (双向评议)."""
    reply = await gw.clients.organizations.AssessMembership(
        pb.AssessMembershipRequest(membership_id=membership_id, year=body.year, grade=body.grade.upper(),
                                   comment=body.comment),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return AssessmentOut(membership_id=reply.membership_id, year=reply.year, grade=reply.grade.lower())


@router.get("/orgs/{org_id}/check-in-code", response_model=CheckInCodeOut)
async def check_in_code(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> CheckInCodeOut:
    """The organisation's QR check-in code (报到码), created on first use."""
    reply = await gw.clients.organizations.GetCheckInCode(pb.GetCheckInCodeRequest(org_id=org_id),
                                                          metadata=who.metadata, timeout=gw.clients.timeout)
    return CheckInCodeOut(code=reply.code, org_name=reply.org_name)


@router.post("/members/{member_id}/check-in", response_model=SelfCheckInOut)
async def self_check_in(tenant: TenantDep, member_id: str, body: CodeIn, who: CallerDep,
                        gw: GatewayDep) -> SelfCheckInOut:
    """A member's own 报到 by a scanned code; the path names the member's home county and the member themself."""
    if member_id != who.principal.member:
        raise NotFound("未找到")
    reply = await gw.clients.organizations.CheckInByCode(pb.CheckInByCodeRequest(code=body.code),
                                                         metadata=who.metadata, timeout=gw.clients.timeout)
    return SelfCheckInOut(membership_id=reply.membership_id, org_name=reply.org_name, tenant_id=reply.tenant_id)
