"""Desk process: the one place the service is wired; the rest comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.desk import service
from jinqiao.desk.api import DeskServicer
from jinqiao.desk.v1 import desk_pb2, desk_pb2_grpc
from jinqiao.kit import catalog
from jinqiao.kit.process import Register, ServiceContext, run_service, serve
from jinqiao.kit.settings import KitSettings

SERVICE_NAME = desk_pb2.DESCRIPTOR.services_by_name["DeskService"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Build the servicer; consumers are subscribed and timers started here once the service has them."""
    servicer = DeskServicer(service.DeskDeps(db=ctx.db))
    return [lambda server: desk_pb2_grpc.add_DeskServiceServicer_to_server(servicer, server)]


async def main(settings: KitSettings) -> None:
    """Serve until SIGTERM or SIGINT."""
    produces_events = catalog.get(service.SERVICE).produces_events
    await serve(settings, service=service.SERVICE, service_names=[SERVICE_NAME], produces_events=produces_events,
                setup=setup)


if __name__ == "__main__":
    run_service(main, service=service.SERVICE)
