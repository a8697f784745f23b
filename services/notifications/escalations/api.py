"""Escalations' RPCs: thin, one use-case call each."""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.escalations import service
from jinqiao.notifications.escalations.domain import Escalation
from jinqiao.notifications.v1 import notifications_pb2


def _instant(value: datetime | None) -> str:
    """An instant on the wire: RFC 3339 in UTC, '' when unset."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else ""


def escalation_to_proto(row: Escalation) -> notifications_pb2.Escalation:
    """The wire form of an escalation (no facts: they may name a member; the inbox message carries them)."""
    return notifications_pb2.Escalation(
        id=row.id, kind=row.kind, subject_type=row.subject_type, subject_id=row.subject_id,
        state=notifications_pb2.EscalationState.ValueType(int(row.state)), level=row.level, org_id=row.org_id or "",
        org_name=row.org_name, opened_at=_instant(row.opened_at), next_escalation_at=_instant(row.next_escalation_at),
        acknowledged_at=_instant(row.acknowledged_at), acknowledged_by=row.acknowledged_by, note=row.note,
        resolved_at=_instant(row.resolved_at))


class EscalationsApi:
    """The escalations RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps

    async def AcknowledgeEscalation(self, request: notifications_pb2.AcknowledgeEscalationRequest,
                                    context: Context) -> notifications_pb2.AcknowledgeEscalationResponse:
        """确认 an escalation the caller was told of: it stops climbing the org tree."""
        row = await service.acknowledge(deps=self._deps, principal=current_principal(),
                                        escalation_id=request.escalation_id, note=request.note)
        return notifications_pb2.AcknowledgeEscalationResponse(escalation=escalation_to_proto(row))

    async def ListEscalations(self, request: notifications_pb2.ListEscalationsRequest,
                              context: Context) -> notifications_pb2.ListEscalationsResponse:
        """The county's escalations, newest first."""
        rows, token = await service.list_escalations(
            deps=self._deps, principal=current_principal(), state=int(request.state), kind=request.kind,
            page_size=request.page_size, page_token=request.page_token)
        return notifications_pb2.ListEscalationsResponse(escalations=[escalation_to_proto(r) for r in rows],
                                                         next_page_token=token)
