"""Service desk routes: tickets (工单) and their moves, history, comments, and the county's categories."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from jinqiao.desk.v1 import desk_pb2, tickets_pb2
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.routes.desk.wire import (
    CategoryOut,
    CommentKindName,
    FieldTypeName,
    HistoryEntryOut,
    PriorityName,
    TicketOut,
    TicketPageOut,
    TicketStatusName,
)
from jinqiao.gateway.wire import INT32_MAX, Body, Instant, enum_in

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["tickets"])

StaffChannelName = Literal["walk_in", "home_county", "grid"]
CloseReasonName = Literal["WITHDRAWN", "DUPLICATE", "UNREACHABLE", "OUT_OF_SCOPE"]
SlaFilterName = Literal["warned", "breached", "paused"]


class TicketIn(Body):
    """A request (工单) to file: a member for themself, or staff for a member (walk-in, home county, grid)."""

    category: str = Field(min_length=1, max_length=30, description="服务类别代码，如 legal_wages（讨薪）")
    title: str = Field(max_length=60, description="事项标题，2至60个字")
    description: str = Field(default="", max_length=2000, description="情况说明")
    form: dict[str, Any] = Field(default_factory=dict, description="服务类别表单的填写内容（JSON 对象）")
    member_home_tenant_id: str = Field(default="", max_length=6, description="党员户籍地县级代码（工作人员代为登记时）")
    member_id: str = Field(default="", max_length=36, description="党员编号（工作人员代为登记时）")
    serving_org_id: str = Field(default="", max_length=36, description="承办站点；不填则按服务类别的默认队列")
    channel: StaffChannelName | None = Field(default=None, description="受理渠道：窗口受理、户籍地代办或网格员")
    received_time: Instant | None = Field(default=None, description="补录：党员来访的时间（30天内）")


class AcceptIn(Body):
    """受理 a ticket, with an optional reply to the member."""

    message: str = Field(default="", max_length=2000, description="受理回复（发给党员）")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本（防止覆盖他人的修改）")


class VersionIn(Body):
    """A move that needs only the ticket's version."""

    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本")


class RequestInfoIn(Body):
    """Ask the member for materials (待补充材料)."""

    message: str = Field(max_length=2000, description="需要党员补充的材料（发给党员）")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本")


class ResumeIn(Body):
    """Resume a ticket waiting for materials."""

    note: str = Field(default="", max_length=2000, description="内部备注")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本")


class ResolveIn(Body):
    """办结 a ticket with what was done."""

    resolution: str = Field(max_length=2000, description="办理结果（党员可见）")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本")


class TicketCloseIn(Body):
    """Close a ticket without resolution."""

    reason: CloseReasonName = Field(description="关闭原因：撤回、重复、无法联系、不属于受理范围")
    note: str = Field(default="", max_length=500, description="备注")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本")


class RatingIn(Body):
    """The 满意度回访 of a resolved ticket."""

    score: int = Field(ge=1, le=5, description="满意度，1至5分")
    comment: str = Field(default="", max_length=500, description="评价")


class ReopenIn(Body):
    """Reopen a resolved ticket within its category's period."""

    reason: str = Field(max_length=500, description="重新打开的理由")


class CommentIn(Body):
    """A note (staff only), a reply to the member, or the member's message."""

    kind: CommentKindName = Field(default="member", description="留言类型：内部备注、答复或党员留言")
    body: str = Field(max_length=2000, description="内容")


class CommentOut(BaseModel):
    """The new history entry and the ticket."""

    entry: HistoryEntryOut
    ticket: TicketOut


class FormFieldIn(Body):
    """One field of a category's form."""

    key: str = Field(max_length=30, description="字段标识（小写字母和下划线）")
    label: str = Field(max_length=20, description="字段名称")
    type: FieldTypeName = Field(description="字段类型")
    required: bool = Field(default=False, description="是否必填")
    choices: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=50,
                                                               description="单选项")
    max_length: int = Field(default=0, ge=0, le=2000, description="最大长度（0：默认）")
    min: int | None = Field(default=None, description="最小值")
    max: int | None = Field(default=None, description="最大值")
    help: str = Field(default="", max_length=200, description="填写提示")


class SlaPolicyIn(Body):
    """A category's service levels in working minutes (420 = one working day)."""

    first_response_minutes: int = Field(ge=0, le=1_000_000, description="首次响应时限（工作分钟）")
    assignment_minutes: int = Field(default=0, ge=0, le=1_000_000, description="指派时限（工作分钟）")
    update_minutes: int = Field(default=0, ge=0, le=1_000_000, description="进展更新时限（工作分钟）")
    resolution_minutes: int = Field(ge=0, le=1_000_000, description="办结时限（工作分钟）")
    same_day_first_response: bool = Field(default=False, description="当日响应（讨薪绿色通道）")
    warn_percent: int = Field(default=75, ge=0, le=100, description="到达时限的百分之几时预警（50至95）")


