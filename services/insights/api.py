"""Insights gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.insights import service
from jinqiao.insights.v1 import insights_pb2, insights_pb2_grpc
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


class InsightsServicer(insights_pb2_grpc.InsightsServiceServicer):
    """jinqiao.insights.v1.InsightsService."""

    def __init__(self, deps: service.InsightsDeps) -> None:
        self._deps = deps

    async def GetMemberCounts(
        self, request: insights_pb2.GetMemberCountsRequest, context: Context
    ) -> insights_pb2.GetMemberCountsResponse:
        """Members per county in a scope."""
        counts = await service.member_counts(deps=self._deps, principal=current_principal(), scope=request.scope)
        response = insights_pb2.GetMemberCountsResponse(scope=request.scope, total=sum(c.members for c in counts))
        for count in counts:
            item = response.counties.add(tenant_id=count.tenant_id, members=count.members)
            item.update_time.FromDatetime(count.updated_at)
        return response

    async def GetFlowMatrix(
        self, request: insights_pb2.GetFlowMatrixRequest, context: Context
    ) -> insights_pb2.GetFlowMatrixResponse:
        """Origin → destination counts by month and industry, coverage and unorganised destinations."""
        matrix = await service.flow_matrix(
            deps=self._deps, principal=current_principal(), scope=request.scope, from_month=request.from_month,
            to_month=request.to_month, industry=request.industry,
        )
        return insights_pb2.GetFlowMatrixResponse(
            scope=request.scope,
            cells=[insights_pb2.FlowCell(origin_tenant_id=c.origin_tenant_id, destination_code=c.destination_code,
                                         month=c.month, industry=c.industry, flows=c.flows) for c in matrix.cells],
            coverage=[insights_pb2.CoverageFigure(origin_tenant_id=c.origin_tenant_id, away=c.away,
                                                  offered=c.offered, managed=c.managed,
                                                  overdue_check_ins=c.overdue_check_ins, coverage=c.coverage)
                      for c in matrix.coverage],
            unorganised=[insights_pb2.UnorganisedDestination(origin_tenant_id=u.origin_tenant_id,
                                                             destination_code=u.destination_code, members=u.members)
                         for u in matrix.unorganised],
            total_away=matrix.total_away, total_managed=matrix.total_managed, total_overdue=matrix.total_overdue,
        )
