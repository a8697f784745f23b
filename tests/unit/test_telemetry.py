"""Telemetry: PII-free JSON logs with trace ids, W3C propagation, gRPC tracing and metrics interceptors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from jinqiao.kit import telemetry

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


@pytest.fixture
async def port(registry: CollectorRegistry) -> AsyncIterator[int]:
    server = grpc.aio.server(
        interceptors=[
            telemetry.TracingServerInterceptor(),
            telemetry.MetricsServerInterceptor(registry=registry),
        ]
    )
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
async def test_unhandled_exception_is_recorded_as_unknown_error_without_its_message(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(f"/{SERVICE}/Crash")(b"")

    assert raised.value.code() is grpc.StatusCode.UNKNOWN
    span = await server_span(spans, f"/{SERVICE}/Crash")
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNKNOWN.value[0]
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.status.status_code is StatusCode.ERROR
    assert not span.events
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
async def test_streaming_request_methods_pass_through_untouched(
    port: int, spans: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await channel.stream_unary(f"/{SERVICE}/Total")(iter([b"a", b"b"]))

    assert reply == b"ab"
    assert not [s for s in spans.get_finished_spans() if s.name.endswith("/Total")]
    assert handled(registry, "Total", "OK") is None


@pytest.mark.asyncio
async def test_client_interceptor_propagates_the_client_span_to_the_server_span(
    port: int, spans: InMemorySpanExporter
) -> None:
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", interceptors=[telemetry.TracingClientInterceptor()]
    ) as channel:
        await channel.unary_unary(f"/{SERVICE}/Echo")(b"hi", metadata=(("x-request-id", "r1"),))

    server = await server_span(spans, f"/{SERVICE}/Echo")
    client = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT)
    assert client.name == f"/{SERVICE}/Echo"
    assert hex_trace_id(server) == hex_trace_id(client)
    assert server.parent is not None and server.parent.span_id == client.get_span_context().span_id
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]


@pytest.mark.asyncio
async def test_client_span_of_a_failed_call_is_an_error(port: int, spans: InMemorySpanExporter) -> None:
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", interceptors=[telemetry.TracingClientInterceptor()]
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary(f"/{SERVICE}/Reject")(b"")

    client = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT)
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
