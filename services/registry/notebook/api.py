"""Registry gRPC methods for the 活动记事本 and 双向评议 (mixed into the servicer): unpack, one use-case call, map back.

The messages live in ``flows.proto`` (the wire did not change when the concept moved out of flows).
"""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.notebook import domain as notebook
from jinqiao.registry.notebook import service
from jinqiao.registry.v1 import flows_pb2


def _evaluation(e: notebook.Evaluation) -> flows_pb2.Evaluation:
    final, complete = e.final
    return flows_pb2.Evaluation(
        member_id=e.member_id, year=e.year, destination_grade=flows_pb2.Grade.ValueType(e.destination_grade),
        destination_comment=e.destination_comment, destination_org_name=e.destination_org_name,
        home_grade=flows_pb2.Grade.ValueType(e.home_grade), home_comment=e.home_comment,
        final_grade=flows_pb2.Grade.ValueType(final), complete=complete,
    )


class NotebookApi:
    """The activity notebook and 双向评议."""

    _deps: RegistryDeps

    async def ListActivities(self, request: flows_pb2.ListActivitiesRequest,
                             context: Context) -> flows_pb2.ListActivitiesResponse:
        """A member's 活动记事本."""
        activities = await service.list_activities(deps=self._deps, principal=current_principal(),
                                                   member_id=request.member_id)
        return flows_pb2.ListActivitiesResponse(activities=[flows_pb2.Activity(
            id=a.id, occurred_on=a.occurred_on.isoformat(), title=a.title, note=a.note, org_name=a.org_name,
            source=a.source, verified=a.verified) for a in activities])

    async def RecordHomeAssessment(self, request: flows_pb2.RecordHomeAssessmentRequest,
                                   context: Context) -> flows_pb2.RecordHomeAssessmentResponse:
        """The home branch's side of 双向评议."""
        evaluation = await service.record_home_assessment(
            deps=self._deps, principal=current_principal(), member_id=request.member_id, year=request.year,
            grade=request.grade, comment=request.comment,
        )
        return flows_pb2.RecordHomeAssessmentResponse(evaluation=_evaluation(evaluation))

    async def ListEvaluations(self, request: flows_pb2.ListEvaluationsRequest,
                              context: Context) -> flows_pb2.ListEvaluationsResponse:
        """Yearly evaluations."""
        evaluations = await service.list_evaluations(deps=self._deps, principal=current_principal(),
                                                     member_id=request.member_id)
        return flows_pb2.ListEvaluationsResponse(evaluations=[_evaluation(e) for e in evaluations])
