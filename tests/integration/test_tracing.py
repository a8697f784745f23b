"""One trace from the HTTP request to the consumer: gateway → gRPC → DB → outbox relay → NATS → insights."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit import telemetry
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from tests.integration.conftest import eventually
from tests.support import member_json

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    telemetry.configure_tracing(service="tests", exporter=exporter)
    return exporter


async def test_one_trace_spans_gateway_grpc_db_relay_and_consumer(platform, spans, settings_for, admin_conn_factory):
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    await upsert_account(db=db, account=Account(username="trace-410105", role=Role.COUNTY_ADMIN, scope="410105",
                                                acting_tenant="410105"), password="pw-trace")
    await db.close()
    token = (await platform.http.post("/api/v1/auth/token", json={"username": "trace-410105",
                                                                 "password": "pw-trace"})).json()["access_token"]
    reply = await platform.http.post(
        "/api/v1/tenants/410105/members", json=member_json("410105"),
        headers={"Authorization": f"Bearer {token}", "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
    )
    assert reply.status_code == 201

    def names() -> set[str]:
        return {s.name for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID}

    async def complete() -> bool:
        return any(n.startswith("insights-member-counts") for n in names())

    await eventually(complete)
    seen = names()
    assert "POST /api/v1/tenants/410105/members" in seen
    assert "/jinqiao.registry.v1.RegistryService/CreateMember" in seen
    assert "COMMIT" in seen
    assert "publish jinqiao.events.v1.MemberRegistered" in seen
    conn = await admin_conn_factory("registry")
    traceparent = await conn.fetchval(
        "SELECT traceparent FROM outbox WHERE tenant_id = '410105' ORDER BY id DESC LIMIT 1"
    )
    assert traceparent.split("-")[1] == TRACE_ID
