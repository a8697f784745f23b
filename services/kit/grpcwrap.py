"""One way to wrap a gRPC aio handler so that every call runs inside an async context (used by all interceptors),
and the one gate every request passes before any use case sees it: what no service could store or act on is
refused as INVALID_ARGUMENT naming the field, instead of failing deep inside as INTERNAL."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.kit.fields import CONTROL_CHARACTERS

# Subscripted only for the type checker: grpc's classes are not generic at run time.
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Scope: TypeAlias = "Callable[[Any, Context], AbstractAsyncContextManager[Any]]"
Deserializer: TypeAlias = "Callable[[bytes], Any]"

NUL = CONTROL_CHARACTERS  # PostgreSQL text cannot hold NUL; the other control characters are the use case's
ENUM_RANGE = "取值无效"
TIMESTAMP_RANGE = "时间超出可表示的范围（0001-01-01 至 9999-12-31）"
UNDECODABLE = "请求无法解析：不是有效的 protobuf 消息，或文本不是有效的 UTF-8"
# What a google.protobuf.Timestamp may hold: 0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799
# Every enum is stored as a smallint: a number beyond it is no value of any enum here, and no column could hold it.
# A number inside it that the schema does not define is the use case's to refuse, with the request's other faults.
_ENUM_MIN, _ENUM_MAX = -(2**15), 2**15 - 1
_CHECKED = "_jinqiao_checks_requests"


def refusals(message: Message, prefix: str = "") -> list[FieldViolation]:
    """Every field of ``message`` (nested, repeated and map values too) that no service can take: text with NUL
    (PostgreSQL text cannot hold it), an enum number beyond a smallint, a Timestamp out of range. A repeated scalar
    is named by its field (as the use cases name it), an element of a repeated message by its index."""
    found: list[FieldViolation] = []
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = (field.message_type.fields_by_name[n] for n in ("key", "value"))
            for key, item in value.items():
                _check(key_field, key, f"{path}[{key!r}]", found)
                _check(value_field, item, f"{path}[{key!r}]", found)
        elif field.is_repeated:
            for index, item in enumerate(value):
                before = len(found)
                _check(field, item, f"{path}[{index}]" if field.message_type is not None else path, found)
                if field.message_type is None and len(found) > before:
                    break  # one violation per repeated scalar field
        else:
            _check(field, value, path, found)
    return found


def _check(field: FieldDescriptor, value: Any, path: str, found: list[FieldViolation]) -> None:
    if field.type == FieldDescriptor.TYPE_STRING:
        if "\x00" in value:
            found.append(FieldViolation(path, NUL))
    elif field.enum_type is not None:
        if not _ENUM_MIN <= value <= _ENUM_MAX:
            found.append(FieldViolation(path, ENUM_RANGE))
    elif field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS and 0 <= value.nanos <= 999_999_999):
                found.append(FieldViolation(path, TIMESTAMP_RANGE))
        else:
            found.extend(refusals(value, path + "."))


@dataclass(frozen=True, slots=True)
class Refused:
    """Stands in for a request the gate refused; the innermost wrapper raises its error inside the call's scopes."""

    error: InvalidArgument


def checked(deserializer: Deserializer | None) -> Deserializer | None:
    """A request deserializer that hands on a ``Refused`` instead of a request no service could take (once)."""
    if deserializer is None or getattr(deserializer, _CHECKED, False):
        return deserializer
    parse = deserializer

    def read(data: bytes) -> Any:
        try:
            request = parse(data)
        except DecodeError:
            return Refused(InvalidArgument.field("request", UNDECODABLE))
        found = refusals(request) if isinstance(request, Message) else []
        return Refused(InvalidArgument(found)) if found else request

    setattr(read, _CHECKED, True)
    return read


def _admitted(request: Any) -> Any:
    if isinstance(request, Refused):
        raise request.error
    return request


def wrap_unary(handler: Handler | None, scope: Scope) -> Handler | None:
    """Rebuild a unary-request handler so each call (and each stream, whole) runs inside ``scope(request, context)``.

    The first wrapper of a handler (the innermost interceptor) also puts the request gate on its deserializer and
    raises the gate's refusal inside its scope, so every outer scope (error mapping, metrics) sees it as a domain
    error. Streaming-request handlers and synchronous ones pass through unchanged: wrapping a sync handler in a
    coroutine would move it off the server's thread pool onto the event loop.
    """
    if handler is None or handler.request_streaming:
        return handler
    inner = handler.unary_stream if handler.response_streaming else handler.unary_unary
    gates = handler.request_deserializer is not None and not getattr(handler.request_deserializer, _CHECKED, False)
    admit: Callable[[Any], Any] = _admitted if gates else (lambda request: request)
    if inspect.isasyncgenfunction(inner):

        async def streamed(request: Any, context: Context) -> Any:
            async with scope(request, context):
                async for response in inner(admit(request), context):
                    yield response

        behavior: Callable[..., Any] = streamed
    elif inspect.iscoroutinefunction(inner):

        async def awaited(request: Any, context: Context) -> Any:
            async with scope(request, context):
                return await inner(admit(request), context)

        behavior = awaited
    else:
        return handler
    make = grpc.unary_stream_rpc_method_handler if handler.response_streaming else grpc.unary_unary_rpc_method_handler
    return make(behavior, request_deserializer=checked(handler.request_deserializer),
                response_serializer=handler.response_serializer)
