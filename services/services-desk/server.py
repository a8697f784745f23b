"""Desk process: the one place the service is wired; the rest comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.desk import service
from jinqiao.desk.api import DeskServicer
from jinqiao.desk.v1 import desk_pb2, desk_pb2_grpc
from jinqiao.kit.process import Register, ServiceContext, run_catalogued

SERVICE_NAME = desk_pb2.DESCRIPTOR.services_by_name["DeskService"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Build the servicer; consumers are subscribed and timers started here once the service has them."""
    servicer = DeskServicer(service.DeskDeps(db=ctx.db))
    return [lambda server: desk_pb2_grpc.add_DeskServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=service.SERVICE, setup=setup)
