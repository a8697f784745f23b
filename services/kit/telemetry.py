"""Logs, traces and metrics for every service: structlog JSON, OpenTelemetry W3C propagation, Prometheus."""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    gc_collector,
    platform_collector,
    process_collector,
    start_http_server,
)

from jinqiao.kit.grpcwrap import wrap_unary

log = logging.getLogger("jinqiao.telemetry")

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER = trace.get_tracer("jinqiao.kit.telemetry")

# Libraries that log every call or message at info; WARNING keeps them quiet on hot paths (DESIGN §7).
_NOISY_LOGGERS = ("grpc", "asyncpg", "uvicorn", "uvicorn.access", "uvicorn.error", "faststream", "nats")

# Server-side codes that mean the server failed; the rest are the caller's problem (OTel rpc conventions).
_SERVER_FAULTS = frozenset({
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS,
})

# Fields this module fills in itself; a hex trace id can hold an 11-digit run that looks like a phone.
_OWN_FIELDS = frozenset({"timestamp", "level", "service", "logger", "trace_id", "span_id"})

_logging_key: tuple[Any, ...] | None = None
_stdlib_handler: logging.Handler | None = None
_provider: TracerProvider | None = None


# ---------------------------------------------------------------------------------------------- logging


def _scrub_value(value: Any, scrub: Callable[[str], str]) -> Any:
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int):
        # An 18-digit ID number or an 11-digit phone can arrive as an int; keep ints that are harmless.
        text = str(value)
        masked = scrub(text)
        return value if masked == text else masked
    if isinstance(value, dict):
        return {key: _scrub_value(item, scrub) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(item, scrub) for item in value]
    # The renderers would repr() any other object anyway; scrubbing that repr keeps dataclass fields out.
    return scrub(repr(value))


