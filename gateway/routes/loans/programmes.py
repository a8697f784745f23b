"""Micro-loan routes: a county's loan programmes (贷款项目) — list, read, create and update them, and check a
member's eligibility against one before applying (rule by rule)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jinqiao.desk.v1 import loans_pb2
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.routes.loans.wire import (
    MAX_BP,
    MAX_FEN,
    MethodName,
    ProductName,
    ProgrammeOut,
    RuleResultOut,
    RulesModel,
    SponsorName,
)
from jinqiao.gateway.wire import INT32_MAX, Body, enum_in

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["loans"])


class ProgrammeIn(Body):
    """A programme's terms; amounts 0 and empty lists take the product's defaults (党员先锋贷 30 万元 36 个月,
    创业担保贷款 20 万元 36 个月 with 贴息 from the LPR, every repayment method, 5 and 10 working days). A new
    programme takes applications within its window; the county stops it by an update (``active``: false)."""

    name: str = Field(min_length=1, max_length=60, description="项目名称（2–60 个字）")
    description: str = Field(default="", max_length=2000, description="项目说明")
    product: ProductName = Field(description="贷款产品：pioneer 党员先锋贷、micro_credit 小额信用贷款、"
                                             "startup_guarantee 创业担保贷款")
    sponsor: SponsorName = Field(default="county", description="项目主体：county 县（区）、city 市（州）、province 省")
    shared_code: str = Field(default="", max_length=40, description="共享项目代码（市、省统筹项目在各县相同）")
    bank_code: str = Field(min_length=1, max_length=32, description="合作银行代码（小写字母、数字、连字符），如 gsrcb")
    bank_name: str = Field(min_length=1, max_length=60, description="合作银行名称")
    cap_per_person_fen: int = Field(default=0, ge=0, le=MAX_FEN, description="单户（人）贷款上限（分）；0 取产品默认")
    min_amount_fen: int = Field(default=0, ge=0, le=MAX_FEN, description="最低申请金额（分）")
    max_term_months: int = Field(default=0, ge=0, le=360, description="最长期限（月）；0 取产品默认")
    methods: list[MethodName] = Field(default_factory=list, max_length=3,
                                      description="可选还款方式；空则三种均可")
    rate_bp: int = Field(default=0, ge=0, le=MAX_BP, description="年利率（基点，1 基点 = 0.01%）")
    subsidy_bp: int = Field(default=0, ge=0, le=MAX_BP,
                            description="贴息（基点）；创业担保贷款为 0 时按 LPR−150 基点以上部分计")
    total_quota_fen: int = Field(ge=1, le=MAX_FEN, description="项目总额度（分）")
    window_start: date | None = Field(default=None, description="申请开始日期；不填为今天")
    window_end: date | None = Field(default=None, description="申请截止日期；不填为长期")
    rules: RulesModel = Field(default_factory=RulesModel, description="申请条件")
    township_final_up_to_fen: int = Field(default=0, ge=0, le=MAX_FEN,
                                          description="不超过此金额由乡镇终审（分）；0 为均由县级审批")
    review_days: int = Field(default=0, ge=0, le=60, description="每级审核时限（工作日）；0 为 5 个工作日")
    bank_days: int = Field(default=0, ge=0, le=60, description="银行审批时限（工作日）；0 为 10 个工作日")

    def to_proto(self, *, programme_id: str = "", version: int = 0, active: bool = True) -> loans_pb2.LoanProgramme:
        """The proto form."""
        return loans_pb2.LoanProgramme(
            id=programme_id, name=self.name, description=self.description,
            product=enum_in(loans_pb2.LoanProduct, "LOAN_PRODUCT", self.product),
            sponsor=enum_in(loans_pb2.ProgrammeSponsor, "PROGRAMME_SPONSOR", self.sponsor),
            shared_code=self.shared_code, bank_code=self.bank_code, bank_name=self.bank_name,
            cap_per_person_fen=self.cap_per_person_fen, min_amount_fen=self.min_amount_fen,
            max_term_months=self.max_term_months,
            methods=[enum_in(loans_pb2.RepaymentMethod, "REPAYMENT_METHOD", m) for m in self.methods],
            rate_bp=self.rate_bp, subsidy_bp=self.subsidy_bp, total_quota_fen=self.total_quota_fen,
            window_start=self.window_start.isoformat() if self.window_start else "",
            window_end=self.window_end.isoformat() if self.window_end else "", rules=self.rules.to_proto(),
            township_final_up_to_fen=self.township_final_up_to_fen, review_days=self.review_days,
            bank_days=self.bank_days, active=active, version=version)


class ProgrammeUpdateIn(ProgrammeIn):
    """A programme's new terms (they replace the old ones) and the version they were read at."""

    active: bool = Field(default=True, description="是否受理申请（停办为 false）")
    version: int = Field(ge=1, le=INT32_MAX, description="读取时的版本号（他人已修改则冲突）")


