"""Logs, traces and metrics for every service: structlog JSON, OpenTelemetry (W3C, OTLP), Prometheus.

Spans of gRPC calls, HTTP requests and asyncpg queries come from OpenTelemetry's instrumentation packages;
this module adds what they do not cover (NATS messages, the outbox's stored ``traceparent``), keeps PII off
everything it exports, and counts gRPC calls for Prometheus.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import grpc
import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor, filters
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes, AttributeValue
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    gc_collector,
    make_wsgi_app,
    platform_collector,
    process_collector,
)
from prometheus_client.exposition import ThreadingWSGIServer

from jinqiao.kit.grpcwrap import Context, Handler, wrap_unary

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("jinqiao.telemetry")

# The outbox and the flows table store a W3C ``traceparent`` whatever OTEL_PROPAGATORS says for the wire.
_W3C = TraceContextTextMapPropagator()
_TRACER = trace.get_tracer("jinqiao.kit.telemetry")

# Libraries that log every call or message at info; WARNING keeps them quiet on hot paths (DESIGN §7).
_NOISY_LOGGERS = ("grpc", "asyncpg", "uvicorn", "uvicorn.access", "uvicorn.error", "faststream", "nats")

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


class _StdoutHandler(logging.StreamHandler[Any]):
    """A handler that writes to whatever ``sys.stdout`` is now, as structlog's PrintLogger does."""

    @property
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
    tail: list[structlog.typing.Processor] = [structlog.processors.format_exc_info, _pii_scrubber(pii.scrub), renderer]
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
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


# ---------------------------------------------------------------------------------------------- tracing

# Either standard variable turns OTLP export on; the exporter reads the rest of OTEL_EXPORTER_OTLP_* itself.
_OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

# URL attributes of HTTP spans whose query string may carry a searched name or ID number (GET members?name=…).
_URL_ATTRIBUTES = frozenset({"http.url", "http.target", "url.full"})
_DROPPED_ATTRIBUTES = frozenset({"url.query"})
# An exception event keeps its type only: messages and tracebacks may quote PII (asyncpg echoes bad arguments).
_EXCEPTION_KEPT = frozenset({"exception.type", "exception.escaped"})


