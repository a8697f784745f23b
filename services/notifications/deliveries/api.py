"""Deliveries' RPCs: thin, one use-case call each."""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.notifications.deliveries import service as delivery_service
from jinqiao.notifications.deliveries.domain import Status
from jinqiao.notifications.deliveries.models import DeliveryRow
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.v1 import notifications_pb2


def _when(value: datetime | None) -> str:
    """An instant as RFC 3339 in UTC, "" when unset."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else ""


def delivery_to_proto(row: DeliveryRow) -> notifications_pb2.Delivery:
    """The wire form of a delivery: the masked destination only, never the address or the body."""
    waiting = row.status == Status.QUEUED
    return notifications_pb2.Delivery(
        id=row.id, kind=row.kind, category=row.category, channel=notifications_pb2.Channel.ValueType(row.channel),
        recipient_label=row.recipient_label, destination=row.destination_masked,
        status=notifications_pb2.DeliveryStatus.ValueType(row.status), attempts=row.attempts, subject=row.subject,
        created_at=_when(row.created_at), next_attempt_at=_when(row.next_attempt_at) if waiting else "",
        sent_at=_when(row.sent_at), last_error=row.last_error, hold_reason=row.hold_reason if waiting else "",
        event_id=row.event_id)


class DeliveriesApi:
    """The deliveries RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps

    async def ListDeliveries(self, request: notifications_pb2.ListDeliveriesRequest,
                             context: Context) -> notifications_pb2.ListDeliveriesResponse:
        """The county's delivery log, newest first, with the totals by status."""
        rows, token, totals = await delivery_service.list_deliveries(
            deps=self._deps, principal=current_principal(), status=int(request.status), channel=int(request.channel),
            kind=request.kind, page_size_value=request.page_size, page_token=request.page_token)
        return notifications_pb2.ListDeliveriesResponse(
            deliveries=[delivery_to_proto(row) for row in rows], next_page_token=token,
            totals=[notifications_pb2.StatusCount(status=notifications_pb2.DeliveryStatus.ValueType(status),
                                                  count=count) for status, count in totals])

    async def RetryDelivery(self, request: notifications_pb2.RetryDeliveryRequest,
                            context: Context) -> notifications_pb2.RetryDeliveryResponse:
        """Queue a failed or bounced delivery again."""
        row = await delivery_service.retry_delivery(deps=self._deps, principal=current_principal(),
                                                    delivery_id=request.delivery_id)
        return notifications_pb2.RetryDeliveryResponse(delivery=delivery_to_proto(row))
