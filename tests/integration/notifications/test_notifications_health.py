"""Notifications starts on the session's PostgreSQL and NATS: healthy, reflected."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from jinqiao.kit import catalog
from tests.integration.conftest import start_catalogued


async def test_notifications_serves_health_and_reflection(settings_for):
    entry = catalog.get("notifications")
    running = await start_catalogued(entry, settings_for("notifications"))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=entry.proto_service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            ask = reflection_pb2.ServerReflectionRequest(list_services="")
            async for answer in reflection.ServerReflectionInfo(iter([ask]), timeout=5):
                listed = {service.name for service in answer.list_services_response.service}
                break
            assert entry.proto_service in listed
    finally:
        await running.stop()