def _pii_scrubber(scrub: Callable[[str], str]) -> structlog.typing.Processor:
    def scrub_pii(_: Any, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
        for key, value in event_dict.items():
            if key not in _OWN_FIELDS:
                event_dict[key] = _scrub_value(value, scrub)
        return event_dict

    return scrub_pii


def _service_adder(service: str) -> structlog.typing.Processor:
    def add_service(_: Any, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
        event_dict["service"] = service
        return event_dict

    return add_service


def _add_trace_ids(_: Any, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    # A valid context also covers sampled-out spans, whose ids still join this line to the caller's trace.
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = format(span_context.trace_id, "032x")
        event_dict["span_id"] = format(span_context.span_id, "016x")
    return event_dict


class _NamedPrintLogger(structlog.PrintLogger):
    """A PrintLogger to the current stdout that remembers the name get_logger() was called with."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name

    def __deepcopy__(self, memodict: dict[str, object]) -> _NamedPrintLogger:
        return _NamedPrintLogger(self.name)


def _add_logger_name(
    logger: Any, _: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    name = getattr(logger, "name", None)
    if name:
        event_dict.setdefault("logger", name)
    return event_dict


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to whatever ``sys.stdout`` is now, as structlog's PrintLogger does."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        """The current standard output."""
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(
    *, service: str, level: str = "info", json: bool = True, stdlib_level: str = "warning"
) -> None:
    """Configure structlog (and route stdlib logging through it) once; repeating the same call is a no-op."""
    global _logging_key, _stdlib_handler
    key = (service, level, json, stdlib_level)
    if key == _logging_key:
        return
    # Imported here so importing telemetry never depends on pii; configuring logs without it must fail.
    from jinqiao.kit import pii

    levels = logging.getLevelNamesMapping()
    app_level, library_level = levels[level.upper()], levels[stdlib_level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _service_adder(service),
        _add_trace_ids,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    # Tracebacks are rendered to text before scrubbing so exception messages are masked as well.
    tail = [structlog.processors.format_exc_info, _pii_scrubber(pii.scrub), renderer]
    structlog.configure(
        processors=[_add_logger_name, *shared, structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(app_level),
        logger_factory=_NamedPrintLogger,
        cache_logger_on_first_use=True,
    )

    handler = _StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        )
    )
    root = logging.getLogger()
    if _stdlib_handler is not None:
        root.removeHandler(_stdlib_handler)
    root.addHandler(handler)
    root.setLevel(library_level)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    # The kit's own stdlib loggers (jinqiao.grpc, jinqiao.outbox, ...) follow the service's level.
    logging.getLogger("jinqiao").setLevel(app_level)
    _stdlib_handler = handler
    _logging_key = key


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    """A structlog logger, bound to ``logger=name`` when a name is given."""
    # The name goes to the logger factory, keeping the proxy lazy: a module-level logger created before
    # configure_logging() still picks up the configuration on first use.
    return structlog.get_logger(name)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- tracing


def configure_tracing(*, service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install the SDK tracer provider once; a given exporter is attached on every call."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": service}))
        trace.set_tracer_provider(_provider)
        if exporter is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            log.debug("OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter ships yet; spans stay local")
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
    return _provider


def tracer(name: str) -> trace.Tracer:
    """The tracer for an instrumentation scope; works before configure_tracing (spans are then no-ops)."""
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside any span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add ``traceparent`` (and ``tracestate``) of the current span to ``headers`` in place and return it."""
    _PROPAGATOR.inject(headers)
    return headers


def extract_context(carrier: Mapping[str, Any]) -> otel_context.Context:
    """The remote parent context in HTTP/NATS headers or gRPC metadata; names are case-insensitive."""
    # Binary gRPC metadata (``-bin`` keys) carries bytes and can never hold a trace header.
    lowered = {key.lower(): value for key, value in carrier.items() if isinstance(value, str)}
    return _PROPAGATOR.extract(lowered)


@contextmanager
def _span(
    name: str, kind: SpanKind, parent: otel_context.Context | None, attributes: dict[str, Any]
) -> Iterator[trace.Span]:
    # Exception messages stay off spans since they may carry PII (DESIGN §5); the type finds the log line.
    with _TRACER.start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR))
            raise


def _messaging_attributes(operation: str, attributes: dict[str, Any] | None) -> dict[str, Any]:
    return {"messaging.system": "nats", "messaging.operation.type": operation, **(attributes or {})}


@contextmanager
def start_consumer_span(
    name: str, *, headers: Mapping[str, Any], attributes: dict[str, Any] | None = None
) -> Iterator[trace.Span]:
    """A current CONSUMER span continuing the trace carried in the message headers."""
    parent = extract_context(headers)
    with _span(name, SpanKind.CONSUMER, parent, _messaging_attributes("process", attributes)) as span:
        yield span


@contextmanager
def start_server_span(name: str, *, headers: Mapping[str, Any]) -> Iterator[trace.Span]:
    """A current SERVER span continuing the trace in incoming HTTP headers (the gateway's requests)."""
    with _span(name, SpanKind.SERVER, extract_context(headers), {}) as span:
        yield span


@contextmanager
def db_span(name: str, *, attributes: dict[str, Any] | None = None) -> Iterator[trace.Span]:
    """A CLIENT span around a database round trip (the unit of work's commit)."""
    with _span(name, SpanKind.CLIENT, None, {"db.system": "postgresql", **(attributes or {})}) as span:
        yield span


@contextmanager
def start_producer_span(
    name: str, *, traceparent: str | None, attributes: dict[str, Any] | None = None
) -> Iterator[trace.Span]:
    """A current PRODUCER span, child of ``traceparent`` if given (the request that wrote the outbox row)."""
    parent = extract_context({"traceparent": traceparent}) if traceparent else None
    with _span(name, SpanKind.PRODUCER, parent, _messaging_attributes("publish", attributes)) as span:
        yield span


# ------------------------------------------------------------------------------------ gRPC interceptors


def _split_method(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


@dataclass(slots=True)
class _Outcome:
    """The final status of one served call, filled in by the handler wrapper before observers see it."""

    code: grpc.StatusCode = grpc.StatusCode.OK
    error_type: str | None = None


_Observer = Callable[[], AbstractContextManager[_Outcome]]


def _status_of(context: grpc.aio.ServicerContext, exc: BaseException | None) -> grpc.StatusCode:
    # context.abort() and set_code() both leave their code on the context; AbortError itself carries none.
    if exc is None or isinstance(exc, grpc.aio.AbortError):
        return context.code() or (grpc.StatusCode.OK if exc is None else grpc.StatusCode.UNKNOWN)
    if isinstance(exc, Exception):
        return grpc.StatusCode.UNKNOWN  # what grpc.aio sends for an unhandled exception
    return grpc.StatusCode.CANCELLED  # CancelledError or GeneratorExit: the caller went away


def _observed(handler: grpc.RpcMethodHandler | None, observe: _Observer) -> grpc.RpcMethodHandler | None:
    """Rebuild a unary-request handler so every call runs inside ``observe()`` and reports its status."""

    @asynccontextmanager
    async def observing(_: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        with observe() as outcome:
            try:
                yield
            except BaseException as exc:
                outcome.code = _status_of(context, exc)
                if outcome.code is grpc.StatusCode.UNKNOWN:
                    outcome.error_type = type(exc).__qualname__
                raise
            outcome.code = _status_of(context, None)

    return wrap_unary(handler, observing)


class TracingServerInterceptor(grpc.aio.ServerInterceptor):
    """Runs each unary-request call in a SERVER span continuing the caller's ``traceparent``."""

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Any], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        """Wrap the handler in a span."""
        handler = await continuation(details)
        full_method = details.method
        metadata = details.invocation_metadata or ()

        @contextmanager
        def observe() -> Iterator[_Outcome]:
            service, method = _split_method(full_method)
            outcome = _Outcome()
            # As in _span, no exception messages; an aborted call is an answer, not necessarily a fault.
            with _TRACER.start_as_current_span(
                full_method,
                context=extract_context(dict(metadata)),
                kind=SpanKind.SERVER,
                attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    yield outcome
                finally:
                    span.set_attribute("rpc.grpc.status_code", outcome.code.value[0])
                    if outcome.error_type:
                        span.set_attribute("error.type", outcome.error_type)
                    if outcome.code in _SERVER_FAULTS:
                        span.set_status(Status(StatusCode.ERROR, outcome.code.name))

        return _observed(handler, observe)


_metrics_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, tuple[Counter, Histogram]] = (
    weakref.WeakKeyDictionary()
)
_default_registry: CollectorRegistry | None = None


def default_registry() -> CollectorRegistry:
    """The process's metrics registry, created on first use with process, platform and GC collectors."""
    global _default_registry
    if _default_registry is None:
        registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
        _default_registry = registry
    return _default_registry


def _grpc_metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    # One set per registry: a second server in the same process reuses it instead of re-registering.
    metrics = _metrics_by_registry.get(registry)
    if metrics is None:
        metrics = (
            Counter(
                "jinqiao_grpc_server_handled_total", "gRPC calls completed on the server, by status code.",
                ("service", "method", "code"), registry=registry,
            ),
            Histogram(
                "jinqiao_grpc_server_handling_seconds", "Time to handle a gRPC call on the server.",
                ("service", "method"), registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            ),
        )
        _metrics_by_registry[registry] = metrics
    return metrics


class MetricsServerInterceptor(grpc.aio.ServerInterceptor):
    """Counts unary-request calls by status code and times them, per gRPC service and method."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self._handled, self._seconds = _grpc_metrics(registry or default_registry())

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Any], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        """Wrap the handler in a timer and a counter."""
        handler = await continuation(details)
        full_method = details.method

        @contextmanager
        def observe() -> Iterator[_Outcome]:
            service, method = _split_method(full_method)
            outcome = _Outcome()
            started = time.perf_counter()
            try:
                yield outcome
            finally:
                self._seconds.labels(service, method).observe(time.perf_counter() - started)
                self._handled.labels(service, method, outcome.code.name).inc()

        return _observed(handler, observe)


def start_metrics_server(
    *, port: int, host: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> None:
    """Serve ``/metrics`` over HTTP from a daemon thread; port 0 turns it off."""
    if port == 0:
        return
    start_http_server(port, addr=host, registry=registry or default_registry())


class TracingClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Runs each outgoing unary call in a CLIENT span and sends its ``traceparent`` in the metadata."""

    async def intercept_unary_unary(
        self, continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails, request: Any,
    ) -> Any:
        """Start the span, inject the headers, and end the span when the call completes."""
        full_method = client_call_details.method
        if isinstance(full_method, bytes):
            full_method = full_method.decode()
        service, method = _split_method(full_method)
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        with _span(full_method, SpanKind.CLIENT, None, attributes) as span:
            headers = inject_headers({})
            metadata = grpc.aio.Metadata(
                *(
                    (key, value) for key, value in (client_call_details.metadata or ())
                    if key.lower() not in headers
                ),
                *headers.items(),
            )
            call = await continuation(client_call_details._replace(metadata=metadata), request)
            # code() waits for the call to finish without raising, so the span covers the whole RPC.
            code = await call.code()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code is not grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR, code.name))
            return call
