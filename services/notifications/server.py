"""Notifications process: the one place the service is wired; the rest comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.kit.process import Register, ServiceContext, run_catalogued
from jinqiao.notifications import service
from jinqiao.notifications.api import NotificationsServicer
from jinqiao.notifications.v1 import notifications_pb2, notifications_pb2_grpc

SERVICE_NAME = notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Build the servicer; consumers are subscribed and timers started here once the service has them."""
    servicer = NotificationsServicer(service.NotificationsDeps(db=ctx.db))
    return [lambda server: notifications_pb2_grpc.add_NotificationsServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=service.SERVICE, setup=setup)
