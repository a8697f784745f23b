"""Notifications process: the only wiring — deps, consumers, the worker and sweeps, and the servicer composed of
each concept's RPCs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from jinqiao.kit import broker as kit_broker
from jinqiao.kit import lifecycle
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.process import Register, ServiceContext, run_catalogued
from jinqiao.notifications import lifecycle as notifications_lifecycle
from jinqiao.notifications.channels import service as channel_service
from jinqiao.notifications.channels.api import ChannelsApi
from jinqiao.notifications.deliveries import timers as delivery_timers
from jinqiao.notifications.deliveries.api import DeliveriesApi
from jinqiao.notifications.deps import SERVICE, NotificationsDeps
from jinqiao.notifications.directory import consumers as directory_consumers
from jinqiao.notifications.escalations import timers as escalation_timers
from jinqiao.notifications.escalations.api import EscalationsApi
from jinqiao.notifications.inbox.api import InboxApi
from jinqiao.notifications.preferences.api import PreferencesApi
from jinqiao.notifications.templates.api import TemplatesApi
from jinqiao.notifications.triggers import consumers as trigger_consumers
from jinqiao.notifications.v1 import notifications_pb2, notifications_pb2_grpc

SERVICE_NAME = notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"].full_name
# The worker sends every few seconds whatever the policy sweeps' interval: a message should not wait a minute.
_WORKER_INTERVAL = 2.0


class NotificationsServicer(InboxApi, EscalationsApi, PreferencesApi, DeliveriesApi, TemplatesApi, ChannelsApi,
                            notifications_pb2_grpc.NotificationsServiceServicer):
    """jinqiao.notifications.v1.NotificationsService: each concept's RPCs over the same deps."""

    def __init__(self, deps: NotificationsDeps) -> None:
        self._deps = deps


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Subscribe the directory's and the triggers' consumers, start the worker and the sweep, build the servicer."""
    lifecycle.register(*notifications_lifecycle.KINDS)  # old deliveries, per the retention policy
    deps = NotificationsDeps(db=ctx.db, cipher=FieldCipher.from_settings(ctx.settings))
    for source in ("registry", "organizations", "desk"):
        await kit_broker.ensure_stream(ctx.broker, service=source)
    directory_consumers.subscribe(ctx, deps)
    trigger_consumers.subscribe(ctx, deps)
    if ctx.settings.timer_interval_seconds > 0:
        interval = ctx.settings.timer_interval_seconds
        worker = min(interval, _WORKER_INTERVAL)
        ctx.run_in_background(lambda: delivery_timers.run_forever(deps=deps, interval=worker))
        ctx.run_in_background(lambda: escalation_timers.run_forever(deps=deps, interval=interval))
    ctx.run_in_background(lambda: _close_adapters_at_stop(deps))
    servicer = NotificationsServicer(deps)
    return [lambda server: notifications_pb2_grpc.add_NotificationsServiceServicer_to_server(servicer, server)]


async def _close_adapters_at_stop(deps: NotificationsDeps) -> None:
    """Wait for the process's stop (this task's cancellation), then close the adapters' HTTP clients."""
    try:
        await asyncio.Event().wait()
    finally:
        await channel_service.close_adapters(deps=deps)


if __name__ == "__main__":
    run_catalogued(service=SERVICE, setup=setup)
