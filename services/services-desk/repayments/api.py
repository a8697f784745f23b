"""Repayments' RPCs (thin: parse, call the use case, map the answer)."""

from __future__ import annotations

from datetime import date, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.loans.api import loan_to_proto
from jinqiao.desk.loans.service import LoanView
from jinqiao.desk.repayments import service as repayment_service
from jinqiao.desk.repayments.models import ClaimRow, InstalmentRow, RepaymentRow
from jinqiao.desk.v1 import loans_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def _set(message: Timestamp, value: datetime | None) -> None:
    if value is not None:
        message.FromDatetime(value)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def instalment_to_proto(row: InstalmentRow, *, today: date) -> loans_pb2.Instalment:
    """One period on the wire, overdue as of ``today``."""
    return loans_pb2.Instalment(
        seq=row.seq, due_date=row.due_date.isoformat(), principal_fen=row.principal_fen,
        interest_fen=row.interest_fen, subsidy_fen=row.subsidy_fen, borrower_interest_fen=row.borrower_interest_fen,
        due_fen=row.due_fen, paid_principal_fen=row.paid_principal_fen, paid_interest_fen=row.paid_interest_fen,
        paid_on=_day(row.paid_on), balance_after_fen=row.balance_after_fen,
        overdue=row.as_domain().overdue_on(today))


def repayment_to_proto(row: RepaymentRow) -> loans_pb2.Repayment:
    """One repayment on the wire."""
    message = loans_pb2.Repayment(id=row.id, loan_id=row.loan_id, amount_fen=row.amount_fen,
                                  paid_on=row.paid_on.isoformat(), principal_fen=row.principal_fen,
                                  interest_fen=row.interest_fen, recorded_by=row.recorded_by)
    _set(message.create_time, row.created_at)
    return message


def claim_to_proto(row: ClaimRow) -> loans_pb2.SubsidyClaimLine:
    """One 贴息 claim line on the wire (principal: the balance the period's interest accrued on)."""
    return loans_pb2.SubsidyClaimLine(
        loan_id=row.loan_id, programme_name=row.programme_name, bank_name=row.bank_name,
        member_name=row.member_name, principal_fen=row.opening_balance_fen, seq=row.seq,
        due_date=row.due_date.isoformat(), interest_fen=row.interest_fen, subsidy_fen=row.subsidy_fen, paid=row.paid)


class RepaymentsApi:
    """DisburseLoan, RecordLoanRepayment, GetLoanSchedule, ListLoanSubsidyClaims."""

    _deps: DeskDeps

    def _loan_out(self, view: LoanView) -> loans_pb2.Loan:
        return loan_to_proto(view.row, programme=view.programme, attachment_count=view.attachment_count,
                             now=self._deps.clock())

    async def DisburseLoan(self, request: loans_pb2.DisburseLoanRequest,
                           context: Context) -> loans_pb2.DisburseLoanResponse:
        """放款: record the disbursement and store the schedule (the same request_id changes nothing)."""
        view = await repayment_service.disburse_loan(
            deps=self._deps, principal=current_principal(), loan_id=request.id, disbursed_on=request.disbursed_on,
            first_due_date=request.first_due_date, request_id=request.request_id)
        return loans_pb2.DisburseLoanResponse(loan=self._loan_out(view))

    async def RecordLoanRepayment(self, request: loans_pb2.RecordLoanRepaymentRequest,
                                  context: Context) -> loans_pb2.RecordLoanRepaymentResponse:
        """还款: record a repayment against the schedule (the same request_id returns the first answer)."""
        view, repayment = await repayment_service.record_repayment(
            deps=self._deps, principal=current_principal(), loan_id=request.id, amount_fen=request.amount_fen,
            paid_on=request.paid_on, request_id=request.request_id)
        return loans_pb2.RecordLoanRepaymentResponse(loan=self._loan_out(view),
                                                     repayment=repayment_to_proto(repayment))

    async def GetLoanSchedule(self, request: loans_pb2.GetLoanScheduleRequest,
                              context: Context) -> loans_pb2.GetLoanScheduleResponse:
        """A loan's schedule, its totals and its repayments."""
        schedule = await repayment_service.get_schedule(deps=self._deps, principal=current_principal(),
                                                        loan_id=request.id)
        rows = schedule.instalments
        return loans_pb2.GetLoanScheduleResponse(
            instalments=[instalment_to_proto(r, today=schedule.today) for r in rows],
            repayments=[repayment_to_proto(r) for r in schedule.repayments],
            total_principal_fen=sum(r.principal_fen for r in rows),
            total_interest_fen=sum(r.interest_fen for r in rows),
            total_subsidy_fen=sum(r.subsidy_fen for r in rows), total_due_fen=sum(r.due_fen for r in rows))

    async def ListLoanSubsidyClaims(self, request: loans_pb2.ListLoanSubsidyClaimsRequest,
                                    context: Context) -> loans_pb2.ListLoanSubsidyClaimsResponse:
        """The 贴息 claim list of a month or quarter, with totals."""
        claims = await repayment_service.list_subsidy_claims(
            deps=self._deps, principal=current_principal(), period=request.period,
            programme_id=request.programme_id)
        return loans_pb2.ListLoanSubsidyClaimsResponse(
            lines=[claim_to_proto(r) for r in claims.lines],
            total_interest_fen=sum(r.interest_fen for r in claims.lines),
            total_subsidy_fen=sum(r.subsidy_fen for r in claims.lines),
            period_start=claims.start.isoformat(), period_end=claims.end.isoformat())
