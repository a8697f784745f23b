"""A database that goes away answers UNAVAILABLE naming it, with RetryInfo, and serves again when it is back.

The outage is real: the service's pool talks to PostgreSQL through a TCP relay that this test closes (dropping
every connection and refusing new ones) and reopens.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from jinqiao.kit import grpcserver
from jinqiao.kit.auth import Role, TokenVerifier
from jinqiao.kit.db import Database
from tests.faults import Relay
from tests.faults import via as _via
from tests.integration.conftest import bearer

METHOD = "/jinqiao.insights.v1.InsightsService/GetMemberCounts"


def _details(err: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo]:
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                detail.Unpack(info) or detail.Unpack(retry)
    return info, retry


@pytest.fixture
async def relayed_db(databases):
    dsn, target = _via(databases["registry"].app_dsn, 0)
    relay = Relay(target)
    dsn, _ = _via(databases["registry"].app_dsn, relay.port)
    await relay.open()
    db = await Database.connect(dsn, min_size=1, max_size=2)
    yield db, relay
    await relay.cut()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(db.close(), 5)


async def test_a_database_outage_answers_unavailable_naming_it_and_the_service_recovers(relayed_db, secrets, issuer):
    db, relay = relayed_db

    async def counts(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        async with db.pool.acquire(timeout=2) as conn:
            return str(await conn.fetchval("SELECT 1")).encode()

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "jinqiao.insights.v1.InsightsService",
            {"GetMemberCounts": grpc.unary_unary_rpc_method_handler(counts)}),))

    verifier = TokenVerifier(public_key_pem=secrets.jwt_public.read_bytes(), issuer="jinqiao", audience="jinqiao")
    app = await grpcserver.start_server(verifier=verifier, service_names=["jinqiao.insights.v1.InsightsService"],
                                        register=[register], host="127.0.0.1", port=0, service="outage-test")
    token, _ = issuer.issue(user="admin-411525", role=Role.COUNTY_ADMIN, scope="411525", tenant="411525")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            call = channel.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            assert await call(b"", metadata=bearer(token), timeout=10) == b"1"

            await relay.cut()
            codes = []
            for _ in range(3):  # a dropped connection, then refused reconnects
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call(b"", metadata=bearer(token), timeout=10)
                codes.append(caught.value.code())
                info, retry = _details(caught.value)
                assert info.reason == "DEPENDENCY_UNAVAILABLE" and info.metadata["dependency"] == "postgresql"
                assert retry.retry_delay.seconds > 0
                assert "数据库" in (caught.value.details() or "")
            assert codes == [grpc.StatusCode.UNAVAILABLE] * 3

            await relay.open()
            replies = []
            for _ in range(20):  # the pool reconnects on its own once the database is back
                try:
                    replies.append(await call(b"", metadata=bearer(token), timeout=10))
                    break
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.UNAVAILABLE
                    await asyncio.sleep(0.2)
            assert replies == [b"1"]
    finally:
        await app.stop(0)
