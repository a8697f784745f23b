"""Insights gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

from collections.abc import Callable

from jinqiao.insights import domain, service
from jinqiao.insights.domain import COVERAGE_FIGURES, AreaTally, Tally
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
        response = insights_pb2.GetMemberCountsResponse(scope=request.scope, total=counts.total,
                                                        total_partial=counts.total_partial,
                                                        threshold=counts.threshold)
        for count in counts.counties:
            item = response.counties.add(tenant_id=count.tenant_id, members=count.members,
                                         suppressed=count.suppressed, display=count.display)
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
                                         month=c.month, industry=c.industry, flows=c.flows, suppressed=c.suppressed,
                                         display=c.display) for c in matrix.cells],
            coverage=[insights_pb2.CoverageFigure(origin_tenant_id=c.origin_tenant_id, away=c.away,
                                                  offered=c.offered, managed=c.managed,
                                                  overdue_check_ins=c.overdue_check_ins, coverage=c.coverage,
                                                  suppressed_fields=[f for f in COVERAGE_FIGURES if f in c.hidden],
                                                  display={f: c.display(f) for f in COVERAGE_FIGURES})
                      for c in matrix.coverage],
            unorganised=[insights_pb2.UnorganisedDestination(origin_tenant_id=u.origin_tenant_id,
                                                             destination_code=u.destination_code, members=u.members,
                                                             suppressed=u.suppressed,
                                                             display=u.display or str(u.members))
                         for u in matrix.unorganised],
            total_away=matrix.total_away, total_managed=matrix.total_managed, total_overdue=matrix.total_overdue,
            total_coverage=matrix.total_coverage, partial_totals=matrix.partial_totals, threshold=matrix.threshold,
            coverage_filtered=matrix.coverage_filtered,
        )

    async def GetDashboard(
        self, request: insights_pb2.GetDashboardRequest, context: Context
    ) -> insights_pb2.GetDashboardResponse:
        """A scope's figures, its next level down, flows by destination and the monthly trends."""
        board = await service.dashboard(deps=self._deps, principal=current_principal(), scope=request.scope,
                                        to_month=request.to_month)
        version = await service.dashboard_version(deps=self._deps, principal=current_principal(),
                                                  scope=request.scope)
        shown = _shower(board.threshold)
        return insights_pb2.GetDashboardResponse(
            scope=board.scope, total=_area(board.total, shown), children=[_area(a, shown) for a in board.children],
            counties=[_area(a, shown) for a in board.counties],
            links=[insights_pb2.FlowLink(origin_code=k.origin_code, destination_code=k.destination_code,
                                         flows=shown(k.flows)) for k in board.links],
            months=[insights_pb2.MonthFigures(month=m.month, registered=shown(m.registered),
                                              checked_in=shown(m.checked_in), returned=shown(m.returned))
                    for m in board.months],
            threshold=board.threshold, version=version,
        )

    async def GetDashboardVersion(
        self, request: insights_pb2.GetDashboardVersionRequest, context: Context
    ) -> insights_pb2.GetDashboardVersionResponse:
        """The scope's version mark, for the gateway's live stream."""
        version = await service.dashboard_version(deps=self._deps, principal=current_principal(),
                                                  scope=request.scope)
        return insights_pb2.GetDashboardVersionResponse(version=version)


    async def GetTicketStats(
        self, request: insights_pb2.GetTicketStatsRequest, context: Context
    ) -> insights_pb2.GetTicketStatsResponse:
        """The service desk's 工单 figures of a scope: per county (station), per category group and in total."""
        stats = await service.ticket_stats(deps=self._deps, principal=current_principal(), scope=request.scope,
                                           since_month=request.since_month, until_month=request.until_month)
        shown = _shower(stats.threshold)
        return insights_pb2.GetTicketStatsResponse(
            scope=stats.scope, since_month=stats.since_month, until_month=stats.until_month,
            total=_tickets(stats.total, shown), counties=[_ticket_row(r, shown) for r in stats.counties],
            # A station is named, never identified: an aggregate carries no organisation's id.
            stations=[_ticket_row(r, shown, key=r.key if r.key == "county" else f"station-{i}")
                      for i, r in enumerate(stats.stations, start=1)],
            groups=[_ticket_row(r, shown) for r in stats.groups], current_month=stats.current_month,
            breached_this_month=shown(stats.breached_this_month), threshold=stats.threshold,
        )


    async def GetLoanStats(
        self, request: insights_pb2.GetLoanStatsRequest, context: Context
    ) -> insights_pb2.GetLoanStatsResponse:
        """The 党员先锋贷 figures of a scope: per county, per programme and in total; counts and sums only."""
        stats, updated = await service.loan_stats(deps=self._deps, principal=current_principal(),
                                                  scope=request.scope)
        response = insights_pb2.GetLoanStatsResponse(
            scope=stats.scope, total=_loans(stats.total, stats.threshold),
            counties=[_loan_row(r, stats.threshold) for r in stats.counties],
            programmes=[_loan_row(r, stats.threshold) for r in stats.programmes], threshold=stats.threshold,
        )
        if updated is not None:
            response.update_time.FromDatetime(updated)
        return response


