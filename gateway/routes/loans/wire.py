"""The micro-loans' JSON shapes shared by their route modules (programmes, applications, repayments).

Field names are the proto's; enums travel as snake_case names without their prefix (``LOAN_STATUS_CREDIT_GRANTED``
↔ ``"credit_granted"``); money is integer 分 (``*_fen``); rates basis points (``*_bp``); dates ISO; instants RFC 3339.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from jinqiao.desk.v1 import loans_pb2
from jinqiao.gateway.routes.desk.wire import ts
from jinqiao.gateway.wire import Body, enum_out

ProductName = Literal["pioneer", "micro_credit", "startup_guarantee"]
SponsorName = Literal["county", "city", "province"]
MethodName = Literal["equal_instalment", "equal_principal", "interest_only"]
LoanStatusName = Literal["submitted", "recommended", "reviewed", "approved", "credit_granted", "disbursed", "settled",
                         "refused", "withdrawn"]
TierName = Literal["branch", "township", "county", "bank"]
DecisionName = Literal["approve", "refuse"]
GradeName = Literal["", "EXCELLENT", "COMPETENT", "BASICALLY_COMPETENT"]

# Bounds a JSON number must keep to reach the int64/int32 fields unharmed (fuzzing finds the rest).
MAX_FEN = 10**13  # 1,000 亿元: far above any programme, far below int64
MAX_BP = 10_000


def _enum(enum: object, prefix: str, value: int) -> str:
    """The snake_case name, or "" for UNSPECIFIED."""
    return "" if value == 0 else enum_out(enum, prefix, value)  # type: ignore[arg-type]


class RulesModel(Body):
    """A programme's eligibility rules; zero/empty/false means no such rule."""

    allow_probationary: bool = Field(default=False, description="预备党员可申请")
    min_party_years: int = Field(default=0, ge=0, le=80, description="入党年限（整年）不少于")
    min_grade: GradeName = Field(default="", description="最近一次双向评议等次不低于")
    require_no_overdue: bool = Field(default=True, description="本县（区）无逾期贷款")
    min_age: int = Field(default=0, ge=0, le=120, description="年龄下限（按出生年份计）")
    max_age: int = Field(default=0, ge=0, le=120, description="年龄上限（按出生年份计，0 为不限）")
    require_returnee: bool = Field(default=False, description="须为返乡创业（回归）党员")

    @classmethod
    def from_proto(cls, r: loans_pb2.EligibilityRules) -> RulesModel:
        """Map the wire form."""
        grade: GradeName = ""
        for known in get_args(GradeName):
            if r.min_grade == known:
                grade = known
        return cls(allow_probationary=r.allow_probationary, min_party_years=r.min_party_years, min_grade=grade,
                   require_no_overdue=r.require_no_overdue, min_age=r.min_age, max_age=r.max_age,
                   require_returnee=r.require_returnee)

    def to_proto(self) -> loans_pb2.EligibilityRules:
        """The proto form."""
        return loans_pb2.EligibilityRules(**self.model_dump())


class ProgrammeOut(BaseModel):
    """A loan programme (贷款项目) of a county."""

    id: str
    tenant_id: str
    name: str
    description: str
    product: str
    sponsor: str
    shared_code: str
    bank_code: str
    bank_name: str
    cap_per_person_fen: int
    min_amount_fen: int
    max_term_months: int
    methods: list[str]
    rate_bp: int
    subsidy_bp: int
    total_quota_fen: int
    committed_fen: int
    window_start: str
    window_end: str
    rules: RulesModel
    township_final_up_to_fen: int
    review_days: int
    bank_days: int
    active: bool
    version: int
    created_at: datetime | None

    @classmethod
    def from_proto(cls, p: loans_pb2.LoanProgramme) -> ProgrammeOut:
        """Map the wire form."""
        return cls(
            id=p.id, tenant_id=p.tenant_id, name=p.name, description=p.description,
            product=_enum(loans_pb2.LoanProduct, "LOAN_PRODUCT", p.product),
            sponsor=_enum(loans_pb2.ProgrammeSponsor, "PROGRAMME_SPONSOR", p.sponsor), shared_code=p.shared_code,
            bank_code=p.bank_code, bank_name=p.bank_name, cap_per_person_fen=p.cap_per_person_fen,
            min_amount_fen=p.min_amount_fen, max_term_months=p.max_term_months,
            methods=[_enum(loans_pb2.RepaymentMethod, "REPAYMENT_METHOD", m) for m in p.methods],
            rate_bp=p.rate_bp, subsidy_bp=p.subsidy_bp, total_quota_fen=p.total_quota_fen,
            committed_fen=p.committed_fen, window_start=p.window_start, window_end=p.window_end,
            rules=RulesModel.from_proto(p.rules), township_final_up_to_fen=p.township_final_up_to_fen,
            review_days=p.review_days, bank_days=p.bank_days, active=p.active, version=p.version,
            created_at=ts(p, "create_time"),
        )