class _Redacting(SpanExporter):
    """Hands spans on without what may hold PII: exception messages, status texts, query strings, ID numbers, phones."""

    def __init__(self, inner: SpanExporter) -> None:
        # Imported here, as in configure_logging, so importing telemetry never depends on pii.
        from jinqiao.kit import pii

        self._inner = inner
        self._scrub = pii.scrub

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export redacted copies."""
        return self._inner.export([self._redacted(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self._inner.force_flush(timeout_millis)

    def _redacted(self, span: ReadableSpan) -> ReadableSpan:
        return ReadableSpan(
            name=self._scrub(span.name), context=span.context, parent=span.parent, resource=span.resource,
            attributes=self._attributes(span.attributes), events=[self._event(event) for event in span.events],
            links=span.links, kind=span.kind, status=Status(span.status.status_code),
            start_time=span.start_time, end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
        )

    def _event(self, event: Event) -> Event:
        attributes = event.attributes or {}
        if event.name == "exception":
            attributes = {key: value for key, value in attributes.items() if key in _EXCEPTION_KEPT}
        return Event(event.name, self._attributes(attributes), event.timestamp)

    def _attributes(self, attributes: Attributes) -> dict[str, AttributeValue]:
        clean: dict[str, AttributeValue] = {}
        for key, value in (attributes or {}).items():
            if key in _DROPPED_ATTRIBUTES:
                continue
            if key in _URL_ATTRIBUTES and isinstance(value, str):
                value = value.partition("?")[0]
            clean[key] = self._value(value)
        return clean

    def _value(self, value: AttributeValue) -> AttributeValue:
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, Sequence) and value and isinstance(value[0], str):
            return [self._scrub(item) for item in cast(Sequence[str], value)]
        return value


class _QuerySampler(Sampler):
    """Samples as ParentBased(ALWAYS_ON), but keeps a database query's span only where it can be of use.

    A query outside any request or message (the relay's polls) would be a trace of its own; and while no
    exporter is attached nobody sees query spans, so they are not recorded (about a sixth of a write RPC).
    """

    def __init__(self) -> None:
        self.exporting = False
        self._default = ParentBased(root=ALWAYS_ON)

    def should_sample(
        self, parent_context: otel_context.Context | None, trace_id: int, name: str,
        kind: SpanKind | None = None, attributes: Attributes = None, links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        """Drop query spans without a parent or without an exporter; sample the rest as the default does."""
        if kind is SpanKind.CLIENT and attributes and ("db.system" in attributes or "db.system.name" in attributes):
            parent = trace.get_current_span(parent_context).get_span_context()
            if not (self.exporting and parent.is_valid):
                return SamplingResult(Decision.DROP)
        return self._default.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        """The sampler's name."""
        return "QuerySampler"


_sampler = _QuerySampler()
# Whether the provider samples with ``_sampler`` (not OTEL_TRACES_SAMPLER's choice): then a query span it would drop
# need not be built at all.
_sampler_decides = False
_queries: Any = None


def _otlp_exporter() -> SpanExporter | None:
    if not any(os.environ.get(name) for name in _OTLP_ENDPOINT_VARIABLES):
        return None
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol and protocol != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not shipped; exporting over http/protobuf", protocol)
    # Imported only when exporting: it pulls in requests and the OTLP protobufs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def configure_tracing(*, service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install the SDK tracer provider once (exporting OTLP when the standard endpoint variable is set).

    A given exporter is attached on every call. Spans leave the process only through ``_Redacting``.
    """
    global _provider, _sampler_decides
    if _provider is None:
        # OTEL_TRACES_SAMPLER, when set, chooses the sampler instead (the SDK reads it when given none).
        sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _sampler
        _sampler_decides = sampler is not None
        # service.name is the service's own; OTEL_RESOURCE_ATTRIBUTES may add others.
        _provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
        otlp = _otlp_exporter()
        if otlp is not None:
            _provider.add_span_processor(BatchSpanProcessor(_Redacting(otlp)))
            _sampler.exporting = True
        trace.set_tracer_provider(_provider)
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(_Redacting(exporter)))
        _sampler.exporting = True
    return _provider


def _query_span_dropped() -> bool:
    # Our provider with our sampler drops a query span unless it is exported under a request's or message's span;
    # with no provider installed (or the API's no-op one) every span is a no-op. Any other provider decides itself.
    provider = trace.get_tracer_provider()
    if provider is _provider and _sampler_decides:
        return not (_sampler.exporting and trace.get_current_span().get_span_context().is_valid)
    return isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def instrument(*, app: FastAPI | None = None) -> None:
    """Trace asyncpg queries (process-wide, once) and the requests of ``app`` if given; call it at start-up."""
    # Imported here: services need no FastAPI, and nothing is patched unless a process asks for it.
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    class _Queries(AsyncPGInstrumentor):
        """AsyncPG's instrumentation, skipped outright for a query whose span the sampler would drop anyway."""

        async def _do_execute(self, func: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            # Building the attributes and a non-recording span for every statement cost about a twentieth of a
            # write RPC; the span is only ever dropped when nobody exports or no request or message is its parent.
            if _query_span_dropped():
                return await func(*args, **kwargs)
            instrumented: Any = super()._do_execute
            return await instrumented(func, instance, args, kwargs)

    global _queries
    if _queries is None:
        # Statements only: query parameters hold PII, so capture_parameters stays off. (The package is unannotated.)
        _queries = cast(Any, _Queries)(capture_parameters=False)
    if not _queries.is_instrumented_by_opentelemetry:
        _queries.instrument()
    if app is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # One SERVER span per request, named by its route template; no span per ASGI send/receive.
        FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])


def tracer(name: str) -> trace.Tracer:
    """The tracer for an instrumentation scope; works before configure_tracing (spans are then no-ops)."""
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside any span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current span's context (``traceparent``, ``tracestate``) to ``headers`` in place and return it."""
    propagate.inject(headers)
    return headers


def extract_context(carrier: Mapping[str, Any]) -> otel_context.Context:
    """The remote parent context in NATS or HTTP headers; names are case-insensitive."""
    # Binary gRPC metadata (``-bin`` keys) carries bytes and can never hold a trace header.
    lowered = {key.lower(): value for key, value in carrier.items() if isinstance(value, str)}
    return propagate.extract(lowered)


@contextmanager
def _span(
    name: str, kind: SpanKind, parent: otel_context.Context | None, attributes: dict[str, Any]
) -> Iterator[trace.Span]:
    # No exception events or messages (DESIGN §5: they may carry PII); the type finds the log line.
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
def start_producer_span(
    name: str, *, traceparent: str | None, attributes: dict[str, Any] | None = None
) -> Iterator[trace.Span]:
    """A current PRODUCER span, child of ``traceparent`` if given (the request that wrote the outbox row)."""
    parent = _W3C.extract({"traceparent": traceparent}) if traceparent else None
    with _span(name, SpanKind.PRODUCER, parent, _messaging_attributes("publish", attributes)) as span:
        yield span


