"""Insights process: consumers and the aggregate gRPC API; everything else comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.insights import consumers, service
from jinqiao.insights.api import InsightsServicer
from jinqiao.insights.settings import InsightsSettings
from jinqiao.insights.v1 import insights_pb2, insights_pb2_grpc
from jinqiao.kit.process import Register, ServiceContext, run_catalogued

SERVICE_NAME = insights_pb2.DESCRIPTOR.services_by_name["InsightsService"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Subscribe the read models and build the servicer."""
    await consumers.subscribe_all(ctx)
    settings = InsightsSettings()
    servicer = InsightsServicer(service.InsightsDeps(db=ctx.db, suppression_threshold=settings.suppression_threshold))
    return [lambda server: insights_pb2_grpc.add_InsightsServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=service.SERVICE, setup=setup)
