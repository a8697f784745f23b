"""发展党员 among migrants: routes under ``/api/v1/tenants/{tenant}/…``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.wire import Body
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import development_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["development"])

StageName = Literal["applicant", "activist", "candidate", "probationary", "full"]
SideName = Literal["home", "destination"]
STAGE_IN: dict[str, pb.DevelopmentStage.ValueType] = {
    "applicant": pb.DEVELOPMENT_STAGE_APPLICANT, "activist": pb.DEVELOPMENT_STAGE_ACTIVIST,
    "candidate": pb.DEVELOPMENT_STAGE_CANDIDATE, "probationary": pb.DEVELOPMENT_STAGE_PROBATIONARY,
    "full": pb.DEVELOPMENT_STAGE_FULL,
}
STAGE_OUT = {v: k for k, v in STAGE_IN.items()}


class MentorIn(Body):
    """A 培养联系人; the phone is encrypted at rest and shown masked."""

    name: str = Field(min_length=1, max_length=50, description="姓名")
    phone: str = Field(default="", max_length=32, description="手机号码")
    side: SideName = Field(description="流出地 home / 流入地 destination")
    org_name: str = Field(default="", max_length=100, description="所在党组织")


class ApplicantIn(Body):
    """An application (入党申请) of someone working away; the ID number is checked by the registry (GB 11643)."""

    name: str = Field(min_length=1, max_length=50, description="姓名")
    id_number: str = Field(min_length=1, max_length=32, description="公民身份号码")
    phone: str = Field(default="", max_length=32, description="手机号码")
    township: str = Field(default="", max_length=100, description="乡镇")
    village: str = Field(default="", max_length=100, description="村(社区)")
    destination_code: str = Field(default="", max_length=6, description="务工地行政区划代码")
    employer: str = Field(default="", max_length=100, description="务工单位")
    application_date: str = Field(max_length=10, description="申请入党日期 YYYY-MM-DD")
    mentors: list[MentorIn] = Field(default_factory=list, max_length=4, description="培养联系人")
    delegated: bool = Field(default=False, description="委托流入地党组织培养")
    delegated_org_name: str = Field(default="", max_length=100, description="受委托党组织")
    home_org_id: str = Field(default="", max_length=36,
                             description="所属党组织（党支部或乡镇党委）编号；乡镇党委登记时必填，须在本乡镇内")


class AdvanceIn(Body):
    """The next stage, the date it was reached, and the version the caller saw."""

    stage: StageName
    date: str = Field(max_length=10, description="YYYY-MM-DD")
    version: int = Field(ge=1)


class InspectionIn(Body):
    """One 双向考察 report."""

    side: SideName = Field(description="流出地 home / 流入地 destination")
    inspected_on: str = Field(max_length=10, description="考察日期 YYYY-MM-DD")
    inspector: str = Field(min_length=1, max_length=50, description="考察人")
    summary: str = Field(min_length=1, max_length=1000, description="考察意见")


class MentorOut(BaseModel):
    """A mentor; the phone is masked."""

    name: str
    phone_masked: str
    side: str
    org_name: str


class StageOut(BaseModel):
    """When a stage was reached."""

    stage: str
    date: str


class InspectionOut(BaseModel):
    """One inspection report."""

    id: str
    side: str
    inspected_on: str
    inspector: str
    summary: str


class ApplicantOut(BaseModel):
    """An applicant; ID and phone numbers are always masked."""

    id: str
    tenant_id: str
    name: str
    gender: str
    birth_date: str
    id_number_masked: str
    phone_masked: str
    township: str
    village: str
    destination_code: str | None
    destination_name: str | None
    employer: str
    stage: str
    stages: list[StageOut]
    mentors: list[MentorOut]
    inspections: list[InspectionOut]
    delegated: bool
    delegated_org_name: str
    version: int
    home_org_id: str | None = None

    @classmethod
    def from_proto(cls, a: pb.Applicant) -> ApplicantOut:
        """Map the wire form."""
        return cls(
            id=a.id, tenant_id=a.tenant_id, name=a.name, gender=a.gender, birth_date=a.birth_date,
            id_number_masked=a.id_number_masked, phone_masked=a.phone_masked, township=a.township,
            village=a.village, destination_code=a.destination_code or None,
            destination_name=name_of(a.destination_code) if a.destination_code else None, employer=a.employer,
            stage=STAGE_OUT.get(a.stage, "unspecified"),
            stages=[StageOut(stage=STAGE_OUT.get(s.stage, "unspecified"), date=s.date) for s in a.stages],
            mentors=[MentorOut(name=m.name, phone_masked=m.phone_masked, side=m.side.lower(), org_name=m.org_name)
                     for m in a.mentors],
            inspections=[InspectionOut(id=i.id, side=i.side.lower(), inspected_on=i.inspected_on,
                                       inspector=i.inspector, summary=i.summary) for i in a.inspections],
            delegated=a.delegated, delegated_org_name=a.delegated_org_name, version=a.version,
            home_org_id=a.home_org_id or None,
        )


class ApplicantPage(BaseModel):
    """One page of applicants."""

    applicants: list[ApplicantOut]
    next_page_token: str


@router.post("/applicants", status_code=201, response_model=ApplicantOut)
async def create_applicant(
    tenant: TenantDep, body: ApplicantIn, who: CallerDep, gw: GatewayDep, response: Response,
    idempotency_key: RequestIdDep,
) -> ApplicantOut:
    """Record an application (入党申请); repeat with the same Idempotency-Key to retry safely."""
    reply = await gw.clients.registry.CreateApplicant(
        pb.CreateApplicantRequest(
            name=body.name, id_number=body.id_number, phone=body.phone, township=body.township,
            village=body.village, destination_code=body.destination_code, employer=body.employer,
            application_date=body.application_date,
            mentors=[pb.MentorInput(name=m.name, phone=m.phone, side=m.side.upper(), org_name=m.org_name)
                     for m in body.mentors],
            delegated=body.delegated, delegated_org_name=body.delegated_org_name, request_id=idempotency_key,
            home_org_id=body.home_org_id,
        ),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/applicants/{reply.applicant.id}"
    return ApplicantOut.from_proto(reply.applicant)


@router.get("/applicants", response_model=ApplicantPage)
async def list_applicants(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 50, page_token: Annotated[str, Query(max_length=200)] = "",
    stage: StageName | None = None,
) -> ApplicantPage:
    """A page of the county's applicants, newest first, optionally of one stage."""
    reply = await gw.clients.registry.ListApplicants(
        pb.ListApplicantsRequest(page_size=page_size, page_token=page_token,
                                 stage=STAGE_IN[stage] if stage else pb.DEVELOPMENT_STAGE_UNSPECIFIED),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return ApplicantPage(applicants=[ApplicantOut.from_proto(a) for a in reply.applicants],
                         next_page_token=reply.next_page_token)


@router.get("/applicants/{applicant_id}", response_model=ApplicantOut)
async def get_applicant(tenant: TenantDep, applicant_id: str, who: CallerDep, gw: GatewayDep) -> ApplicantOut:
    """One applicant of the county."""
    reply = await gw.clients.registry.GetApplicant(
        pb.GetApplicantRequest(id=applicant_id), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return ApplicantOut.from_proto(reply.applicant)


@router.post("/applicants/{applicant_id}/advance", response_model=ApplicantOut)
async def advance_applicant(tenant: TenantDep, applicant_id: str, body: AdvanceIn, who: CallerDep,
                            gw: GatewayDep) -> ApplicantOut:
    """Move an applicant to the next stage on a date; a stale version answers 409."""
    reply = await gw.clients.registry.AdvanceApplicant(
        pb.AdvanceApplicantRequest(id=applicant_id, stage=STAGE_IN[body.stage], date=body.date,
                                   version=body.version),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return ApplicantOut.from_proto(reply.applicant)


@router.post("/applicants/{applicant_id}/inspections", status_code=201, response_model=ApplicantOut)
async def add_inspection(tenant: TenantDep, applicant_id: str, body: InspectionIn, who: CallerDep,
                         gw: GatewayDep) -> ApplicantOut:
    """Record one 双向考察 report; returns the applicant with it."""
    reply = await gw.clients.registry.AddInspection(
        pb.AddInspectionRequest(id=applicant_id, side=body.side.upper(), inspected_on=body.inspected_on,
                                inspector=body.inspector, summary=body.summary),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return ApplicantOut.from_proto(reply.applicant)
