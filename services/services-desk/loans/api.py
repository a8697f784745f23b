"""Loan applications' RPCs (thin: parse, call the use case, map the answer)."""

from __future__ import annotations

from datetime import date, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.loans import service as loan_service
from jinqiao.desk.loans.models import LoanAttachmentRow, LoanRow, StepRow
from jinqiao.desk.programmes.domain import Programme, RuleResult
from jinqiao.desk.v1 import loans_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def _set(message: Timestamp, value: datetime | None) -> None:
    if value is not None:
        message.FromDatetime(value)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def rule_to_proto(r: RuleResult) -> loans_pb2.RuleResult:
    """One eligibility rule checked, on the wire."""
    return loans_pb2.RuleResult(rule=r.rule, label=r.label, passed=r.passed, detail=r.detail)


def loan_to_proto(row: LoanRow, *, programme: Programme | None, attachment_count: int = 0,
                  now: datetime) -> loans_pb2.Loan:
    """The wire form of a loan: the programme's name, product and bank beside the row; step_overdue when the pending
    step's time limit has passed at ``now``."""
    message = loans_pb2.Loan(
        id=row.id, tenant_id=row.tenant_id, number=row.number, programme_id=row.programme_id,
        member_id=row.member_id, member_name=row.member_name, home_org_id=row.home_org_id or "",
        township=row.township, amount_fen=row.amount_fen, term_months=row.term_months,
        method=loans_pb2.RepaymentMethod.ValueType(row.method), purpose=row.purpose,
        business_plan=row.business_plan, status=loans_pb2.LoanStatus.ValueType(row.status),
        pending_tier=loans_pb2.LoanTier.ValueType(row.pending_tier),
        step_overdue=row.pending_tier != 0 and row.step_due_at is not None and row.step_due_at < now,
        channel=loans_pb2.LoanChannel.ValueType(row.channel), applied_by=row.applied_by,
        refused_tier=loans_pb2.LoanTier.ValueType(row.refused_tier), refusal_reason=row.refusal_reason,
        granted_amount_fen=row.granted_amount_fen, rate_bp=row.rate_bp, subsidy_bp=row.subsidy_bp,
        disbursed_on=_day(row.disbursed_on), outstanding_principal_fen=row.outstanding_principal_fen,
        overdue_fen=row.overdue_fen, days_past_due=row.days_past_due, next_due_date=_day(row.next_due_date),
        next_due_fen=row.next_due_fen, settled_on=_day(row.settled_on), version=row.version,
        attachment_count=attachment_count,
        eligibility=[loans_pb2.RuleResult(rule=str(e.get("rule", "")), label=str(e.get("label", "")),
                                          passed=bool(e.get("passed", False)), detail=str(e.get("detail", "")))
                     for e in row.eligibility],
    )
    if programme is not None:
        message.programme_name = programme.name
        message.product = loans_pb2.LoanProduct.ValueType(programme.product)
        message.bank_code = programme.bank_code
        message.bank_name = programme.bank_name
    _set(message.step_due_time, row.step_due_at)
    _set(message.create_time, row.created_at)
    _set(message.update_time, row.updated_at)
    return message


def step_to_proto(step: StepRow) -> loans_pb2.LoanStep:
    """One history entry on the wire."""
    message = loans_pb2.LoanStep(id=step.id, action=step.action, tier=loans_pb2.LoanTier.ValueType(step.tier),
                                 actor=step.actor, body=step.body)
    _set(message.create_time, step.created_at)
    return message


def attachment_to_proto(row: LoanAttachmentRow) -> loans_pb2.LoanAttachment:
    """A file's description on the wire."""
    message = loans_pb2.LoanAttachment(id=row.id, loan_id=row.loan_id, filename=row.filename,
                                       content_type=row.content_type, size_bytes=row.size_bytes, sha256=row.sha256,
                                       uploaded_by=row.uploaded_by)
    _set(message.create_time, row.created_at)
    return message


