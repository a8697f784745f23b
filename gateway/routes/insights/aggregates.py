"""Aggregates of a scope: ``/api/v1/scopes/{scope}/insights/…`` over the insights gRPC API.

For a scope wider than a county the insights service suppresses small counts (DESIGN §5): a suppressed figure
keeps its type and reads 0, beside an explicit ``suppressed`` flag and the text to show (``"<3"``); totals add up
the published figures only and say when they leave one out. A county's own scope sees its exact figures.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit.errors import Unauthenticated
from jinqiao.kit.regions import name_of

router = APIRouter(prefix="/api/v1/scopes/{scope}/insights", tags=["insights"])


class CountyMembers(BaseModel):
    """One county's member count."""

    tenant_id: str
    name: str
    members: int = Field(description="0 when suppressed")
    updated_at: datetime
    suppressed: bool = Field(default=False, description="below the threshold of a scope wider than a county")
    display: str = Field(default="", description='how the count reads: the number, or "<3" when suppressed')


class MemberCounts(BaseModel):
    """Members per county inside a scope; counts only, never persons."""

    scope: str
    scope_name: str
    total: int = Field(description="the sum of the published counts only")
    counties: list[CountyMembers]
    total_partial: bool = Field(default=False, description="total leaves out a suppressed county")
    threshold: int = Field(default=0, description="counts below this are suppressed; 0: exact (own county)")