# ------------------------------------------------------------------------------------ gRPC interceptors


# The instrumentation package ships no annotations; these are the signatures it documents.
_aio_server_interceptor = cast(Callable[..., grpc.aio.ServerInterceptor], aio_server_interceptor)
_aio_client_interceptors = cast(Callable[[], list[grpc.aio.ClientInterceptor]], aio_client_interceptors)


def server_interceptors(*, registry: CollectorRegistry | None = None) -> list[grpc.aio.ServerInterceptor]:
    """The head of every server's chain, outermost first: OpenTelemetry's tracing, then the Prometheus metrics."""
    # Health probes come every few seconds from every orchestrator; a trace each would drown the real ones.
    tracing = _aio_server_interceptor(filter_=filters.negate(filters.health_check()))
    return [tracing, MetricsServerInterceptor(registry=registry)]


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """OpenTelemetry's interceptors for a channel: a CLIENT span per call, its context sent in the metadata."""
    return _aio_client_interceptors()


def _split_method(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def _status_of(context: Context, exc: BaseException | None) -> grpc.StatusCode:
    # context.abort() and set_code() both leave their code on the context; AbortError itself carries none.
    if exc is None or isinstance(exc, grpc.aio.AbortError):
        return context.code() or (grpc.StatusCode.OK if exc is None else grpc.StatusCode.UNKNOWN)
    if isinstance(exc, Exception):
        return grpc.StatusCode.UNKNOWN  # what grpc.aio sends for an unhandled exception
    return grpc.StatusCode.CANCELLED  # CancelledError or GeneratorExit: the caller went away


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
    ) -> Handler | None:
        """Wrap the handler in a timer and a counter."""
        service, method = _split_method(details.method)

        @asynccontextmanager
        async def measured(_: Any, context: Context) -> AsyncIterator[None]:
            started, code = time.perf_counter(), grpc.StatusCode.UNKNOWN
            try:
                yield
                code = _status_of(context, None)
            except BaseException as exc:
                code = _status_of(context, exc)
                raise
            finally:
                self._seconds.labels(service, method).observe(time.perf_counter() - started)
                self._handled.labels(service, method, code.name).inc()

        return wrap_unary(await continuation(details), measured)


# A probe answers from the HTTP server's thread: True healthy, False not.
Probe = Callable[[], bool]
_WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def probes_app(*, registry: CollectorRegistry, live: Probe | None = None, ready: Probe | None = None) -> _WsgiApp:
    """A WSGI app: ``/metrics`` (Prometheus text), ``/healthz`` (liveness), ``/readyz`` (readiness), else 404.

    Kubernetes probes these over plain HTTP: its gRPC probe speaks no TLS, and the internal port wants a client
    certificate. A missing probe answers 200 (``ready`` falls back to ``live``).
    """
    metrics = make_wsgi_app(registry)
    checks = {"/healthz": live, "/readyz": ready or live}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            answer: Iterable[bytes] = metrics(environ, start_response)
            return answer
        if path not in checks:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return ["未找到 not found\n".encode()]
        check = checks[path]
        ok = check is None or check()
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"ok\n" if ok else "未就绪 not ready\n".encode()]

    return app


class _QuietHandler(WSGIRequestHandler):
    """Probes arrive every few seconds; a log line each would drown the service's own."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Log nothing."""


@dataclass
class ProbeServer:
    """The metrics and probe port, served from daemon threads."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_metrics_server(
    *, port: int, host: str = "127.0.0.1", registry: CollectorRegistry | None = None,
    live: Probe | None = None, ready: Probe | None = None,
) -> ProbeServer | None:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` (``probes_app``) over HTTP from daemon threads; port 0 turns
    it off (None)."""
    if port == 0:
        return None
    # As prometheus_client's start_http_server: the address family follows the host (an IPv6 "::" works too).
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]

    class Server(ThreadingWSGIServer):
        address_family = family

    app = probes_app(registry=registry or default_registry(), live=live, ready=ready)
    server = make_server(str(address[0]), port, app, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="jinqiao-probes", daemon=True)
    thread.start()
    return ProbeServer(server=server, thread=thread)
