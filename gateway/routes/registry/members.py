"""Members of a county: ``/api/v1/tenants/{tenant}/members…`` over the registry's gRPC API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.sheets import PAGE, XLSX, banner_for, download
from jinqiao.gateway.wire import Body, enum_in
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import flows_pb2, registry_pb2

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["members"])

_STATUS_IN = {"probationary": registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY, "full": registry_pb2.MEMBERSHIP_STATUS_FULL}
_STATUS_OUT = {v: k for k, v in _STATUS_IN.items()}
_GENDER_OUT = {registry_pb2.GENDER_MALE: "male", registry_pb2.GENDER_FEMALE: "female"}
_GENDER_IN = {v: k for k, v in _GENDER_OUT.items()}
FlowStatusName = Literal["registered", "offered", "refused", "managed", "returned", "transferred"]


def flow_status_in(name: str) -> flows_pb2.FlowStatus.ValueType:
    """``offered`` → FLOW_STATUS_OFFERED."""
    return flows_pb2.FlowStatus.Value(f"FLOW_STATUS_{name.upper()}")


def flow_status_out(value: flows_pb2.FlowStatus.ValueType) -> str:
    """FLOW_STATUS_OFFERED → ``offered``."""
    return flows_pb2.FlowStatus.Name(value).removeprefix("FLOW_STATUS_").lower()


class MemberIn(Body):
    """A new member; the ID number is checked by the registry (GB 11643)."""

    name: str = Field(min_length=1, max_length=50, description="姓名")
    id_number: str = Field(min_length=1, max_length=32, description="公民身份号码")
    phone: str = Field(default="", max_length=32, description="手机号码")
    # Published without it at first: added later, so optional with the common case as its default.
    membership_status: Literal["probationary", "full"] = Field(
        default="full", description="预备党员 / 正式党员（默认 正式党员）")
    township: str = Field(default="", max_length=100, description="乡镇")
    village: str = Field(default="", max_length=100, description="村(社区)")
    occupation: str = Field(default="", max_length=100, description="职业")
    join_date: str = Field(default="", max_length=10, description="入党日期 YYYY-MM-DD")
    ethnicity: str = Field(default="", max_length=10, description="民族")
    education: str = Field(default="", max_length=10, description="学历")
    home_branch_id: str = Field(default="", max_length=36, description="所在党支部")
    household_address: str = Field(default="", max_length=200, description="户籍地址")
    full_member_date: str = Field(default="", max_length=10, description="转正日期 YYYY-MM-DD")
    gender: Literal["male", "female"] | None = Field(default=None, description="性别（须与身份证号一致）")
    birth_date: str = Field(default="", max_length=10, description="出生日期（须与身份证号一致）")


class MemberPatch(Body):
    """Fields to change; only those given are changed, and ``version`` must be the one last seen."""

    version: int = Field(ge=1)
    name: str | None = Field(default=None, min_length=1, max_length=50)
    phone: str | None = Field(default=None, max_length=32)
    membership_status: Literal["probationary", "full"] | None = None
    township: str | None = Field(default=None, max_length=100)
    village: str | None = Field(default=None, max_length=100)
    occupation: str | None = Field(default=None, max_length=100)
    ethnicity: str | None = Field(default=None, max_length=10)
    education: str | None = Field(default=None, max_length=10)
    home_branch_id: str | None = Field(default=None, max_length=36)
    household_address: str | None = Field(default=None, max_length=200)
    full_member_date: str | None = Field(default=None, max_length=10)
    join_date: str | None = Field(default=None, max_length=10)


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
    ethnicity: str
    education: str
    home_branch_id: str | None
    household_address: str
    full_member_date: str | None
    flow_id: str | None
    flow_status: str | None
    destination_code: str | None
    destination_name: str | None
    industry: str

    @classmethod
    def from_proto(cls, m: registry_pb2.Member) -> MemberOut:
        """Map the wire form."""
        return cls(
            id=m.id, tenant_id=m.tenant_id, name=m.name, gender=_GENDER_OUT.get(m.gender, "unspecified"),
            birth_date=m.birth_date, id_number_masked=m.id_number_masked, phone_masked=m.phone_masked,
            membership_status=_STATUS_OUT.get(m.membership_status, "unspecified"), township=m.township,
            village=m.village, occupation=m.occupation, join_date=m.join_date or None,
            created_at=m.create_time.ToDatetime(tzinfo=UTC), version=m.version, ethnicity=m.ethnicity,
            education=m.education, home_branch_id=m.home_branch_id or None, household_address=m.household_address,
            full_member_date=m.full_member_date or None, flow_id=m.flow_id or None,
            flow_status=flow_status_out(m.flow_status) if m.flow_status else None,
            destination_code=m.destination_code or None,
            destination_name=name_of(m.destination_code) if m.destination_code else None, industry=m.industry,
        )


class MemberPage(BaseModel):
    """One page of members."""

    members: list[MemberOut]
    next_page_token: str
    total: int = Field(default=0, description="符合条件的党员总数（所有页）")
    page: int | None = Field(default=None, description="按页码翻页时的当前页码")


SortName = Literal["name", "-name", "join_date", "-join_date", "created_at", "-created_at", "updated_at",
                   "-updated_at", "township", "-township"]


class RosterQuery(BaseModel):
    """The roster's filters, shared by the list and its XLSX export."""

    name: str = ""
    id_number: str = ""
    township: str = ""
    membership_status: Literal["probationary", "full"] | None = None
    flow_status: FlowStatusName | None = None
    destination_code: str = ""
    industry: str = ""
    away: bool = False
    sort: SortName | None = None

    def request(self, **paging: object) -> registry_pb2.ListMembersRequest:
        """The gRPC request of this query and the given paging fields."""
        return registry_pb2.ListMembersRequest(
            name_contains=self.name, id_number=self.id_number, township=self.township,
            membership_status=_STATUS_IN[self.membership_status] if self.membership_status
            else registry_pb2.MEMBERSHIP_STATUS_UNSPECIFIED,
            flow_status=flow_status_in(self.flow_status) if self.flow_status else flows_pb2.FLOW_STATUS_UNSPECIFIED,
            destination_code=self.destination_code, industry=self.industry, away_only=self.away,
            order_by=self.sort or "", **paging,  # type: ignore[arg-type]
        )


