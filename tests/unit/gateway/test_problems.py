"""Validation problems name each field and say what is wrong in zh-CN (gateway/problems.py)."""

from __future__ import annotations

import json
from typing import Literal

import asyncpg
import grpc
import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field, ValidationError

from jinqiao.gateway.problems import from_grpc, install, validation_fields
from jinqiao.kit import grpcserver


class _In(BaseModel):
    name: str = Field(min_length=2, max_length=5)
    kind: Literal["a", "b"]
    year: int = Field(ge=2000, le=2100)


def _fields(data: object) -> dict[str, str]:
    try:
        _In.model_validate(data)
    except ValidationError as exc:
        return {f["field"]: f["detail"] for f in validation_fields(exc.errors())}
    raise AssertionError("valid")


def test_common_mistakes_are_described_in_chinese():
    assert _fields({"name": "x" * 9, "kind": "c", "year": 1999}) == {
        "name": "不能超过 5 个字符", "kind": "取值无效，可选：'a' or 'b'", "year": "不能小于 2000"}
    assert _fields({"name": 5, "year": "soon"}) == {"name": "应为文本", "kind": "必填", "year": "应为整数"}


def test_an_unknown_error_type_keeps_pydantic_words_and_the_body_is_named_when_there_is_no_field():
    found = validation_fields([{"type": "something_new", "loc": ("body",), "msg": "Something new"}])
    assert found == [{"field": "body", "detail": "Something new"}]


def _unavailable_rpc(dependency: str) -> grpc.aio.AioRpcError:
    """What a service answers when its database is away (the kit's status, RetryInfo 5 s)."""
    status = grpcserver.unavailable_status(dependency)
    return grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(),
                                grpc.aio.Metadata(*status.trailing_metadata), details=status.details)


def test_a_service_whose_database_is_away_answers_503_naming_it_with_retry_after():
    reply = from_grpc(_unavailable_rpc("postgresql"))
    body = json.loads(bytes(reply.body))
    assert reply.status_code == 503 and reply.headers["retry-after"] == "5"
    assert reply.media_type == "application/problem+json"
    assert body["dependency"] == "postgresql" and "数据库（PostgreSQL）暂不可用" in body["detail"]


def test_a_service_that_cannot_be_reached_answers_503_with_retry_after():
    err = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                               details="failed to connect to all addresses")
    reply = from_grpc(err)
    assert reply.status_code == 503 and reply.headers["retry-after"] == "5"
    assert "dependency" not in json.loads(bytes(reply.body))


async def test_the_gateways_own_database_away_is_503_and_a_bug_is_a_500_problem():
    app = FastAPI()
    install(app)

    @app.get("/away")
    async def away() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        reply = await client.get("/away")
        assert reply.status_code == 503 and reply.headers["retry-after"] == "5"
        assert reply.json()["dependency"] == "postgresql"
        reply = await client.get("/bug")
        assert reply.status_code == 500 and reply.headers["content-type"].startswith("application/problem+json")


def _unreachable(code: grpc.StatusCode, service: str) -> grpc.aio.AioRpcError:
    """What the gateway's channel raises when it could not reach ``service`` (clients.NameTheService)."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(("x-jinqiao-service", service)),
                                details="failed to connect to all addresses")


def test_a_named_service_that_cannot_be_reached_is_503_naming_it_in_chinese_with_retry_after():
    reply = from_grpc(_unreachable(grpc.StatusCode.UNAVAILABLE, "registry"))
    body = json.loads(bytes(reply.body))
    assert reply.status_code == 503 and reply.headers["retry-after"] == "2"
    assert body["dependency"] == "registry" and body["dependency_name"] == "党员登记服务"
    assert "党员登记服务暂不可用" in body["detail"]


def test_a_service_that_does_not_answer_in_time_is_504_with_retry_after_not_502():
    reply = from_grpc(_unreachable(grpc.StatusCode.DEADLINE_EXCEEDED, "organizations"))
    body = json.loads(bytes(reply.body))
    assert reply.status_code == 504 and reply.headers["retry-after"] == "2"
    assert body["dependency"] == "organizations" and "组织服务" in body["detail"]
