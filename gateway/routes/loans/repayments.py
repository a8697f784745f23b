"""Micro-loan routes: disbursement (放款), repayments (还款), the schedule, the 贴息 claim list, and the loan ledgers
(党员先锋贷台账, 贴息清单) as spreadsheets. Money is integer 分 on the wire; the ledgers show 元 computed from 分 with
Decimal arithmetic, never float."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jinqiao.desk.v1 import loans_pb2
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.routes.loans.wire import MAX_FEN, LoanOut
from jinqiao.gateway.sheets import Fmt, banner_for, download
from jinqiao.gateway.wire import Body
from jinqiao.kit.clock import china_date

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["loans"])

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$"
PERIOD_DESCRIPTION = "月份（YYYY-MM）或季度（YYYY-Qn），如 2026-03、2026-Q1"
PAGE = 200


class DisburseIn(Body):
    """放款: the day the bank paid the loan out, and the first due date if not a month later."""

    disbursed_on: date | None = Field(default=None, description="放款日期（不填为今天）")
    first_due_date: date | None = Field(default=None, description="首次还款日（不填为放款日一个月后）")


class RepaymentIn(Body):
    """还款: the amount the bank received and the day."""

    amount_fen: int = Field(ge=1, le=MAX_FEN, description="还款金额（分）")
    paid_on: date | None = Field(default=None, description="还款日期（不填为今天）")


class InstalmentOut(BaseModel):
    """One period of a repayment schedule."""

    seq: int
    due_date: str
    principal_fen: int
    interest_fen: int
    subsidy_fen: int
    borrower_interest_fen: int
    due_fen: int
    paid_principal_fen: int
    paid_interest_fen: int
    paid_on: str
    balance_after_fen: int
    overdue: bool

    @classmethod
    def from_proto(cls, x: loans_pb2.Instalment) -> InstalmentOut:
        """Map the wire form."""
        return cls(seq=x.seq, due_date=x.due_date, principal_fen=x.principal_fen, interest_fen=x.interest_fen,
                   subsidy_fen=x.subsidy_fen, borrower_interest_fen=x.borrower_interest_fen, due_fen=x.due_fen,
                   paid_principal_fen=x.paid_principal_fen, paid_interest_fen=x.paid_interest_fen,
                   paid_on=x.paid_on, balance_after_fen=x.balance_after_fen, overdue=x.overdue)


class RepaymentOut(BaseModel):
    """One repayment as the bank recorded it and the platform allocated it."""

    id: str
    loan_id: str
    amount_fen: int
    paid_on: str
    principal_fen: int
    interest_fen: int
    recorded_by: str

    @classmethod
    def from_proto(cls, x: loans_pb2.Repayment) -> RepaymentOut:
        """Map the wire form."""
        return cls(id=x.id, loan_id=x.loan_id, amount_fen=x.amount_fen, paid_on=x.paid_on,
                   principal_fen=x.principal_fen, interest_fen=x.interest_fen, recorded_by=x.recorded_by)


class RecordedRepaymentOut(BaseModel):
    """The loan after a repayment, and the repayment as allocated."""

    loan: LoanOut
    repayment: RepaymentOut


class ScheduleOut(BaseModel):
    """A loan's schedule, totals and repayments."""

    instalments: list[InstalmentOut]
    repayments: list[RepaymentOut]
    total_principal_fen: int
    total_interest_fen: int
    total_subsidy_fen: int
    total_due_fen: int


class ClaimLineOut(BaseModel):
    """One loan's 贴息 for one period."""

    loan_id: str
    programme_name: str
    bank_name: str
    member_name: str
    principal_fen: int
    seq: int
    due_date: str
    interest_fen: int
    subsidy_fen: int
    paid: bool


class ClaimsOut(BaseModel):
    """The 贴息 claim list of a month or quarter."""

    lines: list[ClaimLineOut]
    total_interest_fen: int
    total_subsidy_fen: int
    period_start: str
    period_end: str


