"""Telemetry: PII-free logs and spans, W3C propagation, the OpenTelemetry instrumentations, metrics, OTLP export."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from jinqiao.kit import telemetry
from jinqiao.kit.grpcserver import ErrorInterceptor

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
REMOTE_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_SPAN_ID = "00f067aa0ba902b7"
REMOTE_TRACEPARENT = f"00-{REMOTE_TRACE_ID}-{REMOTE_SPAN_ID}-01"
SERVICE = "test.v1.Probe"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    telemetry.configure_tracing(service="telemetry-test", exporter=exporter)
    return exporter


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


@pytest.fixture
def pii() -> Any:
    from jinqiao.kit import pii

    return pii


@pytest.fixture
def logs(pii: Any) -> None:
    telemetry.configure_logging(service="telemetry-test", level="info", json=True)


def last_json_line(out: str) -> dict[str, Any]:
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, "nothing was logged to stdout"
    return json.loads(lines[-1])


def exported_text(span: ReadableSpan) -> str:
    """Everything of a span an exporter sees, as one string to search."""
    return span.to_json()


def hex_trace_id(span: trace.Span | ReadableSpan) -> str:
    return format(span.get_span_context().trace_id, "032x")


async def server_span(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    # A call aborted by the server reaches the client before the server task unwinds its span.
    for _ in range(200):
        found = [s for s in exporter.get_finished_spans() if s.name == name and s.kind is SpanKind.SERVER]
        if found:
            assert len(found) == 1, f"expected one server span {name}, got {len(found)}"
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no finished server span named {name}")


# ------------------------------------------------------------------------------------------------ logs


def test_log_line_masks_id_numbers_and_phones_in_event_and_fields(logs: None, pii: Any, capsys: Any) -> None:
    telemetry.get_logger("test").info(
        f"registered {ID_NUMBER} reachable at {PHONE}", id_number=ID_NUMBER, phone=PHONE,
        nested={"contacts": [PHONE]}, phone_as_int=int(PHONE),
    )

    out = capsys.readouterr().out
    record = last_json_line(out)
    assert ID_NUMBER not in out
    assert PHONE not in out
    assert record["id_number"] == pii.scrub(ID_NUMBER) != ID_NUMBER
    assert record["phone"] == pii.scrub(PHONE) != PHONE
    assert record["event"] == f"registered {pii.scrub(ID_NUMBER)} reachable at {pii.scrub(PHONE)}"
    assert record["nested"] == {"contacts": [pii.scrub(PHONE)]}
    assert record["phone_as_int"] == pii.scrub(PHONE)
    assert record["service"] == "telemetry-test"
    assert record["level"] == "info"
    assert record["logger"] == "test"
    assert "T" in record["timestamp"]


def test_logger_created_before_configuration_uses_the_configuration(
    pii: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    structlog.reset_defaults()
    monkeypatch.setattr(telemetry, "_logging_key", None)
    early = telemetry.get_logger("early")
    telemetry.configure_logging(service="telemetry-test", level="info", json=True)

    early.info("call", phone=PHONE)

    record = last_json_line(capsys.readouterr().out)
    assert record["logger"] == "early"
    assert record["phone"] == pii.scrub(PHONE)


def test_log_line_masks_pii_inside_exception_tracebacks(logs: None, capsys: Any) -> None:
    try:
        raise ValueError(f"duplicate phone {PHONE}")
    except ValueError:
        telemetry.get_logger("test").exception("import failed")

    out = capsys.readouterr().out
    record = last_json_line(out)
    assert "ValueError" in record["exception"]
    assert PHONE not in out


def test_stdlib_warnings_are_rendered_as_scrubbed_json_and_library_info_is_dropped(
    logs: None, capsys: Any
) -> None:
    logging.getLogger("grpc").info("per-call chatter")
    logging.getLogger("jinqiao.outbox").warning("publish to %s failed", PHONE)

    out = capsys.readouterr().out
    assert "per-call chatter" not in out
    record = last_json_line(out)
    assert record["logger"] == "jinqiao.outbox"
    assert record["level"] == "warning"
    assert record["service"] == "telemetry-test"
    assert PHONE not in out


def test_debug_lines_are_filtered_at_info_level(logs: None, capsys: Any) -> None:
    telemetry.get_logger("test").debug("hot path detail")

    assert "hot path detail" not in capsys.readouterr().out


def test_configure_logging_twice_does_not_duplicate_stdlib_lines(logs: None, capsys: Any) -> None:
    telemetry.configure_logging(service="telemetry-test", level="info", json=True)
    logging.getLogger("jinqiao.test").warning("once")

    assert capsys.readouterr().out.count('"once"') == 1


def test_log_line_inside_a_span_carries_its_trace_and_span_id(logs: None, spans: Any, capsys: Any) -> None:
    with telemetry.tracer("test").start_as_current_span("work") as span:
        telemetry.get_logger("test").info("inside")

    record = last_json_line(capsys.readouterr().out)
    assert record["trace_id"] == hex_trace_id(span)
    assert record["span_id"] == format(span.get_span_context().span_id, "016x")


def test_trace_id_that_contains_a_phone_shaped_run_is_logged_intact(logs: None, capsys: Any) -> None:
    trace_id = f"a{PHONE}b".ljust(32, "c")
    parent = telemetry.extract_context({"traceparent": f"00-{trace_id}-{REMOTE_SPAN_ID}-01"})
    with telemetry.tracer("test").start_as_current_span("work", context=parent):
        telemetry.get_logger("test").info("inside")

    assert last_json_line(capsys.readouterr().out)["trace_id"] == trace_id


def test_log_line_outside_any_span_has_no_trace_id(logs: None, capsys: Any) -> None:
    telemetry.get_logger("test").info("outside")

    assert "trace_id" not in last_json_line(capsys.readouterr().out)


# ------------------------------------------------------------------------------------------ propagation


def test_inject_then_extract_keeps_the_trace_id_whatever_the_header_case(spans: Any) -> None:
    with telemetry.tracer("test").start_as_current_span("origin") as span:
        headers = telemetry.inject_headers({"Nats-Msg-Id": "e1"})
        traceparent = telemetry.current_traceparent()

    assert headers["Nats-Msg-Id"] == "e1"
    assert headers["traceparent"] == traceparent
    extracted = telemetry.extract_context({"TraceParent": headers["traceparent"]})
    remote = trace.get_current_span(extracted).get_span_context()
    assert remote.trace_id == span.get_span_context().trace_id
    assert remote.span_id == span.get_span_context().span_id


def test_current_traceparent_is_none_outside_any_span() -> None:
    assert telemetry.current_traceparent() is None


def test_producer_span_continues_the_trace_of_the_stored_traceparent(spans: InMemorySpanExporter) -> None:
    with telemetry.start_producer_span("publish registry.flow_registered", traceparent=REMOTE_TRACEPARENT):
        pass

    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.PRODUCER
    assert hex_trace_id(span) == REMOTE_TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == REMOTE_SPAN_ID


def test_producer_span_without_traceparent_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with telemetry.start_producer_span("publish x", traceparent=None):
        pass

    (span,) = spans.get_finished_spans()
    assert span.parent is None
    assert hex_trace_id(span) != REMOTE_TRACE_ID


def test_consumer_span_is_a_child_of_the_message_headers_and_marks_failures(
    spans: InMemorySpanExporter,
) -> None:
    headers = {"traceparent": REMOTE_TRACEPARENT}
    with pytest.raises(RuntimeError):
        with telemetry.start_consumer_span("desk flow_registered", headers=headers):
            raise RuntimeError(f"secret {PHONE}")

    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER
    assert hex_trace_id(span) == REMOTE_TRACE_ID
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"
    assert all(PHONE not in str(event.attributes) for event in span.events)
    assert PHONE not in (span.status.description or "")


# ------------------------------------------------------------------------------------------ gRPC server


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def reject(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "x")
    raise AssertionError("abort returned")


async def missing(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    context.set_code(grpc.StatusCode.NOT_FOUND)
    return b""


async def crash(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError(f"bug near {PHONE}")


async def count(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(3):
        yield b"%d" % i


async def total(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    return b"".join([r async for r in requests])


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@asynccontextmanager
async def serving(interceptors: list[grpc.aio.ServerInterceptor]) -> AsyncIterator[int]:
    server = grpc.aio.server(interceptors=interceptors)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler(SERVICE, {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Reject": grpc.unary_unary_rpc_method_handler(reject),
            "Crash": grpc.unary_unary_rpc_method_handler(crash),
            "Missing": grpc.unary_unary_rpc_method_handler(missing),
            "Count": grpc.unary_stream_rpc_method_handler(count),
            "Total": grpc.stream_unary_rpc_method_handler(total),
        })
    ])
    bound = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield bound
    finally:
        await server.stop(None)


@pytest.fixture
async def port(registry: CollectorRegistry) -> AsyncIterator[int]:
    # The head of start_server's chain, then its error mapping, as every service runs them.
    async with serving([*telemetry.server_interceptors(registry=registry), ErrorInterceptor()]) as bound:
        yield bound


def handled(registry: CollectorRegistry, method: str, code: str) -> float | None:
    return registry.get_sample_value(
        "jinqiao_grpc_server_handled_total", {"service": SERVICE, "method": method, "code": code}
    )


@pytest.mark.asyncio
async def test_server_span_continues_the_callers_traceparent_and_records_ok(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        echo_call = channel.unary_unary(f"/{SERVICE}/Echo")
        reply = await echo_call(b"hi", metadata=(("traceparent", REMOTE_TRACEPARENT),))

    assert reply == b"hi"
    span = await server_span(spans, f"/{SERVICE}/Echo")
    assert hex_trace_id(span) == REMOTE_TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == REMOTE_SPAN_ID
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.service"] == SERVICE
    assert span.attributes["rpc.method"] == "Echo"
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    assert span.status.status_code is not StatusCode.ERROR
    assert handled(registry, "Echo", "OK") == 1
    assert registry.get_sample_value(
        "jinqiao_grpc_server_handling_seconds_count", {"service": SERVICE, "method": "Echo"}
    ) == 1


@pytest.mark.asyncio
async def test_aborted_call_is_recorded_with_its_status_in_span_and_counter(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(f"/{SERVICE}/Reject")(b"")

    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    span = await server_span(spans, f"/{SERVICE}/Reject")
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    # A rejected argument is the caller's fault, so the server span is not an error.
    assert span.status.status_code is not StatusCode.ERROR
    assert handled(registry, "Reject", "INVALID_ARGUMENT") == 1
    assert handled(registry, "Reject", "OK") is None


@pytest.mark.asyncio
async def test_status_set_on_the_context_without_abort_is_recorded(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(f"/{SERVICE}/Missing")(b"")

    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    span = await server_span(spans, f"/{SERVICE}/Missing")
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert handled(registry, "Missing", "NOT_FOUND") == 1


@pytest.mark.asyncio
async def test_unhandled_exception_is_recorded_as_internal_error_without_its_message(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(f"/{SERVICE}/Crash")(b"")

    assert raised.value.code() is grpc.StatusCode.INTERNAL
    span = await server_span(spans, f"/{SERVICE}/Crash")
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert span.status.status_code is StatusCode.ERROR
    assert PHONE not in exported_text(span)
    assert handled(registry, "Crash", "INTERNAL") == 1


@pytest.mark.asyncio
async def test_metrics_count_an_exception_nobody_mapped_as_unknown(registry: CollectorRegistry) -> None:
    async with serving([telemetry.MetricsServerInterceptor(registry=registry)]) as bound:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await channel.unary_unary(f"/{SERVICE}/Crash")(b"")

    assert raised.value.code() is grpc.StatusCode.UNKNOWN
    assert handled(registry, "Crash", "UNKNOWN") == 1


@pytest.mark.asyncio
async def test_server_streaming_call_is_traced_over_the_whole_stream(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        replies = [r async for r in channel.unary_stream(f"/{SERVICE}/Count")(b"")]

    assert replies == [b"0", b"1", b"2"]
    span = await server_span(spans, f"/{SERVICE}/Count")
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    assert handled(registry, "Count", "OK") == 1


@pytest.mark.asyncio
async def test_streaming_request_methods_are_traced_but_not_counted(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await channel.stream_unary(f"/{SERVICE}/Total")(iter([b"a", b"b"]))

    assert reply == b"ab"
    await server_span(spans, f"/{SERVICE}/Total")
    assert handled(registry, "Total", "OK") is None


@pytest.mark.asyncio
async def test_health_checks_are_counted_but_not_traced(
    spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with serving(telemetry.server_interceptors(registry=registry)) as bound:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound}") as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())

    assert not [s for s in spans.get_finished_spans() if "Health" in s.name]
    labels = {"service": "grpc.health.v1.Health", "method": "Check", "code": "OK"}
    assert registry.get_sample_value("jinqiao_grpc_server_handled_total", labels) == 1


@pytest.mark.asyncio
async def test_client_interceptor_propagates_the_client_span_to_the_server_span(
    port: int, spans: InMemorySpanExporter
) -> None:
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", interceptors=telemetry.client_interceptors()
    ) as channel:
        await channel.unary_unary(f"/{SERVICE}/Echo")(b"hi", metadata=(("x-request-id", "r1"),))

    server = await server_span(spans, f"/{SERVICE}/Echo")
    # By name: the session's running platform may finish other client spans (e.g. SQL) meanwhile.
    client = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT and s.name == f"/{SERVICE}/Echo")
    assert hex_trace_id(server) == hex_trace_id(client)
    assert server.parent is not None and server.parent.span_id == client.get_span_context().span_id
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]


@pytest.mark.asyncio
async def test_client_span_of_a_failed_call_is_an_error(port: int, spans: InMemorySpanExporter) -> None:
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", interceptors=telemetry.client_interceptors()
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary(f"/{SERVICE}/Reject")(b"")

    client = next(s for s in spans.get_finished_spans()
                  if s.kind is SpanKind.CLIENT and s.name == f"/{SERVICE}/Reject")
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert client.status.status_code is StatusCode.ERROR


def test_two_metrics_interceptors_share_one_registry_without_duplicate_registration(
    registry: CollectorRegistry,
) -> None:
    factories: list[Callable[[], Any]] = [
        lambda: telemetry.MetricsServerInterceptor(registry=registry),
        lambda: telemetry.MetricsServerInterceptor(registry=registry),
        telemetry.MetricsServerInterceptor,
        telemetry.MetricsServerInterceptor,
    ]
    for make in factories:
        make()


# ---------------------------------------------------------------------------------------- what leaves


def test_exported_spans_carry_no_exception_message_status_text_query_string_or_pii(
    spans: InMemorySpanExporter,
) -> None:
    url = f"http://127.0.0.1/api/v1/tenants/410105/members?name=张三&id_number={ID_NUMBER}"
    with telemetry.tracer("test").start_as_current_span("work") as span:
        span.set_attributes({"http.url": url, "http.target": url.partition("127.0.0.1")[2], "url.query": "name=张三",
                             "db.statement": f"SELECT 1 -- {PHONE}"})
        span.record_exception(ValueError(f"张三 {PHONE}"))
        span.set_status(StatusCode.ERROR, f"bad argument 张三 {ID_NUMBER}")

    (exported,) = spans.get_finished_spans()
    text = exported_text(exported)
    assert PHONE not in text and ID_NUMBER not in text and "张三" not in text
    assert exported.attributes["http.url"] == "http://127.0.0.1/api/v1/tenants/410105/members"
    assert exported.attributes["http.target"] == "/api/v1/tenants/410105/members"
    assert "url.query" not in exported.attributes
    assert exported.status.status_code is StatusCode.ERROR
    (event,) = exported.events
    assert dict(event.attributes or {}) == {"exception.type": "ValueError", "exception.escaped": "False"}


def test_a_query_outside_any_span_is_not_a_trace_but_one_inside_a_request_is(spans: InMemorySpanExporter) -> None:
    query = {"db.system": "postgresql", "db.statement": "SELECT * FROM outbox_pending_all_tenants($1)"}
    tracer = telemetry.tracer("test")
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=query):
        pass
    with tracer.start_as_current_span("request", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("INSERT", kind=SpanKind.CLIENT, attributes=query):
            pass

    assert [s.name for s in spans.get_finished_spans()] == ["INSERT", "request"]


def test_query_spans_are_not_recorded_while_nothing_exports_them() -> None:
    sampler = telemetry._QuerySampler()  # the provider's, before any exporter is attached
    parent = telemetry.extract_context({"traceparent": REMOTE_TRACEPARENT})
    query = {"db.system": "postgresql"}

    assert not sampler.should_sample(parent, 1, "INSERT", SpanKind.CLIENT, query).decision.is_sampled()
    assert sampler.should_sample(parent, 1, "/x.v1.X/Call", SpanKind.CLIENT, {}).decision.is_sampled()
    sampler.exporting = True
    assert sampler.should_sample(parent, 1, "INSERT", SpanKind.CLIENT, query).decision.is_sampled()


@pytest.mark.asyncio
async def test_fastapi_requests_get_a_server_span_named_by_route_without_the_query(
    spans: InMemorySpanExporter,
) -> None:
    import httpx
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/v1/tenants/{tenant}/members")
    async def members(tenant: str, name: str = "") -> dict[str, str | None]:
        return {"traceparent": telemetry.current_traceparent()}

    telemetry.instrument(app=app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        reply = await client.get(f"/api/v1/tenants/410105/members?name=张三&id_number={ID_NUMBER}",
                                 headers={"traceparent": REMOTE_TRACEPARENT})

    assert reply.json()["traceparent"].split("-")[1] == REMOTE_TRACE_ID
    (span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert span.name == "GET /api/v1/tenants/{tenant}/members"
    assert hex_trace_id(span) == REMOTE_TRACE_ID
    assert ID_NUMBER not in exported_text(span) and "张三" not in exported_text(span)
    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.INTERNAL]


class _Collector(BaseHTTPRequestHandler):
    """A tiny OTLP/HTTP receiver: keeps every POST /v1/traces body."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def test_spans_go_to_the_otlp_endpoint_named_by_the_standard_variable() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    program = (
        "from jinqiao.kit import telemetry\n"
        "telemetry.configure_tracing(service='otlp-probe')\n"
        "with telemetry.tracer('probe').start_as_current_span('hello') as span:\n"
        f"    span.set_attribute('phone', '{PHONE}')\n"
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}"}
    try:
        # The provider flushes its batch at exit, as a stopping service does.
        subprocess.run([sys.executable, "-c", program], env=env, check=True, timeout=60)
    finally:
        collector.shutdown()
        collector.server_close()

    requests = [ExportTraceServiceRequest.FromString(body) for body in _Collector.bodies]
    (resource_spans,) = [rs for request in requests for rs in request.resource_spans]
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "otlp-probe"
    (span,) = [span for scope in resource_spans.scope_spans for span in scope.spans]
    assert span.name == "hello"
    assert PHONE not in str(span)
