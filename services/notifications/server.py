"""Notifications process: the one place the service is wired; the rest comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.kit import catalog
from jinqiao.kit.process import Register, ServiceContext, run_service, serve
from jinqiao.kit.settings import KitSettings
from jinqiao.notifications import service
from jinqiao.notifications.api import NotificationsServicer
from jinqiao.notifications.v1 import notifications_pb2, notifications_pb2_grpc

SERVICE_NAME = notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Build the servicer; consumers are subscribed and timers started here once the service has them."""
    servicer = NotificationsServicer(service.NotificationsDeps(db=ctx.db))
    return [lambda server: notifications_pb2_grpc.add_NotificationsServiceServicer_to_server(servicer, server)]


async def main(settings: KitSettings) -> None:
    """Serve until SIGTERM or SIGINT."""
    produces_events = catalog.get(service.SERVICE).produces_events
    await serve(settings, service=service.SERVICE, service_names=[SERVICE_NAME], produces_events=produces_events,
                setup=setup)


if __name__ == "__main__":
    run_service(main, service=service.SERVICE)