class CategoryIn(Body):
    """A county administrator's settings of a category."""

    name: str = Field(max_length=20, description="类别名称")
    fields: list[FormFieldIn] = Field(default_factory=list, max_length=30, description="表单字段")
    default_queue: Literal["STATION", "COUNTY"] = Field(description="默认队列：站点或县委组织部")
    priority: PriorityName = Field(description="优先级")
    sla: SlaPolicyIn = Field(description="时限")
    enabled: bool = Field(default=True, description="是否启用")
    reopen_days: int = Field(default=15, ge=0, le=365, description="办结后可重新打开的天数（0至90）")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="类别版本")


def _bound(value: int | None) -> int:
    return 0 if value is None else value


@router.post("/tickets", status_code=201, response_model=TicketOut)
async def create_ticket(tenant: TenantDep, body: TicketIn, who: CallerDep, gw: GatewayDep,
                        request_id: RequestIdDep) -> TicketOut:
    """File a request (工单); a retried Idempotency-Key returns the first ticket."""
    request = desk_pb2.CreateTicketRequest(
        category=body.category, title=body.title, description=body.description,
        form_json=json.dumps(body.form, ensure_ascii=False), member_home_tenant_id=body.member_home_tenant_id,
        member_id=body.member_id, serving_org_id=body.serving_org_id,
        channel=enum_in(tickets_pb2.TicketChannel, "TICKET_CHANNEL", body.channel),
        request_id=request_id)
    if body.received_time is not None:
        request.received_time.FromDatetime(body.received_time)
    reply = await gw.clients.desk.CreateTicket(request, metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.get("/tickets", response_model=TicketPageOut)
async def list_tickets(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    status: Annotated[list[TicketStatusName] | None, Query(description="状态（可多选）")] = None,
    category: Annotated[str, Query(max_length=30, description="服务类别")] = "",
    queue: Annotated[str, Query(max_length=36, description="队列：站点编号，或 county（县委组织部）")] = "",
    assignee: Annotated[str, Query(max_length=64, description="承办人：登录名、me（我）或 none（未指派）")] = "",
    sla_state: Annotated[SlaFilterName | None, Query(description="时限状态：预警、超时或暂停")] = None,
    member_id: Annotated[str, Query(max_length=36, description="党员编号")] = "",
    query: Annotated[str, Query(max_length=50, description="关键词：标题、工单号或党员姓名")] = "",
    referred_only: Annotated[bool, Query(description="只看转办来的工单")] = False,
    page: Annotated[int, Query(ge=1, le=100000, description="页码")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50,
) -> TicketPageOut:
    """A page of the tickets within the caller's reach (a member: their own), newest first."""
    reply = await gw.clients.desk.ListTickets(desk_pb2.ListTicketsRequest(
        statuses=[enum_in(tickets_pb2.TicketStatus, "TICKET_STATUS", s) for s in status or []], category=category,
        queue=queue, assignee=assignee,
        sla_state=enum_in(tickets_pb2.SlaState, "SLA_STATE", sla_state), member_id=member_id,
        query=query, page=page, page_size=page_size, referred_only=referred_only),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketPageOut(tickets=[TicketOut.from_proto(t) for t in reply.tickets], total=reply.total)


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(tenant: TenantDep, ticket_id: str, who: CallerDep, gw: GatewayDep) -> TicketOut:
    """One ticket."""
    reply = await gw.clients.desk.GetTicket(desk_pb2.GetTicketRequest(id=ticket_id), metadata=who.metadata,
                                            timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.get("/tickets/{ticket_id}/history", response_model=list[HistoryEntryOut])
async def ticket_history(tenant: TenantDep, ticket_id: str, who: CallerDep, gw: GatewayDep) -> list[HistoryEntryOut]:
    """Every act on a ticket, oldest first (a member never sees internal notes)."""
    reply = await gw.clients.desk.ListTicketHistory(desk_pb2.ListTicketHistoryRequest(id=ticket_id),
                                                    metadata=who.metadata, timeout=gw.clients.timeout)
    return [HistoryEntryOut.from_proto(e) for e in reply.entries]


@router.post("/tickets/{ticket_id}/accept", response_model=TicketOut)
async def accept_ticket(tenant: TenantDep, ticket_id: str, body: AcceptIn, who: CallerDep,
                        gw: GatewayDep) -> TicketOut:
    """受理 a new ticket."""
    reply = await gw.clients.desk.AcceptTicket(
        desk_pb2.AcceptTicketRequest(id=ticket_id, message=body.message, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/start", response_model=TicketOut)
async def start_ticket(tenant: TenantDep, ticket_id: str, body: VersionIn, who: CallerDep,
                       gw: GatewayDep) -> TicketOut:
    """Start work (处理中)."""
    reply = await gw.clients.desk.StartTicket(desk_pb2.StartTicketRequest(id=ticket_id, version=body.version),
                                              metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/request-info", response_model=TicketOut)
async def request_info(tenant: TenantDep, ticket_id: str, body: RequestInfoIn, who: CallerDep,
                       gw: GatewayDep) -> TicketOut:
    """Ask the member for materials; the clocks pause."""
    reply = await gw.clients.desk.RequestTicketInfo(
        desk_pb2.RequestTicketInfoRequest(id=ticket_id, message=body.message, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/resume", response_model=TicketOut)
async def resume_ticket(tenant: TenantDep, ticket_id: str, body: ResumeIn, who: CallerDep,
                        gw: GatewayDep) -> TicketOut:
    """Resume a ticket waiting for materials."""
    reply = await gw.clients.desk.ResumeTicket(
        desk_pb2.ResumeTicketRequest(id=ticket_id, note=body.note, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/resolve", response_model=TicketOut)
async def resolve_ticket(tenant: TenantDep, ticket_id: str, body: ResolveIn, who: CallerDep,
                         gw: GatewayDep) -> TicketOut:
    """办结 a ticket."""
    reply = await gw.clients.desk.ResolveTicket(
        desk_pb2.ResolveTicketRequest(id=ticket_id, resolution=body.resolution, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/close", response_model=TicketOut)
async def close_ticket(tenant: TenantDep, ticket_id: str, body: TicketCloseIn, who: CallerDep,
                       gw: GatewayDep) -> TicketOut:
    """Close a ticket without resolution."""
    reply = await gw.clients.desk.CloseTicket(
        desk_pb2.CloseTicketRequest(id=ticket_id, reason=body.reason, note=body.note, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/rating", response_model=TicketOut)
async def rate_ticket(tenant: TenantDep, ticket_id: str, body: RatingIn, who: CallerDep,
                      gw: GatewayDep) -> TicketOut:
    """Record the 满意度回访."""
    reply = await gw.clients.desk.RateTicket(
        desk_pb2.RateTicketRequest(id=ticket_id, score=body.score, comment=body.comment),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/reopen", response_model=TicketOut)
async def reopen_ticket(tenant: TenantDep, ticket_id: str, body: ReopenIn, who: CallerDep,
                        gw: GatewayDep) -> TicketOut:
    """Reopen a resolved ticket."""
    reply = await gw.clients.desk.ReopenTicket(desk_pb2.ReopenTicketRequest(id=ticket_id, reason=body.reason),
                                               metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)


@router.post("/tickets/{ticket_id}/comments", status_code=201, response_model=CommentOut)
async def add_comment(tenant: TenantDep, ticket_id: str, body: CommentIn, who: CallerDep,
                      gw: GatewayDep) -> CommentOut:
    """Add a note, a reply, or the member's message (which resumes a ticket waiting for materials)."""
    reply = await gw.clients.desk.AddTicketComment(
        desk_pb2.AddTicketCommentRequest(id=ticket_id, body=body.body,
                                         kind=enum_in(tickets_pb2.CommentKind, "COMMENT_KIND", body.kind)),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return CommentOut(entry=HistoryEntryOut.from_proto(reply.entry), ticket=TicketOut.from_proto(reply.ticket))


@router.get("/ticket-categories", response_model=list[CategoryOut])
async def list_categories(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    include_disabled: Annotated[bool, Query(description="包括已停用的类别（县委组织部）")] = False,
) -> list[CategoryOut]:
    """The county's categories with their forms, queues, priorities and SLA policies."""
    reply = await gw.clients.desk.ListTicketCategories(
        desk_pb2.ListTicketCategoriesRequest(include_disabled=include_disabled), metadata=who.metadata,
        timeout=gw.clients.timeout)
    return [CategoryOut.from_proto(c) for c in reply.categories]


@router.put("/ticket-categories/{category}", response_model=CategoryOut)
async def update_category(tenant: TenantDep, category: str, body: CategoryIn, who: CallerDep,
                          gw: GatewayDep) -> CategoryOut:
    """Change a category of the county (its form, queue, priority, SLA policy, enabled)."""
    message = tickets_pb2.TicketCategory(
        code=category, name=body.name, default_queue=body.default_queue,
        priority=enum_in(tickets_pb2.TicketPriority, "TICKET_PRIORITY", body.priority), enabled=body.enabled,
        reopen_days=body.reopen_days, version=body.version,
        sla=tickets_pb2.SlaPolicy(**body.sla.model_dump()),
        fields=[tickets_pb2.FormField(key=f.key, label=f.label,
                                      type=enum_in(tickets_pb2.FieldType, "FIELD_TYPE", f.type),
                                      required=f.required, choices=f.choices, max_length=f.max_length,
                                      min=_bound(f.min), max=_bound(f.max), help=f.help) for f in body.fields])
    reply = await gw.clients.desk.UpdateTicketCategory(desk_pb2.UpdateTicketCategoryRequest(category=message),
                                                       metadata=who.metadata, timeout=gw.clients.timeout)
    return CategoryOut.from_proto(reply.category)