class LoansApi:
    """CheckLoanEligibility, CreateLoanApplication, GetLoan, ListLoans, ReviewLoanApplication,
    WithdrawLoanApplication, RecordLoanCreditDecision, ListLoanHistory, Add/List/GetLoanAttachment(s)."""

    _deps: DeskDeps

    def _loan(self, view: loan_service.LoanView) -> loans_pb2.Loan:
        return loan_to_proto(view.row, programme=view.programme, attachment_count=view.attachment_count,
                             now=self._deps.clock())

    async def CheckLoanEligibility(self, request: loans_pb2.CheckLoanEligibilityRequest,
                                   context: Context) -> loans_pb2.CheckLoanEligibilityResponse:
        """Explain, rule by rule, whether a member may apply."""
        found = await loan_service.check_eligibility(
            deps=self._deps, principal=current_principal(), programme_id=request.programme_id,
            member_id=request.member_id, amount_fen=request.amount_fen, term_months=request.term_months)
        return loans_pb2.CheckLoanEligibilityResponse(eligible=found.eligible,
                                                      results=[rule_to_proto(r) for r in found.results])

    async def CreateLoanApplication(self, request: loans_pb2.CreateLoanApplicationRequest,
                                    context: Context) -> loans_pb2.CreateLoanApplicationResponse:
        """File an application (the member, or staff on their behalf)."""
        view = await loan_service.create_application(
            deps=self._deps, principal=current_principal(), programme_id=request.programme_id,
            member_id=request.member_id, amount_fen=request.amount_fen, term_months=request.term_months,
            method=request.method, purpose=request.purpose, business_plan=request.business_plan,
            request_id=request.request_id)
        return loans_pb2.CreateLoanApplicationResponse(loan=self._loan(view))

    async def GetLoan(self, request: loans_pb2.GetLoanRequest, context: Context) -> loans_pb2.GetLoanResponse:
        """One loan within the caller's reach."""
        view = await loan_service.get_loan(deps=self._deps, principal=current_principal(), loan_id=request.id)
        return loans_pb2.GetLoanResponse(loan=self._loan(view))

    async def ListLoans(self, request: loans_pb2.ListLoansRequest, context: Context) -> loans_pb2.ListLoansResponse:
        """A page of the loans within the caller's reach, and the count of all that match."""
        views, total = await loan_service.list_loans(
            deps=self._deps, principal=current_principal(), statuses=list(request.statuses),
            programme_id=request.programme_id, awaiting_me=request.awaiting_me, overdue_only=request.overdue_only,
            member_id=request.member_id, query=request.query, page=request.page, page_size=request.page_size)
        return loans_pb2.ListLoansResponse(loans=[self._loan(v) for v in views], total=total)

    async def ReviewLoanApplication(self, request: loans_pb2.ReviewLoanApplicationRequest,
                                    context: Context) -> loans_pb2.ReviewLoanApplicationResponse:
        """A public tier's decision."""
        view = await loan_service.review_application(
            deps=self._deps, principal=current_principal(), loan_id=request.id, decision=request.decision,
            reason=request.reason, version=request.version)
        return loans_pb2.ReviewLoanApplicationResponse(loan=self._loan(view))

    async def WithdrawLoanApplication(self, request: loans_pb2.WithdrawLoanApplicationRequest,
                                      context: Context) -> loans_pb2.WithdrawLoanApplicationResponse:
        """Withdraw an application before disbursement."""
        view = await loan_service.withdraw_application(
            deps=self._deps, principal=current_principal(), loan_id=request.id, reason=request.reason,
            version=request.version)
        return loans_pb2.WithdrawLoanApplicationResponse(loan=self._loan(view))

    async def RecordLoanCreditDecision(self, request: loans_pb2.RecordLoanCreditDecisionRequest,
                                       context: Context) -> loans_pb2.RecordLoanCreditDecisionResponse:
        """The partner bank's credit decision."""
        view = await loan_service.record_credit_decision(
            deps=self._deps, principal=current_principal(), loan_id=request.id, decision=request.decision,
            reason=request.reason, granted_amount_fen=request.granted_amount_fen, version=request.version)
        return loans_pb2.RecordLoanCreditDecisionResponse(loan=self._loan(view))

    async def ListLoanHistory(self, request: loans_pb2.ListLoanHistoryRequest,
                              context: Context) -> loans_pb2.ListLoanHistoryResponse:
        """A loan's steps, oldest first."""
        steps = await loan_service.list_history(deps=self._deps, principal=current_principal(), loan_id=request.id)
        return loans_pb2.ListLoanHistoryResponse(steps=[step_to_proto(s) for s in steps])

    async def AddLoanAttachment(self, request: loans_pb2.AddLoanAttachmentRequest,
                                context: Context) -> loans_pb2.AddLoanAttachmentResponse:
        """Add a file to an application."""
        row = await loan_service.add_attachment(
            deps=self._deps, principal=current_principal(), loan_id=request.loan_id, filename=request.filename,
            content_type=request.content_type, content=request.content)
        return loans_pb2.AddLoanAttachmentResponse(attachment=attachment_to_proto(row))

    async def ListLoanAttachments(self, request: loans_pb2.ListLoanAttachmentsRequest,
                                  context: Context) -> loans_pb2.ListLoanAttachmentsResponse:
        """An application's files."""
        rows = await loan_service.list_attachments(deps=self._deps, principal=current_principal(),
                                                   loan_id=request.loan_id)
        return loans_pb2.ListLoanAttachmentsResponse(attachments=[attachment_to_proto(r) for r in rows])

    async def GetLoanAttachment(self, request: loans_pb2.GetLoanAttachmentRequest,
                                context: Context) -> loans_pb2.GetLoanAttachmentResponse:
        """One file with its content."""
        row, content = await loan_service.get_attachment(
            deps=self._deps, principal=current_principal(), loan_id=request.loan_id,
            attachment_id=request.attachment_id)
        return loans_pb2.GetLoanAttachmentResponse(attachment=attachment_to_proto(row), content=content)
