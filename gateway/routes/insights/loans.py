"""``GET /api/v1/scopes/{scope}/insights/loans``: the 党员先锋贷 figures of a scope (issue 14 §6).

Counts and sums only, built by insights from the desk's loan events. For a scope wider than a county a cell
(county × programme) with fewer borrowers than the threshold publishes nothing, and every row adds up its
published cells only; money is integer 分 (the console shows 万元 by integer arithmetic).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep
from jinqiao.gateway.routes.insights.aggregates import FigureOut
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit.regions import name_of

router = APIRouter(prefix="/api/v1/scopes/{scope}/insights", tags=["insights"])
_LEVELS = {2: "province", 4: "city", 6: "county"}


class LoanFiguresOut(BaseModel):
    """一行的党员先锋贷数字：每个数字都是已公开单元格（县 × 贷款项目）之和；金额单位为分。"""

    applications: FigureOut = Field(description="申请笔数")
    approved: FigureOut = Field(description="经县乡村各级审批通过（已占用额度）的笔数")
    refused: FigureOut = Field(description="在任一环节被拒绝的笔数（含银行拒贷）")
    disbursed: FigureOut = Field(description="已放款笔数（借款户数）")
    settled: FigureOut = Field(description="已结清笔数")
    lent_fen: FigureOut = Field(description="累计放款金额（分）")
    outstanding_fen: FigureOut = Field(description="贷款余额：未还本金（分）")
    overdue_outstanding_fen: FigureOut = Field(description="逾期贷款的未还本金（分）")
    overdue_fen: FigureOut = Field(description="逾期应还金额（分）")
    overdue_loans: FigureOut = Field(description="当前逾期笔数")
    overdue_rate: float = Field(description="逾期率：逾期贷款本金 ÷ 贷款余额，只计两项都公开的单元格")
    overdue_rate_display: str = Field(description="如“1.2%”（四舍五入到 0.1%）；无可计算的单元格时为“—”")
    subsidy_fen: FigureOut = Field(description="已放款贷款还款计划中的贴息合计（分）")


class LoanRowOut(BaseModel):
    """一行：一个县，或一个贷款项目（共享项目按项目代码，县自有项目按 programme:<ID>）。"""

    key: str = Field(description="县代码，或项目代码（共享代码，或 programme:<项目 ID>）")
    name: str = Field(description="县名或项目名称（尚无放款的项目可能为空）")
    product: str = Field(description="PIONEER、MICRO_CREDIT 或 STARTUP_GUARANTEE（项目行）")
    figures: LoanFiguresOut


class LoanStatsOut(BaseModel):
    """范围内的党员先锋贷统计：只有笔数与金额合计，没有贷款或人员。"""

    scope: str
    scope_name: str
    level: str = Field(description="province、city 或 county")
    total: LoanFiguresOut
    counties: list[LoanRowOut] = Field(description="各县")
    programmes: list[LoanRowOut] = Field(description="各贷款项目，放款多的在前")
    threshold: int = Field(description="借款户数小于此数的单元格被抑制；0 为精确数字（本县）")
    update_time: str = Field(description="数字最近一次变化的时间（RFC 3339；尚无数据时为空）")


def _figure(figure: insights_pb2.Figure) -> FigureOut:
    return FigureOut(value=figure.value, hidden_cells=figure.hidden_cells, display=figure.display)


def _figures(f: insights_pb2.LoanFigures) -> LoanFiguresOut:
    return LoanFiguresOut(
        applications=_figure(f.applications), approved=_figure(f.approved), refused=_figure(f.refused),
        disbursed=_figure(f.disbursed), settled=_figure(f.settled), lent_fen=_figure(f.lent_fen),
        outstanding_fen=_figure(f.outstanding_fen), overdue_outstanding_fen=_figure(f.overdue_outstanding_fen),
        overdue_fen=_figure(f.overdue_fen), overdue_loans=_figure(f.overdue_loans), overdue_rate=f.overdue_rate,
        overdue_rate_display=f.overdue_rate_display or "—", subsidy_fen=_figure(f.subsidy_fen),
    )


@router.get("/loans", response_model=LoanStatsOut)
async def loan_stats(scope: str, who: CallerDep, gw: GatewayDep) -> LoanStatsOut:
    """党员先锋贷统计：各县、各贷款项目与合计；省、市视图抑制借款户数过少的单元格（范围外的区域答 404）。"""
    reply = await gw.clients.insights.GetLoanStats(insights_pb2.GetLoanStatsRequest(scope=scope),
                                                   metadata=who.metadata, timeout=gw.clients.timeout)
    return LoanStatsOut(
        scope=reply.scope, scope_name=name_of(reply.scope), level=_LEVELS.get(len(reply.scope), "county"),
        total=_figures(reply.total),
        counties=[LoanRowOut(key=r.key, name=name_of(r.key), product="", figures=_figures(r.figures))
                  for r in reply.counties],
        programmes=[LoanRowOut(key=r.key, name=r.name, product=r.product, figures=_figures(r.figures))
                    for r in reply.programmes],
        threshold=reply.threshold,
        update_time=reply.update_time.ToJsonString() if reply.HasField("update_time") else "",
    )
