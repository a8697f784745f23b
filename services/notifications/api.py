"""Notifications gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.notifications import service
from jinqiao.notifications.v1 import notifications_pb2_grpc


class NotificationsServicer(notifications_pb2_grpc.NotificationsServiceServicer):
    """jinqiao.notifications.v1.NotificationsService."""

    def __init__(self, deps: service.NotificationsDeps) -> None:
        self._deps = deps
