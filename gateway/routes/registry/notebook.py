"""A member's 活动记事本 and 双向评议: ``/api/v1/tenants/{tenant}/members/{id}/…`` over the registry's gRPC API.

What the member did while away (``activities``: entries the destination recorded, organisational life attended as a
guest) and the yearly evaluation merging the destination's and the home branch's assessments (``evaluations``).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body
from jinqiao.registry.v1 import flows_pb2

# Tagged as before the split, so the published document (its operations' tags) does not change.
router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["flows"])

GradeName = Literal["excellent", "competent", "basically_competent", "incompetent"]


class NotebookEntryOut(BaseModel):
    """One 活动记事本 entry, checked by the organisation that recorded it."""

    id: str
    occurred_on: str
    title: str
    note: str
    org_name: str
    source: str
    verified: bool


@router.get("/members/{member_id}/activities", response_model=list[NotebookEntryOut])
async def activities(tenant: TenantDep, member_id: str, who: CallerDep, gw: GatewayDep) -> list[NotebookEntryOut]:
    """A member's 活动记事本 (members see their own)."""
    reply = await gw.clients.registry.ListActivities(flows_pb2.ListActivitiesRequest(member_id=member_id),
                                                     metadata=who.metadata, timeout=gw.clients.timeout)
    return [NotebookEntryOut(id=a.id, occurred_on=a.occurred_on, title=a.title, note=a.note, org_name=a.org_name,
                             source=a.source.lower(), verified=a.verified) for a in reply.activities]


def _grade(value: flows_pb2.Grade.ValueType) -> str | None:
    return flows_pb2.Grade.Name(value).removeprefix("GRADE_").lower() if value else None


class EvaluationOut(BaseModel):
    """双向评议 of one year: both sides and the merged grade."""

    year: int
    destination_grade: str | None
    destination_comment: str
    destination_org_name: str
    home_grade: str | None
    home_comment: str
    final_grade: str | None
    complete: bool

    @classmethod
    def from_proto(cls, e: flows_pb2.Evaluation) -> EvaluationOut:
        """Map the wire form."""
        return cls(year=e.year, destination_grade=_grade(e.destination_grade),
                   destination_comment=e.destination_comment, destination_org_name=e.destination_org_name,
                   home_grade=_grade(e.home_grade),
                   home_comment=e.home_comment, final_grade=_grade(e.final_grade), complete=e.complete)


class HomeAssessmentIn(Body):
    """The home branch's assessment."""

    year: int = Field(ge=2000, le=2100)
    grade: GradeName
    comment: str = Field(default="", max_length=500)


@router.get("/members/{member_id}/evaluations", response_model=list[EvaluationOut])
async def evaluations(tenant: TenantDep, member_id: str, who: CallerDep, gw: GatewayDep) -> list[EvaluationOut]:
    """A member's yearly 双向评议, newest first."""
    reply = await gw.clients.registry.ListEvaluations(flows_pb2.ListEvaluationsRequest(member_id=member_id),
                                                      metadata=who.metadata, timeout=gw.clients.timeout)
    return [EvaluationOut.from_proto(e) for e in reply.evaluations]


@router.post("/members/{member_id}/evaluations", response_model=EvaluationOut)
async def home_assessment(tenant: TenantDep, member_id: str, body: HomeAssessmentIn, who: CallerDep,
                          gw: GatewayDep) -> EvaluationOut:
    """Record the home branch's side; the evaluation merges it with the destination's."""
    reply = await gw.clients.registry.RecordHomeAssessment(
        flows_pb2.RecordHomeAssessmentRequest(member_id=member_id, year=body.year, comment=body.comment,
                                              grade=flows_pb2.Grade.Value(f"GRADE_{body.grade.upper()}")),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return EvaluationOut.from_proto(reply.evaluation)