def roster_query(
    name: Annotated[str, Query(max_length=50, description="姓名（部分）")] = "",
    id_number: Annotated[str, Query(max_length=18, description="身份证号（精确，经盲索引查找）")] = "",
    township: Annotated[str, Query(max_length=100, description="乡镇(街道)")] = "",
    membership_status: Annotated[Literal["probationary", "full"] | None,
                                 Query(description="党员类别：预备党员 / 正式党员")] = None,
    flow_status: Annotated[FlowStatusName | None, Query(description="流动状态")] = None,
    destination_code: Annotated[str, Query(max_length=6, description="流入地（行政区划代码）")] = "",
    industry: Annotated[str, Query(max_length=100, description="行业（部分）")] = "",
    away: Annotated[bool, Query(description="只看外出党员")] = False,
    sort: Annotated[SortName | None, Query(description="排序：字段名，前加 - 为倒序（默认 -created_at）")] = None,
) -> RosterQuery:
    """The roster's filters from the query string."""
    return RosterQuery(name=name, id_number=id_number, township=township, membership_status=membership_status,
                       flow_status=flow_status, destination_code=destination_code, industry=industry, away=away,
                       sort=sort)


RosterQueryDep = Annotated[RosterQuery, Depends(roster_query)]


@router.post("/members", status_code=201, response_model=MemberOut)
async def create_member(
    tenant: TenantDep, body: MemberIn, who: CallerDep, gw: GatewayDep, response: Response,
    idempotency_key: RequestIdDep,
) -> MemberOut:
    """Register a member (登记党员); repeat with the same Idempotency-Key to retry safely."""
    reply = await gw.clients.registry.CreateMember(
        registry_pb2.CreateMemberRequest(
            name=body.name, id_number=body.id_number, phone=body.phone,
            membership_status=_STATUS_IN[body.membership_status], township=body.township, village=body.village,
            occupation=body.occupation, join_date=body.join_date, request_id=idempotency_key,
            ethnicity=body.ethnicity, education=body.education, home_branch_id=body.home_branch_id,
            household_address=body.household_address, full_member_date=body.full_member_date,
            gender=_GENDER_IN.get(body.gender or "", registry_pb2.GENDER_UNSPECIFIED), birth_date=body.birth_date,
        ),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/members/{reply.member.id}"
    return MemberOut.from_proto(reply.member)


@router.get("/members", response_model=MemberPage)
async def list_members(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep, q: RosterQueryDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 50, page_token: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int | None, Query(ge=1, le=100_000, description="页码（从 1 开始；给出时按页码翻页）")] = None,
) -> MemberPage:
    """A page of the members the caller reaches (the county department: the county; a township committee, a guidance
    office, a branch: members whose home branch lies in its reach), searched by name, ID number, township, 党员类别,
    flow, destination and industry, sorted, with the total; paged by token or by page number."""
    reply = await gw.clients.registry.ListMembers(
        q.request(page_size=page_size, page_token=page_token, page=page or 0),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return MemberPage(members=[MemberOut.from_proto(m) for m in reply.members], next_page_token=reply.next_page_token,
                      total=reply.total_size, page=page)


ROSTER_TITLE = "党员名册"
ROSTER_HEADERS = [
    "序号", "姓名", "性别", "民族", "出生日期", "身份证号", "手机号码", "学历", "党员类别", "入党日期", "转正日期",
    "乡镇(街道)", "村(社区)", "户籍地址", "职业", "流动状态", "流入地", "行业",
]
_GENDER_LABEL = {registry_pb2.GENDER_MALE: "男", registry_pb2.GENDER_FEMALE: "女"}
_STATUS_LABEL = {registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY: "预备党员",
                 registry_pb2.MEMBERSHIP_STATUS_FULL: "正式党员"}
FLOW_STATUS_LABEL = {
    flows_pb2.FLOW_STATUS_REGISTERED: "已外出登记，待接收", flows_pb2.FLOW_STATUS_OFFERED: "已接收，待报到",
    flows_pb2.FLOW_STATUS_REFUSED: "未接收，待重新安排", flows_pb2.FLOW_STATUS_MANAGED: "已报到",
    flows_pb2.FLOW_STATUS_RETURNED: "已回归", flows_pb2.FLOW_STATUS_TRANSFERRED: "已转出",
}
# A roster larger than this is exported by township (a spreadsheet of it would not open on an office computer).
EXPORT_MAX = 50_000


def roster_rows(members: list[registry_pb2.Member]) -> list[list[object]]:
    """The roster's rows: masked ID and phone numbers exactly as the caller sees them, labels in Chinese."""
    return [[
        i, m.name, _GENDER_LABEL.get(m.gender, ""), m.ethnicity, m.birth_date, m.id_number_masked, m.phone_masked,
        m.education, _STATUS_LABEL.get(m.membership_status, ""), m.join_date, m.full_member_date, m.township,
        m.village, m.household_address, m.occupation, FLOW_STATUS_LABEL.get(m.flow_status, "未外出"),
        name_of(m.destination_code) if m.destination_code else "", m.industry,
    ] for i, m in enumerate(members, start=1)]


@router.get("/members.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "党员名册（XLSX）"}})
async def export_members(tenant: TenantDep, who: CallerDep, gw: GatewayDep, q: RosterQueryDep) -> Response:
    """The filtered roster as an XLSX 名册 (title, 填报单位, 导出日期 in Beijing time); ID and phone numbers masked as
    the caller sees them. The export is audited (who, which filters, how many)."""
    members: list[registry_pb2.Member] = []
    token = ""
    while True:
        reply = await gw.clients.registry.ListMembers(
            q.request(page_size=PAGE, page_token=token, for_export=not token),
            metadata=who.metadata, timeout=gw.clients.timeout)
        members.extend(reply.members)
        token = reply.next_page_token
        if not token or len(members) >= EXPORT_MAX:
            break
    banner = await banner_for(gw=gw, who=who, tenant=tenant)
    return download(title=ROSTER_TITLE, tenant=tenant, fmt="xlsx", headers=ROSTER_HEADERS,
                    rows=roster_rows(members), banner=banner)


@router.get("/members/{member_id}", response_model=MemberOut)
async def get_member(tenant: TenantDep, member_id: str, who: CallerDep, gw: GatewayDep) -> MemberOut:
    """One member of the county."""
    reply = await gw.clients.registry.GetMember(
        registry_pb2.GetMemberRequest(id=member_id), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return MemberOut.from_proto(reply.member)


@router.patch("/members/{member_id}", response_model=MemberOut)
async def update_member(tenant: TenantDep, member_id: str, body: MemberPatch, who: CallerDep,
                        gw: GatewayDep) -> MemberOut:
    """Change a member's facts (every change is kept in the history)."""
    given = body.model_dump(exclude_unset=True, exclude={"version"})
    request = registry_pb2.UpdateMemberRequest(id=member_id, version=body.version, update_mask=list(given))
    for field, value in given.items():
        if field == "membership_status":
            # An explicit null is UNSPECIFIED: the registry refuses it, naming the field.
            request.membership_status = enum_in(registry_pb2.MembershipStatus, "MEMBERSHIP_STATUS", value)
        elif value is not None:
            setattr(request, field, value)
    reply = await gw.clients.registry.UpdateMember(request, metadata=who.metadata, timeout=gw.clients.timeout)
    return MemberOut.from_proto(reply.member)


class FieldChangeOut(BaseModel):
    """One field's old and new value (ID and phone numbers masked)."""

    field: str
    old_value: str
    new_value: str


class MemberChangeOut(BaseModel):
    """One recorded change."""

    version: int
    changed_at: datetime
    actor: str
    fields: list[FieldChangeOut]


@router.get("/members/{member_id}/history", response_model=list[MemberChangeOut])
async def member_history(tenant: TenantDep, member_id: str, who: CallerDep, gw: GatewayDep) -> list[MemberChangeOut]:
    """A member's recorded changes, newest first."""
    reply = await gw.clients.registry.ListMemberHistory(
        registry_pb2.ListMemberHistoryRequest(id=member_id), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return [MemberChangeOut(version=c.version, changed_at=c.change_time.ToDatetime(tzinfo=UTC), actor=c.actor,
                            fields=[FieldChangeOut(field=f.field, old_value=f.old_value, new_value=f.new_value)
                                    for f in c.fields]) for c in reply.changes]


class RevealIn(Body):
    """Why the full ID number is needed (kept in the audit log)."""

    reason: str = Field(min_length=1, max_length=200)


class RevealOut(BaseModel):
    """The full ID number; shown once, never cached."""

    id_number: str


@router.post("/members/{member_id}/reveal-id-number", response_model=RevealOut)
async def reveal_id_number(tenant: TenantDep, member_id: str, body: RevealIn, who: CallerDep, gw: GatewayDep,
                           response: Response) -> RevealOut:
    """Unmask a member's ID number for a stated reason; the read is audited."""
    reply = await gw.clients.registry.RevealIdNumber(
        registry_pb2.RevealIdNumberRequest(id=member_id, reason=body.reason), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    response.headers["Cache-Control"] = "no-store"
    return RevealOut(id_number=reply.id_number)