def _iso(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def yuan(fen: int) -> Decimal:
    """元 with two decimals, exactly (Decimal from the integer fen, never a float)."""
    return Decimal(fen).scaleb(-2)


@router.post("/loans/{loan_id}/disbursement", response_model=LoanOut)
async def disburse(tenant: TenantDep, loan_id: str, body: DisburseIn, who: CallerDep, gw: GatewayDep,
                   idempotency_key: RequestIdDep) -> LoanOut:
    """放款 (the partner bank): the schedule is built and stored; the same Idempotency-Key changes nothing."""
    reply = await gw.clients.desk.DisburseLoan(
        loans_pb2.DisburseLoanRequest(id=loan_id, disbursed_on=_iso(body.disbursed_on),
                                      first_due_date=_iso(body.first_due_date), request_id=idempotency_key),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return LoanOut.from_proto(reply.loan)


@router.post("/loans/{loan_id}/repayments", status_code=201, response_model=RecordedRepaymentOut)
async def record_repayment(tenant: TenantDep, loan_id: str, body: RepaymentIn, who: CallerDep, gw: GatewayDep,
                           idempotency_key: RequestIdDep) -> RecordedRepaymentOut:
    """还款 (the partner bank): allocated to the oldest instalment first, interest before principal."""
    reply = await gw.clients.desk.RecordLoanRepayment(
        loans_pb2.RecordLoanRepaymentRequest(id=loan_id, amount_fen=body.amount_fen, paid_on=_iso(body.paid_on),
                                             request_id=idempotency_key),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return RecordedRepaymentOut(loan=LoanOut.from_proto(reply.loan),
                                repayment=RepaymentOut.from_proto(reply.repayment))


@router.get("/loans/{loan_id}/schedule", response_model=ScheduleOut)
async def schedule(tenant: TenantDep, loan_id: str, who: CallerDep, gw: GatewayDep) -> ScheduleOut:
    """A loan's repayment schedule (还款计划), its totals and its repayments."""
    reply = await gw.clients.desk.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                  metadata=who.metadata, timeout=gw.clients.timeout)
    return ScheduleOut(instalments=[InstalmentOut.from_proto(i) for i in reply.instalments],
                       repayments=[RepaymentOut.from_proto(r) for r in reply.repayments],
                       total_principal_fen=reply.total_principal_fen, total_interest_fen=reply.total_interest_fen,
                       total_subsidy_fen=reply.total_subsidy_fen, total_due_fen=reply.total_due_fen)


PeriodQuery = Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                          description=PERIOD_DESCRIPTION + "；不填为本月")]
ProgrammeQuery = Annotated[str, Query(max_length=36, description="贷款项目（不填为全部）")]


def _period(value: str | None) -> str:
    """The period asked for, or this month in Beijing."""
    if value is not None:
        return value
    today = china_date(datetime.now(UTC))
    return f"{today.year:04d}-{today.month:02d}"


