"""One way to wrap a gRPC aio handler so that every call runs inside an async context (used by all interceptors)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import grpc

# Subscripted only for the type checker: grpc's classes are not generic at run time.
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Scope: TypeAlias = "Callable[[Any, Context], AbstractAsyncContextManager[Any]]"


def wrap_unary(handler: Handler | None, scope: Scope) -> Handler | None:
    """Rebuild a unary-request handler so each call (and each stream, whole) runs inside ``scope(request, context)``.

    Streaming-request handlers and synchronous ones pass through unchanged: wrapping a sync handler in a
    coroutine would move it off the server's thread pool onto the event loop.
    """
    if handler is None or handler.request_streaming:
        return handler
    inner = handler.unary_stream if handler.response_streaming else handler.unary_unary
    if inspect.isasyncgenfunction(inner):

        async def streamed(request: Any, context: Context) -> Any:
            async with scope(request, context):
                async for response in inner(request, context):
                    yield response

        behavior: Callable[..., Any] = streamed
    elif inspect.iscoroutinefunction(inner):

        async def awaited(request: Any, context: Context) -> Any:
            async with scope(request, context):
                return await inner(request, context)

        behavior = awaited
    else:
        return handler
    make = grpc.unary_stream_rpc_method_handler if handler.response_streaming else grpc.unary_unary_rpc_method_handler
    return make(behavior, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
