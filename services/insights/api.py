"""Insights gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

import grpc

from jinqiao.insights import service
from jinqiao.insights.v1 import insights_pb2, insights_pb2_grpc
from jinqiao.kit.grpcserver import current_principal


class InsightsServicer(insights_pb2_grpc.InsightsServiceServicer):
    """jinqiao.insights.v1.InsightsService."""

    def __init__(self, deps: service.InsightsDeps) -> None:
        self._deps = deps

    async def GetMemberCounts(
        self, request: insights_pb2.GetMemberCountsRequest, context: grpc.aio.ServicerContext
    ) -> insights_pb2.GetMemberCountsResponse:
        """Members per county in a scope."""
        counts = await service.member_counts(deps=self._deps, principal=current_principal(), scope=request.scope)
        response = insights_pb2.GetMemberCountsResponse(scope=request.scope, total=sum(c.members for c in counts))
        for count in counts:
            item = response.counties.add(tenant_id=count.tenant_id, members=count.members)
            item.update_time.FromDatetime(count.updated_at)
        return response
