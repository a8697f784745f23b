"""Service desk routes: the queues in the caller's reach, duty on and off, and assigning a ticket (by hand or round
robin among the staff on duty)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field

from jinqiao.desk.v1 import desk_pb2 as pb
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.routes.desk.wire import DutyOut, QueueOut, TicketOut
from jinqiao.gateway.wire import INT32_MAX, Body

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["tickets"])

QueuePath = Annotated[str, Path(max_length=64, description="队列：工作站的组织编号，或 county（县级服务台）")]


class DutyIn(Body):
    """The caller on or off duty in a queue."""

    on_duty: bool = Field(description="true 上班（参与轮流分派），false 下班")
    display_name: str = Field(default="", max_length=30, description="向同事和党员显示的名称，如 张敏（工作站）；"
                                                                     "留空则用登录名")


class AssignIn(Body):
    """Who gets the ticket: a named person of its queue, or the next in turn among the staff on duty (one of the
    two; the desk names ``assignee`` when neither or both are given)."""

    assignee: str = Field(default="", max_length=64, description="处理人的登录名（本人或本队列名单中的人）；"
                                                                "轮流分派时留空")
    round_robin: bool = Field(default=False, description="true：在本队列当前值班人员中轮流分派")
    version: int = Field(default=0, ge=0, le=INT32_MAX, description="工单版本（乐观锁，0 表示不检查）")


@router.get("/ticket-queues", response_model=list[QueueOut])
async def list_queues(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> list[QueueOut]:
    """服务台队列: the queues within the caller's reach with open, unassigned, warned and breached tickets and the
    staff on duty."""
    reply = await gw.clients.desk.ListQueues(pb.ListQueuesRequest(), metadata=who.metadata,
                                             timeout=gw.clients.timeout)
    return [QueueOut.from_proto(q) for q in reply.queues]


@router.get("/ticket-queues/{queue}/duty", response_model=list[DutyOut])
async def list_duty(tenant: TenantDep, queue: QueuePath, who: CallerDep, gw: GatewayDep) -> list[DutyOut]:
    """值班名单: a queue's staff (on duty first) with their open assigned tickets."""
    reply = await gw.clients.desk.ListDuty(pb.ListDutyRequest(queue=queue), metadata=who.metadata,
                                           timeout=gw.clients.timeout)
    return [DutyOut.from_proto(d) for d in reply.entries]


@router.put("/ticket-queues/{queue}/duty", response_model=DutyOut)
async def set_duty(tenant: TenantDep, queue: QueuePath, body: DutyIn, who: CallerDep, gw: GatewayDep) -> DutyOut:
    """上班 / 下班: put the caller on or off duty in a queue (round robin picks among those on duty)."""
    reply = await gw.clients.desk.SetDuty(pb.SetDutyRequest(queue=queue, on_duty=body.on_duty,
                                                            display_name=body.display_name),
                                          metadata=who.metadata, timeout=gw.clients.timeout)
    return DutyOut.from_proto(reply.entry)


@router.post("/tickets/{ticket_id}/assign", response_model=TicketOut)
async def assign_ticket(tenant: TenantDep, ticket_id: str, body: AssignIn, who: CallerDep,
                        gw: GatewayDep) -> TicketOut:
    """分派工单: to a person of the ticket's queue, or round robin among its staff on duty (the one assigned
    longest ago goes next)."""
    reply = await gw.clients.desk.AssignTicket(
        pb.AssignTicketRequest(id=ticket_id, assignee=body.assignee.strip(), round_robin=body.round_robin,
                               version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TicketOut.from_proto(reply.ticket)