@router.get("/members", response_model=MemberCounts)
async def member_counts(scope: str, who: CallerDep, gw: GatewayDep) -> MemberCounts:
    """Registered members per county (a scope outside the caller's answers 404)."""
    reply = await gw.clients.insights.GetMemberCounts(
        insights_pb2.GetMemberCountsRequest(scope=scope), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return MemberCounts(
        scope=reply.scope, scope_name=name_of(reply.scope), total=reply.total, total_partial=reply.total_partial,
        threshold=reply.threshold,
        counties=[
            CountyMembers(tenant_id=c.tenant_id, name=name_of(c.tenant_id), members=c.members,
                          updated_at=c.update_time.ToDatetime(tzinfo=UTC), suppressed=c.suppressed,
                          display=c.display or str(c.members))
            for c in reply.counties
        ],
    )


class FlowCellOut(BaseModel):
    """Flows registered from one origin to one destination in one month and industry."""

    origin_tenant_id: str
    origin_name: str
    destination_code: str
    destination_name: str
    month: str
    industry: str
    flows: int = Field(description="0 when suppressed")
    suppressed: bool = Field(default=False, description="below the threshold of a scope wider than a county")
    display: str = Field(default="", description='how the count reads: the number, or "<3" when suppressed')


class CoverageOut(BaseModel):
    """One origin's open flows: away, offered, managed (checked in), overdue 报到, managed / away."""

    origin_tenant_id: str
    origin_name: str
    away: int
    offered: int
    managed: int
    overdue_check_ins: int
    coverage: float
    suppressed_fields: list[str] = Field(
        default_factory=list,
        description="figures suppressed (each reads 0): small, or a small count could be derived from them",
    )
    display: dict[str, str] = Field(
        default_factory=dict,
        description='how each figure reads: the number, or "<3" (the whole row is small) or "*" when suppressed',
    )


class UnorganisedOut(BaseModel):
    """A destination where 3 or more members of one origin are held by no organisation: found a 临时党支部."""

    origin_tenant_id: str
    origin_name: str
    destination_code: str
    destination_name: str
    members: int = Field(description="0 when suppressed")
    suppressed: bool = Field(default=False, description="a scope wider than a county learns the place, not the count")
    display: str = Field(default="", description='how the count reads: the number, or "≥3" when suppressed')


class FlowMatrixOut(BaseModel):
    """The origin → destination matrix of a scope; counts only, never persons."""

    scope: str
    scope_name: str
    from_month: str
    to_month: str
    industry: str
    total_away: int
    total_managed: int
    total_overdue: int
    total_coverage: float
    cells: list[FlowCellOut]
    coverage: list[CoverageOut]
    unorganised: list[UnorganisedOut]
    partial_totals: list[str] = Field(default_factory=list, description="totals that leave out a suppressed figure")
    threshold: int = Field(default=0, description="counts below this are suppressed; 0: exact (own county)")
    coverage_filtered: bool = Field(
        default=True,
        description="coverage, totals and unorganised places follow the filters (false in a suppressed view)",
    )


@router.get("/flows", response_model=FlowMatrixOut)
async def flow_matrix(
    scope: str, who: CallerDep, gw: GatewayDep, from_month: str = "", to_month: str = "", industry: str = ""
) -> FlowMatrixOut:
    """Flows by origin, destination, month and industry, with coverage (a scope outside the caller's answers 404)."""
    reply = await gw.clients.insights.GetFlowMatrix(
        insights_pb2.GetFlowMatrixRequest(scope=scope, from_month=from_month, to_month=to_month, industry=industry),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return FlowMatrixOut(
        scope=reply.scope, scope_name=name_of(reply.scope), from_month=from_month.strip(), to_month=to_month.strip(),
        industry=industry.strip(), total_away=reply.total_away, total_managed=reply.total_managed,
        total_overdue=reply.total_overdue, total_coverage=reply.total_coverage,
        partial_totals=list(reply.partial_totals), threshold=reply.threshold, coverage_filtered=reply.coverage_filtered,
        cells=[
            FlowCellOut(origin_tenant_id=c.origin_tenant_id, origin_name=name_of(c.origin_tenant_id),
                        destination_code=c.destination_code, destination_name=name_of(c.destination_code),
                        month=c.month, industry=c.industry, flows=c.flows, suppressed=c.suppressed,
                        display=c.display or str(c.flows))
            for c in reply.cells
        ],
        coverage=[
            CoverageOut(origin_tenant_id=c.origin_tenant_id, origin_name=name_of(c.origin_tenant_id), away=c.away,
                        offered=c.offered, managed=c.managed, overdue_check_ins=c.overdue_check_ins,
                        coverage=c.coverage, suppressed_fields=list(c.suppressed_fields), display=dict(c.display))
            for c in reply.coverage
        ],
        unorganised=[
            UnorganisedOut(origin_tenant_id=u.origin_tenant_id, origin_name=name_of(u.origin_tenant_id),
                           destination_code=u.destination_code, destination_name=name_of(u.destination_code),
                           members=u.members, suppressed=u.suppressed, display=u.display or str(u.members))
            for u in reply.unorganised
        ],
    )


# ------------------------------------------------------------------------------------------------ dashboard

class FigureOut(BaseModel):
    """A published figure: the sum of the published cells it is made of."""

    value: int = Field(description="已公开单元格之和（被抑制的小单元格按 0 计）")
    hidden_cells: int = Field(default=0, description="因人数过少（小于阈值）而未计入的单元格数")
    display: str = Field(description="显示文本：数字；仅含小单元格时为“<3”；部分单元格未计入时为“12+”")


class AreaOut(BaseModel):
    """One area's figures (the scope, a city or a county)."""

    code: str = Field(description="区划代码：省 2 位、市 4 位、县 6 位")
    name: str = Field(description="区划名称")
    members: FigureOut = Field(description="登记党员数")
    away: FigureOut = Field(description="外出（流动）党员数：未结束的外出登记")
    managed: FigureOut = Field(description="已在流入地报到、纳入管理的人数")
    overdue_check_ins: FigureOut = Field(description="报到逾期人数")
    returned_this_year: FigureOut = Field(description="本年返乡人数")
    coverage: float = Field(description="报到率：已报到 ÷ 外出，只计两项都公开的县")
    coverage_partial: bool = Field(default=False, description="报到率未计入某个数字被抑制的县")


class LinkOut(BaseModel):
    """Flows from one area of the level shown to one destination city (or a municipality)."""

    origin_code: str = Field(description="流出地：省视图为市（4 位），市、县视图为县（6 位）")
    origin_name: str
    destination_code: str = Field(description="流入地城市（6 位，以 00 结尾；直辖市为 xx0000）")
    destination_name: str
    in_province: bool = Field(description="流入地在本省内")
    flows: FigureOut = Field(description="外出登记数")


class MonthOut(BaseModel):
    """One month of the trends."""

    month: str = Field(description="月份 YYYY-MM（北京时间）")
    registered: FigureOut = Field(description="当月开始外出的登记数")
    checked_in: FigureOut = Field(description="当月首次报到人数")
    returned: FigureOut = Field(description="当月返乡人数")


class DashboardOut(BaseModel):
    """A scope's dashboard: figures, the next level down, flows, trends; counts only, never persons."""

    scope: str
    scope_name: str
    level: str = Field(description="province、city 或 county")
    parent: str = Field(description="上一级区划代码（省为空）")
    total: AreaOut
    children: list[AreaOut] = Field(description="下一级：省的各市、市的各县，县视图为该县本身")
    counties: list[AreaOut] = Field(description="范围内有数据的每个县")
    links: list[LinkOut] = Field(description="流向：由多到少")
    months: list[MonthOut] = Field(description="近 12 个月，由早到晚")
    threshold: int = Field(description="小于此数的单元格被抑制；0 为精确数字（本县）")
    version: str = Field(description="数据版本标记：数字可能变化时随之变化")


_LEVELS = {2: "province", 4: "city", 6: "county"}


def area_name(code: str) -> str:
    """A division's name; a city's six-digit code (``410100``) is named as its four-digit prefix."""
    known = name_of(code)
    if known == code and len(code) == 6 and code.endswith("00"):
        shorter = name_of(code[:4])
        return shorter if shorter != code[:4] else code
    return known


def _figure(figure: insights_pb2.Figure) -> FigureOut:
    return FigureOut(value=figure.value, hidden_cells=figure.hidden_cells, display=figure.display)


def _area_out(area: insights_pb2.AreaFigures) -> AreaOut:
    return AreaOut(code=area.code, name=area_name(area.code), members=_figure(area.members),
                   away=_figure(area.away), managed=_figure(area.managed),
                   overdue_check_ins=_figure(area.overdue_check_ins),
                   returned_this_year=_figure(area.returned_this_year), coverage=area.coverage,
                   coverage_partial=area.coverage_partial)


@router.get("/dashboard", response_model=DashboardOut)
async def dashboard(scope: str, who: CallerDep, gw: GatewayDep, to_month: str = "") -> DashboardOut:
    """统计大屏：范围内的汇总数字、下一级分布、流向与近 12 个月趋势（范围外的区域答 404）。"""
    reply = await gw.clients.insights.GetDashboard(
        insights_pb2.GetDashboardRequest(scope=scope, to_month=to_month), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    province = reply.scope[:2]
    return DashboardOut(
        scope=reply.scope, scope_name=name_of(reply.scope), level=_LEVELS.get(len(reply.scope), "county"),
        parent="" if len(reply.scope) <= 2 else reply.scope[: len(reply.scope) - 2],
        total=_area_out(reply.total), children=[_area_out(a) for a in reply.children],
        counties=[_area_out(a) for a in reply.counties],
        links=[LinkOut(origin_code=k.origin_code, origin_name=area_name(k.origin_code),
                       destination_code=k.destination_code, destination_name=area_name(k.destination_code),
                       in_province=k.destination_code[:2] == province, flows=_figure(k.flows))
               for k in reply.links],
        months=[MonthOut(month=m.month, registered=_figure(m.registered), checked_in=_figure(m.checked_in),
                         returned=_figure(m.returned)) for m in reply.months],
        threshold=reply.threshold, version=reply.version,
    )


# The live stream polls the scope's version mark once per interval for all its listeners together (one cheap
# query per scope, not per tab), re-verifies each listener's token every tick and ends its stream when the token
# expires or its session is logged out; the console then refreshes the token and reconnects.
STREAM_INTERVAL = 5.0


class _Versions:
    """The latest version mark per scope, fetched at most once per interval whoever asks."""

    def __init__(self) -> None:
        self._marks: dict[str, tuple[float, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, scope: str, fetch: Callable[[], Awaitable[str]], *, max_age: float) -> str:
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            cached = self._marks.get(scope)
            now = time.monotonic()
            if cached is not None and now - cached[0] < max_age:
                return cached[1]
            mark = await fetch()
            self._marks[scope] = (time.monotonic(), mark)
            return mark


_versions = _Versions()


def _sse(event: str, data: dict[str, object]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}})
async def stream(scope: str, who: CallerDep, gw: GatewayDep, request: Request) -> StreamingResponse:
    """实时刷新（SSE）：数字可能变化时发 ``changed``，否则每 5 秒发 ``ping``；凭证过期或退出登录即结束。"""

    async def fetch() -> str:
        reply = await gw.clients.insights.GetDashboardVersion(
            insights_pb2.GetDashboardVersionRequest(scope=scope), metadata=who.metadata, timeout=gw.clients.timeout,
        )
        return str(reply.version)

    # Asked with the caller's own token first: a scope outside theirs answers 404 before the stream opens.
    first = await fetch()

    # A client that does not ask for a stream (no ``Accept: text/event-stream``) gets the version and the end.
    streaming = "text/event-stream" in request.headers.get("accept", "")

    async def events() -> AsyncIterator[bytes]:
        seen = first
        yield b"retry: 3000\n\n"
        yield _sse("version", {"version": seen})
        while streaming:
            await asyncio.sleep(STREAM_INTERVAL)
            if await request.is_disconnected():
                return
            try:
                gw.verifier.verify(who.token)
            except Unauthenticated:
                yield _sse("end", {"reason": "身份凭证已过期或已退出登录"})
                return
            mark = await _versions.get(scope, fetch, max_age=STREAM_INTERVAL / 2)
            if mark != seen:
                seen = mark
                yield _sse("changed", {"version": mark})
            else:
                yield _sse("ping", {"version": mark})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------------------------------------------ tickets

class TicketFiguresOut(BaseModel):
    """服务台工单数字：每个数字都是已公开单元格（县 × 月 × 事项大类 × 服务站）之和。"""

    opened: FigureOut = Field(description="受理（新建）工单数")
    resolved: FigureOut = Field(description="办结次数")
    resolution_met: FigureOut = Field(description="在办结时限内办结的次数")
    first_response_met: FigureOut = Field(description="首次响应在时限内的办结次数")
    breached: FigureOut = Field(description="首次超时的工单数（每张工单只计一次，计入首次超时的月份）")
    rated: FigureOut = Field(description="已回访评价数")
    reopened: FigureOut = Field(description="重新打开次数")
    sla_attainment: float = Field(description="办结时限达标率：时限内办结 ÷ 办结，只计两项都公开的单元格")
    sla_attainment_display: str = Field(description="如“92.3%”；无可计算的单元格时为“—”")
    sla_attainment_partial: bool = Field(description="达标率未计入被抑制的单元格")
    first_response_attainment: float = Field(description="首次响应达标率")
    first_response_attainment_display: str
    first_response_attainment_partial: bool
    satisfaction: str = Field(description="满意度平均分（1–5，四舍五入到一位小数）；无评价时为“—”")
    satisfaction_partial: bool = Field(description="平均分未计入评价数被抑制的单元格")


class TicketRowOut(BaseModel):
    """一行：一个县、一个服务站（或县本级队列）或一个事项大类。"""

    key: str = Field(description="县代码、服务站组织 ID（县本级队列为 county）或事项大类")
    name: str = Field(description="县名、服务站名或事项大类")
    figures: TicketFiguresOut


class TicketStatsOut(BaseModel):
    """范围内的服务台工单统计：只有数字，没有工单或人员。"""

    scope: str
    scope_name: str
    level: str = Field(description="province、city 或 county")
    since_month: str = Field(description="起始月份 YYYY-MM（空为不限）")
    until_month: str = Field(description="结束月份 YYYY-MM（空为不限）")
    total: TicketFiguresOut
    counties: list[TicketRowOut] = Field(description="各县")
    stations: list[TicketRowOut] = Field(description="县视图下的各服务站（更大范围为空）")
    groups: list[TicketRowOut] = Field(description="各事项大类，工单多的在前")
    current_month: str = Field(description="本月（北京时间）")
    breached_this_month: FigureOut = Field(description="本月首次超时的工单数（不受月份范围影响）")
    threshold: int = Field(description="小于此数的单元格被抑制；0 为精确数字（本县）")


def _ticket_figures(f: insights_pb2.TicketFigures) -> TicketFiguresOut:
    return TicketFiguresOut(
        opened=_figure(f.opened), resolved=_figure(f.resolved), resolution_met=_figure(f.resolution_met),
        first_response_met=_figure(f.first_response_met), breached=_figure(f.breached), rated=_figure(f.rated),
        reopened=_figure(f.reopened), sla_attainment=f.sla_attainment,
        sla_attainment_display=f.sla_attainment_display or "—", sla_attainment_partial=f.sla_attainment_partial,
        first_response_attainment=f.first_response_attainment,
        first_response_attainment_display=f.first_response_attainment_display or "—",
        first_response_attainment_partial=f.first_response_attainment_partial,
        satisfaction=f.satisfaction or "—", satisfaction_partial=f.satisfaction_partial,
    )


_COUNTY_QUEUE_NAME = "县本级"
_MONTH_OR_EMPTY = r"^([0-9]{4}-(0[1-9]|1[0-2]))?$"


@router.get("/tickets", response_model=TicketStatsOut)
async def ticket_stats(
    scope: str, who: CallerDep, gw: GatewayDep,
    since: Annotated[str, Query(pattern=_MONTH_OR_EMPTY, description="起始月份 YYYY-MM（北京时间，含）")] = "",
    until: Annotated[str, Query(pattern=_MONTH_OR_EMPTY, description="结束月份 YYYY-MM（北京时间，含）")] = "",
) -> TicketStatsOut:
    """服务台工单统计：各县（县视图下各服务站）、各事项大类与合计；省、市视图抑制小单元格（范围外的区域答 404）。"""
    reply = await gw.clients.insights.GetTicketStats(
        insights_pb2.GetTicketStatsRequest(scope=scope, since_month=since, until_month=until),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return TicketStatsOut(
        scope=reply.scope, scope_name=name_of(reply.scope), level=_LEVELS.get(len(reply.scope), "county"),
        since_month=reply.since_month, until_month=reply.until_month, total=_ticket_figures(reply.total),
        counties=[TicketRowOut(key=r.key, name=name_of(r.key), figures=_ticket_figures(r.figures))
                  for r in reply.counties],
        stations=[TicketRowOut(key=r.key, name=r.name or (_COUNTY_QUEUE_NAME if r.key == "county" else ""),
                               figures=_ticket_figures(r.figures)) for r in reply.stations],
        groups=[TicketRowOut(key=r.key, name=r.key, figures=_ticket_figures(r.figures)) for r in reply.groups],
        current_month=reply.current_month, breached_this_month=_figure(reply.breached_this_month),
        threshold=reply.threshold,
    )
