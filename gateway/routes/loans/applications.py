"""Micro-loan routes: applications (申请), the tiered review (支部推荐 → 乡镇审核 → 县级审批), withdrawal, the partner
bank's credit decision (授信), a loan's history and its files."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from jinqiao.desk.v1 import loans_pb2 as pb
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.routes.desk.attachments import (
    DOWNLOAD_RESPONSES,
    UPLOAD_OPENAPI,
    UPLOAD_RESPONSES,
    file_name,
    read_upload,
)
from jinqiao.gateway.routes.desk.wire import ts
from jinqiao.gateway.routes.loans.wire import (
    MAX_FEN,
    DecisionName,
    LoanOut,
    LoanPageOut,
    LoanStatusName,
    MethodName,
)
from jinqiao.gateway.wire import Body, enum_in, enum_out

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["loans"])

_MAX_VERSION = 2**31 - 1
_UPLOAD_DOC = (
    "上传申请材料（营业执照、经营计划等）：请求体就是文件本身（不用 multipart），Content-Type 写文件类型"
    "（image/jpeg、image/png、application/pdf；以文件内容为准）。文件名放在 X-File-Name 请求头"
    "（RFC 5987 或百分号编码的 UTF-8）。文件不能超过 5 MB，每份申请最多 10 个附件；党员本人仅可在申请办结前上传。"
)


class ApplyIn(Body):
    """贷款申请: the programme, the member (staff applying on their behalf; a member's own token names them), the
    amount in 分, the term, the repayment method and the purpose."""

    programme_id: str = Field(min_length=1, max_length=36, description="贷款项目")
    member_id: str = Field(default="", max_length=36, description="申请党员（工作人员代为申请时必填）")
    amount_fen: int = Field(ge=1, le=MAX_FEN, description="申请金额（分）")
    term_months: int = Field(ge=1, le=360, description="贷款期限（月）")
    method: MethodName = Field(description="还款方式")
    purpose: str = Field(min_length=2, max_length=500, description="贷款用途")
    business_plan: str = Field(default="", max_length=5000, description="经营计划")


class ReviewIn(Body):
    """审核意见: approve or refuse (with the reason), on the version the reviewer saw."""

    decision: DecisionName = Field(description="审核意见：approve 通过，refuse 不予通过")
    reason: str = Field(default="", max_length=500, description="理由（不予通过时必填）")
    version: int = Field(default=0, ge=0, le=_MAX_VERSION, description="所见版本（0 为不校验）")


class WithdrawIn(Body):
    """撤回申请: why (optional)."""

    reason: str = Field(default="", max_length=500, description="撤回理由")
    version: int = Field(default=0, ge=0, le=_MAX_VERSION, description="所见版本（0 为不校验）")


class CreditDecisionIn(Body):
    """银行授信: grant (maybe a lower amount) or decline with the reason."""

    decision: DecisionName = Field(description="授信意见：approve 授信，refuse 不予授信")
    reason: str = Field(default="", max_length=500, description="理由（不予授信时必填）")
    granted_amount_fen: int = Field(default=0, ge=0, le=MAX_FEN, description="授信金额（分；0 为按审批金额）")
    version: int = Field(default=0, ge=0, le=_MAX_VERSION, description="所见版本（0 为不校验）")


class LoanStepOut(BaseModel):
    """One entry of a loan's history."""

    id: str
    action: str
    tier: str
    actor: str
    body: str
    created_at: datetime | None

    @classmethod
    def from_proto(cls, s: pb.LoanStep) -> LoanStepOut:
        """Map the wire form."""
        tier = enum_out(pb.LoanTier, "LOAN_TIER", s.tier) if s.tier else ""
        return cls(id=s.id, action=s.action, tier=tier, actor=s.actor, body=s.body, created_at=ts(s, "create_time"))


class LoanAttachmentOut(BaseModel):
    """A file of a loan application (its content at ``…/attachments/{id}``)."""

    id: str
    loan_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    created_at: datetime | None

    @classmethod
    def from_proto(cls, a: pb.LoanAttachment) -> LoanAttachmentOut:
        """Map the wire form."""
        return cls(id=a.id, loan_id=a.loan_id, filename=a.filename, content_type=a.content_type,
                   size_bytes=a.size_bytes, sha256=a.sha256, uploaded_by=a.uploaded_by,
                   created_at=ts(a, "create_time"))


@router.get("/loans", response_model=LoanPageOut)
async def list_loans(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    status: Annotated[list[LoanStatusName] | None, Query(description="贷款状态")] = None,
    programme_id: Annotated[str, Query(max_length=36, description="贷款项目")] = "",
    awaiting_me: Annotated[bool, Query(description="只看待我审批的")] = False,
    overdue_only: Annotated[bool, Query(description="只看逾期的")] = False,
    member_id: Annotated[str, Query(max_length=36, description="党员")] = "",
    q: Annotated[str, Query(max_length=50, description="党员姓名、用途或贷款编号")] = "",
    page: Annotated[int, Query(ge=0, le=100000, description="页码（从 1 起）")] = 1,
    page_size: Annotated[int, Query(ge=0, le=200, description="每页条数")] = 50,
) -> LoanPageOut:
    """贷款申请列表: the loans within the caller's reach, newest first, with the count of all that match."""
    reply = await gw.clients.desk.ListLoans(
        pb.ListLoansRequest(statuses=[enum_in(pb.LoanStatus, "LOAN_STATUS", s) for s in status or []],
                            programme_id=programme_id, awaiting_me=awaiting_me, overdue_only=overdue_only,
                            member_id=member_id, query=q, page=page, page_size=page_size),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return LoanPageOut(loans=[LoanOut.from_proto(x) for x in reply.loans], total=reply.total)


@router.post("/loans", status_code=201, response_model=LoanOut,
             responses={422: {"description": "填写有误，或不符合申请条件（errors 逐条列出未满足的条件）"}})
async def apply(tenant: TenantDep, body: ApplyIn, who: CallerDep, gw: GatewayDep, response: Response,
                idempotency_key: RequestIdDep) -> LoanOut:
    """申请贷款: a member for themself, or staff on a member's behalf; an ineligible member is told which rules
    failed (422, one error per rule: eligibility.<rule>)."""
    reply = await gw.clients.desk.CreateLoanApplication(
        pb.CreateLoanApplicationRequest(
            programme_id=body.programme_id, member_id=body.member_id, amount_fen=body.amount_fen,
            term_months=body.term_months, method=enum_in(pb.RepaymentMethod, "REPAYMENT_METHOD", body.method),
            purpose=body.purpose, business_plan=body.business_plan, request_id=idempotency_key),
        metadata=who.metadata, timeout=gw.clients.timeout)
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/loans/{reply.loan.id}"
    return LoanOut.from_proto(reply.loan)


@router.get("/loans/{loan_id}", response_model=LoanOut)
async def get_loan(tenant: TenantDep, loan_id: str, who: CallerDep, gw: GatewayDep) -> LoanOut:
    """贷款详情: one loan within the caller's reach."""
    reply = await gw.clients.desk.GetLoan(pb.GetLoanRequest(id=loan_id), metadata=who.metadata,
                                          timeout=gw.clients.timeout)
    return LoanOut.from_proto(reply.loan)


@router.get("/loans/{loan_id}/history", response_model=list[LoanStepOut])
async def loan_history(tenant: TenantDep, loan_id: str, who: CallerDep, gw: GatewayDep) -> list[LoanStepOut]:
    """办理记录: a loan's steps, oldest first."""
    reply = await gw.clients.desk.ListLoanHistory(pb.ListLoanHistoryRequest(id=loan_id), metadata=who.metadata,
                                                  timeout=gw.clients.timeout)
    return [LoanStepOut.from_proto(s) for s in reply.steps]


@router.post("/loans/{loan_id}/review", response_model=LoanOut)
async def review(tenant: TenantDep, loan_id: str, body: ReviewIn, who: CallerDep, gw: GatewayDep) -> LoanOut:
    """审核: the pending public tier's decision (支部推荐, 乡镇审核 or 县级审批)."""
    reply = await gw.clients.desk.ReviewLoanApplication(
        pb.ReviewLoanApplicationRequest(id=loan_id, decision=enum_in(pb.LoanDecision, "LOAN_DECISION",
                                                                     body.decision),
                                        reason=body.reason, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return LoanOut.from_proto(reply.loan)


@router.post("/loans/{loan_id}/withdraw", response_model=LoanOut)
async def withdraw(tenant: TenantDep, loan_id: str, body: WithdrawIn, who: CallerDep, gw: GatewayDep) -> LoanOut:
    """撤回申请: before disbursement (the member, or staff for them); committed quota is released."""
    reply = await gw.clients.desk.WithdrawLoanApplication(
        pb.WithdrawLoanApplicationRequest(id=loan_id, reason=body.reason, version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return LoanOut.from_proto(reply.loan)


@router.post("/loans/{loan_id}/credit-decision", response_model=LoanOut)
async def credit_decision(tenant: TenantDep, loan_id: str, body: CreditDecisionIn, who: CallerDep,
                          gw: GatewayDep) -> LoanOut:
    """银行授信: the partner bank grants (maybe less than approved) or declines an approved application."""
    reply = await gw.clients.desk.RecordLoanCreditDecision(
        pb.RecordLoanCreditDecisionRequest(id=loan_id, decision=enum_in(pb.LoanDecision, "LOAN_DECISION",
                                                                        body.decision),
                                           reason=body.reason, granted_amount_fen=body.granted_amount_fen,
                                           version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return LoanOut.from_proto(reply.loan)


@router.get("/loans/{loan_id}/attachments", response_model=list[LoanAttachmentOut])
async def list_attachments(tenant: TenantDep, loan_id: str, who: CallerDep,
                           gw: GatewayDep) -> list[LoanAttachmentOut]:
    """申请材料列表: an application's files, oldest first."""
    reply = await gw.clients.desk.ListLoanAttachments(pb.ListLoanAttachmentsRequest(loan_id=loan_id),
                                                      metadata=who.metadata, timeout=gw.clients.timeout)
    return [LoanAttachmentOut.from_proto(a) for a in reply.attachments]


@router.post("/loans/{loan_id}/attachments", status_code=201, response_model=LoanAttachmentOut,
             description=_UPLOAD_DOC,
             responses=UPLOAD_RESPONSES, openapi_extra=UPLOAD_OPENAPI)
async def add_attachment(
    tenant: TenantDep, loan_id: str, request: Request, who: CallerDep, gw: GatewayDep,
    content_type: Annotated[str, Header(max_length=200)] = "",
    x_file_name: Annotated[str, Header(max_length=600, include_in_schema=False)] = "",
) -> Response:
    """上传申请材料: a JPG, PNG or PDF (at most 5 MB)."""
    content = await read_upload(request)
    if isinstance(content, Response):
        return content
    reply = await gw.clients.desk.AddLoanAttachment(
        pb.AddLoanAttachmentRequest(loan_id=loan_id, filename=file_name(x_file_name), content_type=content_type,
                                    content=content),
        metadata=who.metadata, timeout=gw.clients.timeout)
    added = LoanAttachmentOut.from_proto(reply.attachment)
    return JSONResponse(added.model_dump(mode="json"), status_code=201, headers={
        "Location": f"/api/v1/tenants/{tenant}/loans/{added.loan_id}/attachments/{added.id}"})


@router.get("/loans/{loan_id}/attachments/{attachment_id}",
            responses=DOWNLOAD_RESPONSES)
async def get_attachment(tenant: TenantDep, loan_id: str, attachment_id: str, who: CallerDep,
                         gw: GatewayDep) -> Response:
    """下载申请材料: the file as stored, offered as a download (never rendered in the console's origin)."""
    reply = await gw.clients.desk.GetLoanAttachment(
        pb.GetLoanAttachmentRequest(loan_id=loan_id, attachment_id=attachment_id),
        metadata=who.metadata, timeout=gw.clients.timeout)
    meta = reply.attachment
    return Response(reply.content, media_type=meta.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.filename, safe='')}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
