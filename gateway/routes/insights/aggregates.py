"""Aggregates of a scope: ``/api/v1/scopes/{scope}/insights/…`` over the insights gRPC API.

For a scope wider than a county the insights service suppresses small counts (DESIGN §5): a suppressed figure
keeps its type and reads 0, beside an explicit ``suppressed`` flag and the text to show (``"<3"``); totals add up
the published figures only and say when they leave one out. A county's own scope sees its exact figures.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep
from jinqiao.insights.v1 import insights_pb2
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
