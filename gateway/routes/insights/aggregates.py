"""Aggregates of a scope: ``/api/v1/scopes/{scope}/insights/…`` over the insights gRPC API."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from jinqiao.gateway.deps import CallerDep, GatewayDep
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit.regions import name_of

router = APIRouter(prefix="/api/v1/scopes/{scope}/insights", tags=["insights"])


class CountyMembers(BaseModel):
    """One county's member count."""

    tenant_id: str
    name: str
    members: int
    updated_at: datetime


class MemberCounts(BaseModel):
    """Members per county inside a scope; counts only, never persons."""

    scope: str
    scope_name: str
    total: int
    counties: list[CountyMembers]


@router.get("/members", response_model=MemberCounts)
async def member_counts(scope: str, who: CallerDep, gw: GatewayDep) -> MemberCounts:
    """Registered members per county (a scope outside the caller's answers 404)."""
    reply = await gw.clients.insights.GetMemberCounts(
        insights_pb2.GetMemberCountsRequest(scope=scope), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return MemberCounts(
        scope=reply.scope, scope_name=name_of(reply.scope), total=reply.total,
        counties=[
            CountyMembers(tenant_id=c.tenant_id, name=name_of(c.tenant_id), members=c.members,
                          updated_at=c.update_time.ToDatetime(tzinfo=UTC))
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
    flows: int


class CoverageOut(BaseModel):
    """One origin's open flows: away, offered, managed (checked in), overdue 报到, managed / away."""

    origin_tenant_id: str
    origin_name: str
    away: int
    offered: int
    managed: int
    overdue_check_ins: int
    coverage: float


class UnorganisedOut(BaseModel):
    """A destination where 3 or more members of one origin are held by no organisation: found a 临时党支部."""

    origin_tenant_id: str
    origin_name: str
    destination_code: str
    destination_name: str
    members: int


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
        total_overdue=reply.total_overdue,
        total_coverage=reply.total_managed / reply.total_away if reply.total_away else 0.0,
        cells=[
            FlowCellOut(origin_tenant_id=c.origin_tenant_id, origin_name=name_of(c.origin_tenant_id),
                        destination_code=c.destination_code, destination_name=name_of(c.destination_code),
                        month=c.month, industry=c.industry, flows=c.flows)
            for c in reply.cells
        ],
        coverage=[
            CoverageOut(origin_tenant_id=c.origin_tenant_id, origin_name=name_of(c.origin_tenant_id), away=c.away,
                        offered=c.offered, managed=c.managed, overdue_check_ins=c.overdue_check_ins,
                        coverage=c.coverage)
            for c in reply.coverage
        ],
        unorganised=[
            UnorganisedOut(origin_tenant_id=u.origin_tenant_id, origin_name=name_of(u.origin_tenant_id),
                           destination_code=u.destination_code, destination_name=name_of(u.destination_code),
                           members=u.members)
            for u in reply.unorganised
        ],
    )
