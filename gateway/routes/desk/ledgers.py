"""Service desk routes: the 服务台账 (every ticket of the caller's reach) as a spreadsheet."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Response

from jinqiao.desk.v1 import desk_pb2, tickets_pb2
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.sheets import Fmt, banner_for, download
from jinqiao.kit.clock import CHINA, china_date
from jinqiao.kit.regions import name_of

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["tickets"])

TITLE = "服务台账"
HEADERS = ["序号", "工单号", "登记日期", "党员姓名", "户籍地", "服务类别", "事项", "承办站点", "受理渠道", "状态",
           "承办人", "首次响应", "办结日期", "是否超时", "满意度"]
CHANNEL_LABEL = {tickets_pb2.TICKET_CHANNEL_MEMBER_APP: "党员自助", tickets_pb2.TICKET_CHANNEL_WALK_IN: "窗口受理",
                 tickets_pb2.TICKET_CHANNEL_HOME_COUNTY: "户籍地代办", tickets_pb2.TICKET_CHANNEL_GRID: "网格员",
                 tickets_pb2.TICKET_CHANNEL_REFERRAL: "转办"}
STATUS_LABEL = {tickets_pb2.TICKET_STATUS_NEW: "新建", tickets_pb2.TICKET_STATUS_ACCEPTED: "已受理",
                tickets_pb2.TICKET_STATUS_IN_PROGRESS: "处理中", tickets_pb2.TICKET_STATUS_AWAITING_INFO: "待补充材料",
                tickets_pb2.TICKET_STATUS_RESOLVED: "已办结", tickets_pb2.TICKET_STATUS_REVIEWED: "已回访",
                tickets_pb2.TICKET_STATUS_CLOSED: "已关闭"}
_LATE = (tickets_pb2.SLA_STATE_BREACHED, tickets_pb2.SLA_STATE_MISSED)
PAGE = 200


def _row(i: int, t: tickets_pb2.Ticket) -> list[object]:
    first = next((s for s in t.sla if s.clock == tickets_pb2.SLA_CLOCK_FIRST_RESPONSE and s.HasField("done_time")),
                 None)
    return [
        i, t.number, china_date(t.create_time.ToDatetime(tzinfo=UTC)).isoformat(), t.member_name,
        name_of(t.member_home_tenant_id), t.category_name, t.title, t.serving_org_name,
        CHANNEL_LABEL.get(t.channel, ""), STATUS_LABEL.get(t.status, ""), t.assignee_name or t.assignee,
        # Instants as the county reads them: Beijing's clock.
        first.done_time.ToDatetime(tzinfo=UTC).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if first else "",
        china_date(t.resolve_time.ToDatetime(tzinfo=UTC)).isoformat() if t.HasField("resolve_time") else "",
        "是" if any(s.state in _LATE for s in t.sla) else "否", t.rating or "",
    ]


@router.get("/ledgers/tickets.{fmt}")
async def tickets_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """服务台账: every ticket within the caller's reach, oldest first, every page of it."""
    tickets: list[tickets_pb2.Ticket] = []
    page = 1
    while True:
        reply = await gw.clients.desk.ListTickets(desk_pb2.ListTicketsRequest(page=page, page_size=PAGE),
                                                  metadata=who.metadata, timeout=gw.clients.timeout)
        tickets.extend(reply.tickets)
        if not reply.tickets or len(tickets) >= reply.total:
            break
        page += 1
    tickets.reverse()
    return download(title=TITLE, tenant=tenant, fmt=fmt, headers=HEADERS,
                    rows=[_row(i, t) for i, t in enumerate(tickets, start=1)],
                    banner=await banner_for(gw=gw, who=who, tenant=tenant))