async def _claims(gw: GatewayDep, who: CallerDep, period: str, programme_id: str) -> ClaimsOut:
    reply = await gw.clients.desk.ListLoanSubsidyClaims(
        loans_pb2.ListLoanSubsidyClaimsRequest(period=period, programme_id=programme_id),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ClaimsOut(
        lines=[ClaimLineOut(loan_id=x.loan_id, programme_name=x.programme_name, bank_name=x.bank_name,
                            member_name=x.member_name, principal_fen=x.principal_fen, seq=x.seq,
                            due_date=x.due_date, interest_fen=x.interest_fen, subsidy_fen=x.subsidy_fen,
                            paid=x.paid) for x in reply.lines],
        total_interest_fen=reply.total_interest_fen, total_subsidy_fen=reply.total_subsidy_fen,
        period_start=reply.period_start, period_end=reply.period_end)


@router.get("/loan-subsidy-claims", response_model=ClaimsOut)
async def subsidy_claims(tenant: TenantDep, who: CallerDep, gw: GatewayDep,
                         period: PeriodQuery = None, programme_id: ProgrammeQuery = "") -> ClaimsOut:
    """贴息清单: the 贴息 of the instalments due in a month or quarter (the county department: all; a bank: its own)."""
    return await _claims(gw, who, _period(period), programme_id)


CLAIMS_TITLE = "贴息清单"
CLAIMS_HEADERS = ["序号", "项目", "银行", "党员", "期次", "应还日", "计息本金(元)", "利息(元)", "贴息(元)",
                  "本期是否已还"]


@router.get("/ledgers/loan-subsidy-claims.{fmt}")
async def subsidy_claims_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep,
                                period: PeriodQuery = None, programme_id: ProgrammeQuery = "") -> Response:
    """贴息清单 as a spreadsheet, for the finance department."""
    period = _period(period)
    claims = await _claims(gw, who, period, programme_id)
    rows: list[list[object]] = [
        [i, x.programme_name, x.bank_name, x.member_name, x.seq, x.due_date, yuan(x.principal_fen),
         yuan(x.interest_fen), yuan(x.subsidy_fen), "是" if x.paid else "否"]
        for i, x in enumerate(claims.lines, start=1)]
    rows.append(["合计", "", "", "", "", "", "", yuan(claims.total_interest_fen), yuan(claims.total_subsidy_fen), ""])
    return download(title=f"{CLAIMS_TITLE}（{period}）", tenant=tenant, fmt=fmt, headers=CLAIMS_HEADERS, rows=rows,
                    banner=await banner_for(gw=gw, who=who, tenant=tenant))


LOANS_TITLE = "党员先锋贷台账"
LOANS_HEADERS = ["贷款编号", "党员", "乡镇", "项目", "银行", "申请金额(元)", "授信金额(元)", "期限(月)", "还款方式",
                 "状态", "放款日", "未还本金(元)", "逾期金额(元)", "逾期天数"]
METHOD_LABEL = {loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT: "等额本息",
                loans_pb2.REPAYMENT_METHOD_EQUAL_PRINCIPAL: "等额本金",
                loans_pb2.REPAYMENT_METHOD_INTEREST_ONLY: "先息后本"}
STATUS_LABEL = {loans_pb2.LOAN_STATUS_SUBMITTED: "待支部推荐", loans_pb2.LOAN_STATUS_RECOMMENDED: "待乡镇审核",
                loans_pb2.LOAN_STATUS_REVIEWED: "待县级审批", loans_pb2.LOAN_STATUS_APPROVED: "待银行授信",
                loans_pb2.LOAN_STATUS_CREDIT_GRANTED: "待放款", loans_pb2.LOAN_STATUS_DISBURSED: "还款中",
                loans_pb2.LOAN_STATUS_SETTLED: "已结清", loans_pb2.LOAN_STATUS_REFUSED: "未通过",
                loans_pb2.LOAN_STATUS_WITHDRAWN: "已撤回"}


def _loan_row(x: loans_pb2.Loan) -> list[object]:
    granted = yuan(x.granted_amount_fen) if x.granted_amount_fen else ""
    return [x.number, x.member_name, x.township, x.programme_name, x.bank_name, yuan(x.amount_fen), granted,
            x.term_months, METHOD_LABEL.get(x.method, ""), STATUS_LABEL.get(x.status, ""), x.disbursed_on,
            yuan(x.outstanding_principal_fen), yuan(x.overdue_fen), x.days_past_due]


@router.get("/ledgers/loans.{fmt}")
async def loans_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """党员先锋贷台账: every loan within the caller's reach, oldest first, every page of it."""
    found: list[loans_pb2.Loan] = []
    page = 1
    while True:
        reply = await gw.clients.desk.ListLoans(loans_pb2.ListLoansRequest(page=page, page_size=PAGE),
                                                metadata=who.metadata, timeout=gw.clients.timeout)
        found.extend(reply.loans)
        if not reply.loans or len(found) >= reply.total:
            break
        page += 1
    found.reverse()
    return download(title=LOANS_TITLE, tenant=tenant, fmt=fmt, headers=LOANS_HEADERS,
                    rows=[_loan_row(x) for x in found], banner=await banner_for(gw=gw, who=who, tenant=tenant))