def _shower(threshold: int) -> Callable[[Tally], insights_pb2.Figure]:
    def shown(tally: Tally) -> insights_pb2.Figure:
        return insights_pb2.Figure(value=tally.value, hidden_cells=tally.hidden, display=tally.display(threshold))

    return shown


def _area(area: AreaTally, shown: Callable[[Tally], insights_pb2.Figure]) -> insights_pb2.AreaFigures:
    return insights_pb2.AreaFigures(
        code=area.code, members=shown(area.members), away=shown(area.away), managed=shown(area.managed),
        overdue_check_ins=shown(area.overdue), returned_this_year=shown(area.returned_this_year),
        coverage=area.coverage, coverage_partial=area.coverage_partial,
    )


def _tickets(row: domain.TicketTally, shown: Callable[[Tally], insights_pb2.Figure]) -> insights_pb2.TicketFigures:
    return insights_pb2.TicketFigures(
        opened=shown(row.opened), resolved=shown(row.resolved), resolution_met=shown(row.resolution_met),
        first_response_met=shown(row.first_response_met), breached=shown(row.breached), rated=shown(row.rated),
        reopened=shown(row.reopened), sla_attainment=row.sla.ratio, sla_attainment_display=row.sla.text,
        sla_attainment_partial=row.sla.partial, first_response_attainment=row.first_response.ratio,
        first_response_attainment_display=row.first_response.text,
        first_response_attainment_partial=row.first_response.partial, satisfaction=row.satisfaction,
        satisfaction_partial=row.satisfaction_partial,
    )


def _ticket_row(
    row: domain.TicketTally, shown: Callable[[Tally], insights_pb2.Figure], *, key: str | None = None
) -> insights_pb2.TicketStatsRow:
    return insights_pb2.TicketStatsRow(key=row.key if key is None else key, name=row.name,
                                       figures=_tickets(row, shown))


def _loans(row: domain.LoanTally, threshold: int) -> insights_pb2.LoanFigures:
    figures: dict[str, insights_pb2.Figure] = {}
    for name, tally in row.figures.items():
        text = domain.money_text(tally, threshold=threshold) if name.endswith("_fen") else tally.display(threshold)
        figures[name] = insights_pb2.Figure(value=tally.value, hidden_cells=tally.hidden, display=text)
    return insights_pb2.LoanFigures(**figures, overdue_rate=row.overdue_rate.ratio,
                                    overdue_rate_display=row.overdue_rate.text)


def _loan_row(row: domain.LoanTally, threshold: int) -> insights_pb2.LoanStatsRow:
    return insights_pb2.LoanStatsRow(key=row.key, name=row.name, product=row.product,
                                     figures=_loans(row, threshold))
