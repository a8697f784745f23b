"""A query's span is not built when it would be dropped anyway (issue 16), and is built whenever it may be kept."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from jinqiao.kit import telemetry

PARENT = SpanContext(trace_id=0xA * 2**100, span_id=0xB * 2**40, is_remote=True,
                     trace_flags=TraceFlags(TraceFlags.SAMPLED))


@pytest.fixture
def ours(monkeypatch):
    """The kit's provider installed, sampling with the kit's sampler."""
    provider = TracerProvider()
    monkeypatch.setattr(telemetry, "_provider", provider)
    monkeypatch.setattr(telemetry, "_sampler_decides", True)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    return provider


def test_without_an_exporter_no_query_span_is_built(ours, monkeypatch):
    monkeypatch.setattr(telemetry._sampler, "exporting", False)
    with trace.use_span(NonRecordingSpan(PARENT)):
        assert telemetry._query_span_dropped()


def test_exporting_a_query_outside_any_request_is_not_built(ours, monkeypatch):
    monkeypatch.setattr(telemetry._sampler, "exporting", True)
    assert telemetry._query_span_dropped()


def test_exporting_a_query_inside_a_request_is_built(ours, monkeypatch):
    monkeypatch.setattr(telemetry._sampler, "exporting", True)
    with trace.use_span(NonRecordingSpan(PARENT)):
        assert not telemetry._query_span_dropped()


def test_with_no_provider_installed_every_query_span_would_be_a_no_op(monkeypatch):
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    assert telemetry._query_span_dropped()


def test_another_provider_decides_for_itself(monkeypatch):
    other = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: other)
    monkeypatch.setattr(telemetry._sampler, "exporting", False)
    assert not telemetry._query_span_dropped()
