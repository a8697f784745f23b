"""Registry process: the only wiring — deps, consumers, timers and the servicer composed of each concept's RPCs."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.kit import broker as kit_broker
from jinqiao.kit import lifecycle
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.process import Register, ServiceContext, run_catalogued
from jinqiao.registry import lifecycle as registry_lifecycle
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.development.api import DevelopmentApi
from jinqiao.registry.erasure import service as erasure_service
from jinqiao.registry.erasure import timers as erasure_timers
from jinqiao.registry.erasure.api import ErasureApi
from jinqiao.registry.flows import consumers as flow_consumers
from jinqiao.registry.flows import timers
from jinqiao.registry.flows.api import FlowsApi
from jinqiao.registry.imports.api import ImportsApi
from jinqiao.registry.members import consumers as member_consumers
from jinqiao.registry.members.api import MembersApi
from jinqiao.registry.notebook import consumers as notebook_consumers
from jinqiao.registry.notebook.api import NotebookApi
from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


class RegistryServicer(MembersApi, ErasureApi, FlowsApi, NotebookApi, DevelopmentApi, ImportsApi,
                       registry_pb2_grpc.RegistryServiceServicer):
    """jinqiao.registry.v1.RegistryService: each concept's RPCs over the same deps."""

    def __init__(self, deps: RegistryDeps) -> None:
        self._deps = deps


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Subscribe the consumers, start the policy timers, build the servicer over the pool and the PII keys."""
    lifecycle.register(*registry_lifecycle.KINDS)  # closed flows, per the province's retention policy
    deps = RegistryDeps(
        db=ctx.db, cipher=FieldCipher.from_settings(ctx.settings), blind_index=BlindIndex.from_settings(ctx.settings)
    )
    await kit_broker.ensure_stream(ctx.broker, service="organizations")
    flow_consumers.subscribe(ctx)
    notebook_consumers.subscribe(ctx, deps)
    member_consumers.subscribe(ctx, deps)
    if ctx.settings.timer_interval_seconds > 0:
        ctx.run_in_background(lambda: timers.run_forever(deps=deps, interval=ctx.settings.timer_interval_seconds))
        # The scheduled erasure of departed members' personal fields (issue 18), on the same cadence; the period is
        # the policy's member_departed, read once here (a bad policy file stops the start).
        departed_days = erasure_service.departed_period_days(ctx.settings)
        ctx.run_in_background(lambda: erasure_timers.run_forever(
            deps=deps, interval=ctx.settings.timer_interval_seconds, period_days=departed_days))
    servicer = RegistryServicer(deps)
    return [lambda server: registry_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=SERVICE, setup=setup)