class EligibilityIn(Body):
    """Whom to check (staff name the member; a member checks themself), for what amount and term."""

    member_id: str = Field(default="", max_length=36, description="党员编号（党员本人不填）")
    amount_fen: int = Field(ge=1, le=MAX_FEN, description="申请金额（分）")
    term_months: int = Field(ge=1, le=360, description="期限（月）")


class EligibilityOut(BaseModel):
    """Whether the member may apply, and every rule checked with what was found."""

    eligible: bool
    results: list[RuleResultOut]


@router.get("/loan-programmes", response_model=list[ProgrammeOut])
async def list_programmes(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    open_only: Annotated[bool, Query(description="只列今天受理申请的项目")] = False,
) -> list[ProgrammeOut]:
    """The county's loan programmes (a partner bank: its own)."""
    reply = await gw.clients.desk.ListLoanProgrammes(loans_pb2.ListLoanProgrammesRequest(open_only=open_only),
                                                     metadata=who.metadata, timeout=gw.clients.timeout)
    return [ProgrammeOut.from_proto(p) for p in reply.programmes]


@router.post("/loan-programmes", status_code=201, response_model=ProgrammeOut)
async def create_programme(tenant: TenantDep, body: ProgrammeIn, who: CallerDep, gw: GatewayDep,
                           response: Response, idempotency_key: RequestIdDep) -> ProgrammeOut:
    """Create a programme of the county with its partner bank (the same Idempotency-Key returns the same one)."""
    reply = await gw.clients.desk.CreateLoanProgramme(
        loans_pb2.CreateLoanProgrammeRequest(programme=body.to_proto(), request_id=idempotency_key),
        metadata=who.metadata, timeout=gw.clients.timeout)
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/loan-programmes/{reply.programme.id}"
    return ProgrammeOut.from_proto(reply.programme)


@router.get("/loan-programmes/{programme_id}", response_model=ProgrammeOut)
async def get_programme(tenant: TenantDep, programme_id: str, who: CallerDep, gw: GatewayDep) -> ProgrammeOut:
    """One programme of the county."""
    reply = await gw.clients.desk.GetLoanProgramme(loans_pb2.GetLoanProgrammeRequest(id=programme_id),
                                                   metadata=who.metadata, timeout=gw.clients.timeout)
    return ProgrammeOut.from_proto(reply.programme)


@router.put("/loan-programmes/{programme_id}", response_model=ProgrammeOut)
async def update_programme(tenant: TenantDep, programme_id: str, body: ProgrammeUpdateIn, who: CallerDep,
                           gw: GatewayDep) -> ProgrammeOut:
    """Replace a programme's terms (409 when someone changed it since ``version``; the quota never below what
    approvals hold)."""
    reply = await gw.clients.desk.UpdateLoanProgramme(
        loans_pb2.UpdateLoanProgrammeRequest(programme=body.to_proto(programme_id=programme_id, version=body.version,
                                                                     active=body.active)),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ProgrammeOut.from_proto(reply.programme)


@router.post("/loan-programmes/{programme_id}/eligibility", response_model=EligibilityOut)
async def check_eligibility(tenant: TenantDep, programme_id: str, body: EligibilityIn, who: CallerDep,
                            gw: GatewayDep) -> EligibilityOut:
    """Check a member against a programme before applying: every rule with what was found."""
    reply = await gw.clients.desk.CheckLoanEligibility(
        loans_pb2.CheckLoanEligibilityRequest(programme_id=programme_id, member_id=body.member_id,
                                              amount_fen=body.amount_fen, term_months=body.term_months),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return EligibilityOut(eligible=reply.eligible, results=[RuleResultOut.from_proto(r) for r in reply.results])
