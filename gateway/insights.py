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
