"""The gateway's channels retry what is safe while a service is away, and a service that stays away is a 503.

The services here are this test's own gRPC servers on free ports (the session's platform keeps running): one that
starts listening only after the call was made, one that answers UNAVAILABLE once, one too slow, and none at all.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import grpc
import httpx
import pytest

from jinqiao.gateway import problems
from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.gateway.app import create_app
from jinqiao.gateway.clients import ServiceClients
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.insights.v1 import insights_pb2, insights_pb2_grpc
from jinqiao.kit import catalog
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.kit.runtime.ports import free_port
from jinqiao.organizations.v1 import organizations_pb2 as orgs
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc
from tests.support import member_request

PASSWORD = "retries-pw"


class Insights(insights_pb2_grpc.InsightsServiceServicer):
    """Answers the flow matrix; optionally too slowly."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    async def GetFlowMatrix(self, request, context):  # noqa: N802 - gRPC's name
        self.calls += 1
        await asyncio.sleep(self.delay)
        return insights_pb2.GetFlowMatrixResponse(scope=request.scope)


class Flaky:
    """Counts calls and answers UNAVAILABLE (as a service whose database is away does) to the first ``fail``."""

    def __init__(self, fail: int) -> None:
        self.calls = 0
        self.fail = fail

    async def answer(self, context, reply):
        self.calls += 1
        if self.calls <= self.fail:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "database away")
        return reply


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, flaky: Flaky) -> None:
        self.flaky = flaky

    async def CreateMember(self, request, context):  # noqa: N802
        return await self.flaky.answer(context, registry_pb2.CreateMemberResponse(
            member=registry_pb2.Member(id=request.request_id)))


class Organizations(organizations_pb2_grpc.OrganizationsServiceServicer):
    def __init__(self, flaky: Flaky) -> None:
        self.flaky = flaky

    async def CreateOrg(self, request, context):  # noqa: N802
        return await self.flaky.answer(context, orgs.CreateOrgResponse())


async def _serve(port: int, add) -> grpc.aio.Server:
    server = grpc.aio.server()
    add(server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


def _clients(port: int, *, timeout: float = 15.0) -> ServiceClients:
    return ServiceClients.connect(targets={e.name: f"127.0.0.1:{port}" for e in catalog.grpc_services()},
                                  timeout=timeout)


async def test_a_read_made_while_the_service_is_down_succeeds_when_it_comes_back():
    port = free_port()
    # Without the retry policy the same call fails at once: nothing listens yet.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await insights_pb2_grpc.InsightsServiceStub(plain).GetFlowMatrix(
                insights_pb2.GetFlowMatrixRequest(scope="41"), timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    clients = _clients(port)
    servicer = Insights()
    server = None
    try:
        call = asyncio.ensure_future(clients.insights.GetFlowMatrix(insights_pb2.GetFlowMatrixRequest(scope="41"),
                                                                    timeout=clients.timeout))
        await asyncio.sleep(0.3)
        assert not call.done()  # still being retried, not failed
        server = await _serve(port, lambda s: insights_pb2_grpc.add_InsightsServiceServicer_to_server(servicer, s))
        reply = await call
        assert reply.scope == "41" and servicer.calls == 1
    finally:
        await clients.close()
        if server is not None:
            await server.stop(None)


async def test_a_write_is_repeated_only_when_its_request_id_makes_it_safe():
    port = free_port()
    registry, orgs_flaky = Flaky(fail=1), Flaky(fail=1)

    def add(server: grpc.aio.Server) -> None:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(Registry(registry), server)
        organizations_pb2_grpc.add_OrganizationsServiceServicer_to_server(Organizations(orgs_flaky), server)

    server = await _serve(port, add)
    clients = _clients(port)
    try:
        request_id = str(uuid.uuid4())
        reply = await clients.registry.CreateMember(member_request(request_id=request_id), timeout=clients.timeout)
        assert reply.member.id == request_id and registry.calls == 2  # UNAVAILABLE once, then repeated
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await clients.organizations.CreateOrg(orgs.CreateOrgRequest(name="x"), timeout=clients.timeout)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE and orgs_flaky.calls == 1  # never repeated
        answer = problems.from_grpc(raised.value)
        # The service answered itself (no ErrorInfo here): it is named as the dependency that is away.
        assert answer.status_code == 503 and json.loads(bytes(answer.body))["dependency"] == "organizations"
    finally:
        await clients.close()
        await server.stop(None)


async def test_a_service_too_slow_for_the_deadline_is_a_504_naming_it():
    port = free_port()
    server = await _serve(port, lambda s: insights_pb2_grpc.add_InsightsServiceServicer_to_server(
        Insights(delay=5), s))
    clients = _clients(port, timeout=0.5)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await clients.insights.GetFlowMatrix(insights_pb2.GetFlowMatrixRequest(scope="41"),
                                                 timeout=clients.timeout)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        answer = problems.from_grpc(raised.value)
        body = json.loads(bytes(answer.body))
        assert answer.status_code == 504 and answer.headers["retry-after"] == "2"
        assert body["dependency"] == "insights" and "统计分析服务" in body["detail"]
    finally:
        await clients.close()
        await server.stop(None)


@pytest.fixture
async def gateway_without_services(settings_for):
    """A second gateway over the session's database and NATS whose every service target has nothing listening."""
    dead = {e.name: f"127.0.0.1:{free_port()}" for e in catalog.grpc_services()}
    settings = settings_for("gateway", GatewaySettings, http_port=free_port(), targets=dead)
    db = await Database.connect(settings.database_url, min_size=1, max_size=1)
    for account in (Account(username="retry-county-411525", role=Role.COUNTY_ADMIN, scope="411525",
                            acting_tenant="411525"),
                    Account(username="retry-province", role=Role.PROVINCE_ANALYST, scope="41", acting_tenant=None)):
        await upsert_account(db=db, account=account, password=PASSWORD)
    await db.close()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=30) as http:
            yield http


async def _login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    reply = await http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def test_a_service_that_stays_down_is_503_with_retry_after_naming_it(gateway_without_services,
                                                                         admin_conn_factory):
    http = gateway_without_services
    province = await _login(http, "retry-province")
    reply = await http.get("/api/v1/scopes/41/insights/members", headers=province)
    assert reply.status_code == 503 and reply.headers["retry-after"] == "2"
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["dependency"] == "insights" and body["dependency_name"] == "统计分析服务"
    assert "统计分析服务暂不可用" in body["detail"]
    # A POST answered 503 keeps nothing under its key: the same key may be used again once the service is back.
    county = await _login(http, "retry-county-411525")
    key = str(uuid.uuid4())
    reply = await http.post("/api/v1/tenants/411525/orgs", json={"name": "x镇党委", "kind": "county_committee"},
                            headers={**county, "Idempotency-Key": key})
    assert reply.status_code == 503 and reply.json()["dependency"] == "organizations"
    assert reply.headers["retry-after"] == "2"
    conn = await admin_conn_factory("gateway")
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", key) == 0
