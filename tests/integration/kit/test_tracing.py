"""One trace from the HTTP request to the consumer: gateway → gRPC → DB → outbox relay → NATS → insights."""

from __future__ import annotations

import asyncpg
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from jinqiao.events.v1 import registry_events_pb2
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
    # Spans are named by route template, so the path's values stay out of the name.
    assert "POST /api/v1/tenants/{tenant}/members" in seen
    assert "/jinqiao.registry.v1.RegistryService/CreateMember" in seen
    assert {"INSERT", "COMMIT"} <= seen
    assert "publish jinqiao.events.v1.MemberRegistered" in seen
    conn = await admin_conn_factory("registry")
    # Other tests' events land in this county too: find this member's own outbox row.
    rows = await conn.fetch("SELECT payload, traceparent FROM outbox WHERE tenant_id = '410105'"
                            " AND subject = 'jinqiao.410105.registry.member_registered'")
    member_id = reply.json()["id"]
    (traceparent,) = [r["traceparent"] for r in rows
                      if registry_events_pb2.MemberRegistered.FromString(r["payload"]).member_id == member_id]
    assert traceparent.split("-")[1] == TRACE_ID


SAGA_TRACE = "5ce0e9a56015fec5aadfa328ae398115"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


async def test_every_step_of_a_flow_carries_the_trace_of_its_first_step(platform, spans, settings_for,
                                                                        admin_conn_factory):
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    await upsert_account(db=db, account=Account(username="trace-411527", role=Role.COUNTY_ADMIN, scope="411527",
                                                acting_tenant="411527"), password="pw-trace")
    await db.close()
    token = (await platform.http.post("/api/v1/auth/token", json={"username": "trace-411527",
                                                                 "password": "pw-trace"})).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    member = (await platform.http.post("/api/v1/tenants/411527/members", json=member_json("411527"),
                                       headers=auth)).json()
    flow = (await platform.http.post(
        f"/api/v1/tenants/411527/members/{member['id']}/flows",
        json={"destination_code": "320500", "address": "苏州工业园区", "industry": "电子", "start_date": "2026-11-01",
              "expected_months": 6},
        headers={**auth, "traceparent": f"00-{SAGA_TRACE}-00f067aa0ba902b7-01"})).json()

    async def answered() -> bool:
        got = (await platform.http.get(f"/api/v1/tenants/411527/flows/{flow['id']}", headers=auth)).json()
        return got["status"] != "registered"

    await eventually(answered)
    # The return is another request with a trace of its own; its event still continues the flow's trace.
    returned = await platform.http.post(f"/api/v1/tenants/411527/flows/{flow['id']}/return", json={},
                                        headers={**auth, "traceparent": f"00-{OTHER_TRACE}-00f067aa0ba902b7-01"})
    assert returned.status_code == 200, returned.text
    registry, organizations = await admin_conn_factory("registry"), await admin_conn_factory("organizations")
    query = ("SELECT event_type, traceparent FROM outbox WHERE tenant_id = '411527'"
             " AND position($1::bytea IN payload) > 0 ORDER BY id")
    events = [*await registry.fetch(query, flow["id"].encode()), *await organizations.fetch(query, flow["id"].encode())]
    kinds = {e["event_type"].rsplit(".", 1)[1] for e in events}
    assert {"FlowRegistered", "FlowClosed"} <= kinds and kinds & {"TemporaryMembershipOffered",
                                                                  "TemporaryMembershipRefused"}
    assert {e["traceparent"].split("-")[1] for e in events} == {SAGA_TRACE}
    audit = await registry.fetchval("SELECT trace_id FROM audit_log WHERE tenant_id = '411527' AND action ="
                                    " 'flow.return' AND object_id = $1", flow["id"])
    assert audit == OTHER_TRACE


PHONE = "13812345678"


async def test_a_query_span_carries_the_statement_but_never_its_parameters(platform, spans, admin_conn_factory):
    conn = await admin_conn_factory("registry")
    await conn.execute("CREATE TEMPORARY TABLE contacts (phone text)")
    with telemetry.tracer("test").start_as_current_span("request") as request:
        await conn.execute("INSERT INTO contacts (phone) VALUES ($1)", PHONE)
        # asyncpg quotes a badly typed argument in its error; that must not reach the span either.
        with pytest.raises(asyncpg.DataError):
            await conn.execute("INSERT INTO contacts (phone) VALUES ($1)", int(PHONE))

    inserts = [s for s in spans.get_finished_spans()
               if s.name == "INSERT" and s.context.trace_id == request.get_span_context().trace_id]
    assert len(inserts) == 2
    for span in inserts:
        assert span.attributes["db.statement"] == "INSERT INTO contacts (phone) VALUES ($1)"
        assert PHONE not in span.to_json()
    assert inserts[1].status.status_code is StatusCode.ERROR
