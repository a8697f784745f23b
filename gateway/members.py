"""Members of a county: ``/api/v1/tenants/{tenant}/members…`` over the registry's gRPC API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.registry.v1 import registry_pb2

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["members"])

_STATUS_IN = {"probationary": registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY, "full": registry_pb2.MEMBERSHIP_STATUS_FULL}
_STATUS_OUT = {v: k for k, v in _STATUS_IN.items()}
_GENDER_OUT = {registry_pb2.GENDER_MALE: "male", registry_pb2.GENDER_FEMALE: "female"}


class MemberIn(BaseModel):
    """A new member; the ID number is checked by the registry (GB 11643)."""

    name: str = Field(min_length=1, max_length=50, description="姓名")
    id_number: str = Field(min_length=1, max_length=32, description="公民身份号码")
    phone: str = Field(default="", max_length=32, description="手机号码")
    membership_status: Literal["probationary", "full"] = Field(description="预备党员 / 正式党员")
    township: str = Field(default="", max_length=100, description="乡镇")
    village: str = Field(default="", max_length=100, description="村(社区)")
    occupation: str = Field(default="", max_length=100, description="职业")
    join_date: str = Field(default="", max_length=10, description="入党日期 YYYY-MM-DD")


class MemberOut(BaseModel):
    """A member; ID and phone numbers are always masked."""

    id: str
    tenant_id: str
    name: str
    gender: str
    birth_date: str
    id_number_masked: str
    phone_masked: str
    membership_status: str
    township: str
    village: str
    occupation: str
    join_date: str | None
    created_at: datetime
    version: int

    @classmethod
    def from_proto(cls, m: registry_pb2.Member) -> MemberOut:
        """Map the wire form."""
        return cls(
            id=m.id, tenant_id=m.tenant_id, name=m.name, gender=_GENDER_OUT.get(m.gender, "unspecified"),
            birth_date=m.birth_date, id_number_masked=m.id_number_masked, phone_masked=m.phone_masked,
            membership_status=_STATUS_OUT.get(m.membership_status, "unspecified"), township=m.township,
            village=m.village, occupation=m.occupation, join_date=m.join_date or None,
            created_at=m.create_time.ToDatetime(tzinfo=UTC), version=m.version,
        )


class MemberPage(BaseModel):
    """One page of members."""

    members: list[MemberOut]
    next_page_token: str


@router.post("/members", status_code=201, response_model=MemberOut)
async def create_member(
    tenant: TenantDep, body: MemberIn, who: CallerDep, gw: GatewayDep, response: Response,
    idempotency_key: Annotated[str, Header(max_length=100)] = "",
) -> MemberOut:
    """Register a member (登记党员); repeat with the same Idempotency-Key to retry safely."""
    reply = await gw.clients.registry.CreateMember(
        registry_pb2.CreateMemberRequest(
            name=body.name, id_number=body.id_number, phone=body.phone,
            membership_status=_STATUS_IN[body.membership_status], township=body.township, village=body.village,
            occupation=body.occupation, join_date=body.join_date, request_id=idempotency_key,
        ),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/members/{reply.member.id}"
    return MemberOut.from_proto(reply.member)


@router.get("/members", response_model=MemberPage)
async def list_members(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 50, page_token: Annotated[str, Query(max_length=200)] = "",
) -> MemberPage:
    """A page of the county's members, newest first."""
    reply = await gw.clients.registry.ListMembers(
        registry_pb2.ListMembersRequest(page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return MemberPage(members=[MemberOut.from_proto(m) for m in reply.members], next_page_token=reply.next_page_token)


@router.get("/members/{member_id}", response_model=MemberOut)
async def get_member(tenant: TenantDep, member_id: str, who: CallerDep, gw: GatewayDep) -> MemberOut:
    """One member of the county."""
    reply = await gw.clients.registry.GetMember(
        registry_pb2.GetMemberRequest(id=member_id), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return MemberOut.from_proto(reply.member)