class RuleResultOut(BaseModel):
    """One eligibility rule checked: its key, wording, outcome and what was found."""

    rule: str
    label: str
    passed: bool
    detail: str

    @classmethod
    def from_proto(cls, r: loans_pb2.RuleResult) -> RuleResultOut:
        """Map the wire form."""
        return cls(rule=r.rule, label=r.label, passed=r.passed, detail=r.detail)


class LoanOut(BaseModel):
    """A loan application and, once disbursed, the loan."""

    id: str
    tenant_id: str
    number: str
    programme_id: str
    programme_name: str
    product: str
    bank_code: str
    bank_name: str
    member_id: str
    member_name: str
    home_org_id: str
    township: str
    amount_fen: int
    term_months: int
    method: str
    purpose: str
    business_plan: str
    status: str
    pending_tier: str
    step_due_at: datetime | None
    step_overdue: bool
    channel: str
    applied_by: str
    refused_tier: str
    refusal_reason: str
    granted_amount_fen: int
    rate_bp: int
    subsidy_bp: int
    disbursed_on: str
    outstanding_principal_fen: int
    overdue_fen: int
    days_past_due: int
    next_due_date: str
    next_due_fen: int
    settled_on: str
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    eligibility: list[RuleResultOut]
    attachment_count: int

    @classmethod
    def from_proto(cls, x: loans_pb2.Loan) -> LoanOut:
        """Map the wire form."""
        return cls(
            id=x.id, tenant_id=x.tenant_id, number=x.number, programme_id=x.programme_id,
            programme_name=x.programme_name, product=_enum(loans_pb2.LoanProduct, "LOAN_PRODUCT", x.product),
            bank_code=x.bank_code, bank_name=x.bank_name, member_id=x.member_id, member_name=x.member_name,
            home_org_id=x.home_org_id, township=x.township, amount_fen=x.amount_fen, term_months=x.term_months,
            method=_enum(loans_pb2.RepaymentMethod, "REPAYMENT_METHOD", x.method), purpose=x.purpose,
            business_plan=x.business_plan, status=_enum(loans_pb2.LoanStatus, "LOAN_STATUS", x.status),
            pending_tier=_enum(loans_pb2.LoanTier, "LOAN_TIER", x.pending_tier),
            step_due_at=ts(x, "step_due_time"), step_overdue=x.step_overdue,
            channel=_enum(loans_pb2.LoanChannel, "LOAN_CHANNEL", x.channel), applied_by=x.applied_by,
            refused_tier=_enum(loans_pb2.LoanTier, "LOAN_TIER", x.refused_tier), refusal_reason=x.refusal_reason,
            granted_amount_fen=x.granted_amount_fen, rate_bp=x.rate_bp, subsidy_bp=x.subsidy_bp,
            disbursed_on=x.disbursed_on, outstanding_principal_fen=x.outstanding_principal_fen,
            overdue_fen=x.overdue_fen, days_past_due=x.days_past_due, next_due_date=x.next_due_date,
            next_due_fen=x.next_due_fen, settled_on=x.settled_on, created_at=ts(x, "create_time"),
            updated_at=ts(x, "update_time"), version=x.version,
            eligibility=[RuleResultOut.from_proto(r) for r in x.eligibility], attachment_count=x.attachment_count,
        )


class LoanPageOut(BaseModel):
    """A page of loans and the count of all that match."""

    loans: list[LoanOut]
    total: int
