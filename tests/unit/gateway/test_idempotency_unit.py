"""Idempotency-Key without a database: the key's form, the OpenAPI header, and the request id routes pass on."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from jinqiao.gateway import idempotency
from jinqiao.gateway.app import create_app
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.settings import GatewaySettings


def test_a_key_is_one_to_a_hundred_printable_ascii_characters():
    assert idempotency.valid_key("3f6c2a7e-0d4b-4c6e-9a51-1f2e3d4c5b6a")
    assert idempotency.valid_key("x" * 100) and idempotency.valid_key("a b")
    assert not idempotency.valid_key("") and not idempotency.valid_key("x" * 101)
    assert not idempotency.valid_key("键") and not idempotency.valid_key("a\tb") and not idempotency.valid_key("a\x7f")


def test_every_unsafe_operation_documents_the_header_and_the_login_routes_say_it_is_ignored():
    document = create_app(GatewaySettings.model_construct()).openapi()
    seen = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            headers = [p for p in operation.get("parameters", [])
                       if p["in"] == "header" and p["name"].lower() == "idempotency-key"]
            if method not in ("post", "put", "patch", "delete"):
                assert not headers, (method, path)
                continue
            seen += 1
            assert len(headers) == 1, (method, path)
            header = headers[0]
            assert header["required"] is False and header["schema"]["maxLength"] == 100
            if path.startswith("/api/v1/auth/"):
                assert header["description"].startswith("接受但忽略")
            else:
                assert header["description"].startswith("幂等键")
    assert seen >= 30


async def test_a_route_gets_the_callers_key_as_request_id_or_a_fresh_one():
    app = FastAPI()

    @app.post("/echo")
    async def echo(request_id: RequestIdDep) -> dict[str, str]:
        return {"request_id": request_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        given = (await client.post("/echo", headers={"Idempotency-Key": "k-1"})).json()["request_id"]
        first = (await client.post("/echo")).json()["request_id"]
        second = (await client.post("/echo")).json()["request_id"]
    assert given == "k-1"
    assert first.startswith("gw-") and second.startswith("gw-") and first != second
    assert len(first) <= 100


async def test_a_malformed_key_is_a_400_problem_naming_the_header_before_anything_runs():
    ran = []

    async def app(scope, receive, send) -> None:
        ran.append(scope["path"])

    middleware = idempotency.IdempotencyMiddleware(app)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        reply = await client.post("/api/v1/tenants/411525/orgs", json={}, headers={"Idempotency-Key": "x" * 101})
    assert reply.status_code == 400 and reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["title"] == "幂等键无效" and body["errors"][0]["field"] == "Idempotency-Key"
    assert ran == []


async def test_without_a_started_gateway_or_on_the_login_routes_the_key_is_passed_by():
    seen = []

    async def app(scope, receive, send) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = idempotency.IdempotencyMiddleware(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://gateway") as client:
        for path in ("/api/v1/auth/token", "/api/v1/tenants/411525/orgs"):
            reply = await client.post(path, json={}, headers={"Idempotency-Key": "k"})
            assert reply.status_code == 200 and "idempotency-replayed" not in reply.headers
        # An empty key is no key (the documented default), and a login route ignores even a malformed one.
        assert (await client.post("/api/v1/tenants/411525/orgs", json={}, headers={"Idempotency-Key": ""})
                ).status_code == 200
        assert (await client.post("/api/v1/auth/token", json={}, headers={"Idempotency-Key": "x" * 200})
                ).status_code == 200
    assert seen == ["/api/v1/auth/token", "/api/v1/tenants/411525/orgs", "/api/v1/tenants/411525/orgs",
                    "/api/v1/auth/token"]


async def test_a_claim_the_database_could_not_settle_is_settled_in_the_background_once_it_is_back(monkeypatch):
    import asyncio

    real_sleep = asyncio.sleep
    waits: list[float] = []

    async def fast_sleep(delay: float) -> None:
        if asyncio.current_task() not in middleware._background:  # asyncio's sleep is shared with other tasks
            await real_sleep(delay)
            return
        waits.append(delay)
        await real_sleep(0)

    attempts = 0

    async def release() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise ConnectionRefusedError("database away")

    middleware = idempotency.IdempotencyMiddleware(FastAPI())
    monkeypatch.setattr(idempotency.asyncio, "sleep", fast_sleep)
    await middleware._settle(release)  # the first try fails: the answer does not wait for the database
    assert attempts == 1
    await asyncio.gather(*middleware._background)
    assert attempts == 4
    assert waits == [0.5, 1.0, 2.0]
