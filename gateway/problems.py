"""RFC 9457 problem+json responses, and the one mapping from gRPC status to HTTP."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2, status_pb2
from starlette.exceptions import HTTPException as StarletteHTTPException

from jinqiao.kit import availability, errors
from jinqiao.kit.grpcserver import code_for

MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("jinqiao.gateway")

_HTTP_FOR_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "请求参数无效"),
    grpc.StatusCode.NOT_FOUND: (404, "未找到"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "已存在"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "当前状态不允许此操作"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "未登录或登录已过期"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "无权执行此操作"),
    grpc.StatusCode.UNAVAILABLE: (503, "服务暂不可用，请稍后再试"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "服务响应超时"),
}


def problem(status: int, title: str, detail: str = "", errors_: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> JSONResponse:
    """A problem+json response; ``errors`` lists offending fields as {field, detail}; ``extra`` adds members."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors_:
        body["errors"] = errors_
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _status_details(err: grpc.aio.AioRpcError) -> list[Any]:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            return list(status_pb2.Status.FromString(value).details)
    return []


def _field_violations(err: grpc.aio.AioRpcError) -> list[dict[str, str]]:
    for detail in _status_details(err):
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return [{"field": v.field, "detail": v.description} for v in bad.field_violations]
    return []


# The catalogued services as a user reads them, for the problem that says which one is away.
SERVICE_NAMES = {
    "registry": "党员登记服务",
    "organizations": "组织服务",
    "insights": "统计分析服务",
    "desk": "服务台",
    "notifications": "通知服务",
}
# The trailing metadata key in which the gateway's channels name the service a call could not reach (clients.py).
SERVICE_KEY = "x-jinqiao-service"
# A service restarting is back within a couple of seconds (the channels reconnect every ≤ 5 s).
SERVICE_RETRY_AFTER_SECONDS = 2


def dependency_name(dependency: str) -> str:
    """The name a user reads for a dependency code (``postgresql``, ``registry``)."""
    return availability.NAMES.get(dependency) or SERVICE_NAMES.get(dependency) or dependency


def unavailable(dependency: str | None, retry_after: int = availability.RETRY_AFTER_SECONDS) -> JSONResponse:
    """503 with Retry-After, naming the dependency that is away when it is known."""
    name = dependency_name(dependency) if dependency else "所需的服务"
    extra = {"dependency": dependency, "dependency_name": name} if dependency else None
    return problem(503, "服务暂不可用，请稍后再试", f"{name}暂不可用，请 {retry_after} 秒后重试",
                   headers={"Retry-After": str(retry_after)}, extra=extra)


def _service_of(err: grpc.aio.AioRpcError) -> str | None:
    for key, value in err.trailing_metadata() or ():
        if key == SERVICE_KEY and isinstance(value, str):
            return value
    return None


def _unavailable_from(err: grpc.aio.AioRpcError) -> JSONResponse:
    dependency, retry_after = None, None
    for detail in _status_details(err):
        info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            dependency = info.metadata.get("dependency") or None
        elif detail.Unpack(retry):
            retry_after = max(1, retry.retry_delay.seconds + (1 if retry.retry_delay.nanos else 0))
    if dependency is None:
        # No ErrorInfo: the service itself could not be reached (restarting, not listening) after the retries.
        dependency = _service_of(err)
        if retry_after is None and dependency is not None:
            retry_after = SERVICE_RETRY_AFTER_SECONDS
    return unavailable(dependency, retry_after or availability.RETRY_AFTER_SECONDS)


def _timed_out(err: grpc.aio.AioRpcError) -> JSONResponse:
    """504 with Retry-After, naming the service that did not answer in time."""
    service = _service_of(err)
    name = dependency_name(service) if service else "所需的服务"
    retry_after = SERVICE_RETRY_AFTER_SECONDS
    return problem(504, "服务响应超时", f"{name}未能及时响应，请 {retry_after} 秒后重试",
                   headers={"Retry-After": str(retry_after)},
                   extra={"dependency": service, "dependency_name": name} if service else None)


def from_grpc(err: grpc.aio.AioRpcError) -> JSONResponse:
    """Translate a service's status to HTTP, keeping the field violations; 503 and 504 say when to retry and why."""
    if err.code() == grpc.StatusCode.UNAVAILABLE:
        return _unavailable_from(err)
    if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return _timed_out(err)
    status, title = _HTTP_FOR_GRPC.get(err.code(), (502, "上游服务错误"))
    detail = (err.details() or "") if status < 500 else ""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, title, detail, _field_violations(err), headers)


# Pydantic's error types → what is wrong, in zh-CN ({…} from the error's context); others keep pydantic's words.
_VALIDATION_ZH = {
    "missing": "必填",
    "string_type": "应为文本",
    "string_too_short": "不能少于 {min_length} 个字符",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "包含无效的 Unicode 字符",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_parsing_size": "数值超出范围",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "literal_error": "取值无效，可选：{expected}",
    "enum": "取值无效，可选：{expected}",
    "list_type": "应为数组",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "date_type": "应为日期，如 2024-05-01",
    "date_parsing": "应为日期，如 2024-05-01",
    "date_from_datetime_parsing": "应为日期，如 2024-05-01",
    "datetime_type": "应为日期时间，如 2024-05-01T09:00:00+08:00",
    "datetime_parsing": "应为日期时间，如 2024-05-01T09:00:00+08:00",
    "datetime_from_date_parsing": "应为日期时间，如 2024-05-01T09:00:00+08:00",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "extra_forbidden": "不允许的字段",
}


def validation_fields(found: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors as {field, detail}: the field's path, and what is wrong in zh-CN where the type is known."""
    fields = []
    for e in found:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        template = _VALIDATION_ZH.get(e.get("type", ""))
        try:
            detail = template.format(**(e.get("ctx") or {})) if template else str(e.get("msg", "无效"))
        except (KeyError, IndexError, ValueError):
            detail = str(e.get("msg", "无效"))
        fields.append({"field": ".".join(loc) or "body", "detail": detail})
    return fields


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _grpc(_: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        return from_grpc(exc)

    @app.exception_handler(errors.DomainError)
    async def _domain(_: Request, exc: errors.DomainError) -> JSONResponse:
        code, title = _HTTP_FOR_GRPC[code_for(exc)]
        fields = [{"field": v.field, "detail": v.description} for v in getattr(exc, "violations", [])]
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        return problem(code, title, exc.message, fields, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "请求参数无效", "", validation_fields(exc.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The gateway's own database (logins, sessions, county systems) away: 503 with Retry-After, not a 500.
        dependency = availability.unavailable_dependency(exc)
        if dependency is None:
            log.exception("unhandled error in request", exc_info=exc)
            return problem(500, "服务内部错误")
        log.warning("dependency unavailable: %s", dependency)
        return unavailable(dependency)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))
