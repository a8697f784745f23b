"""Retention settings: bounded streams, and an inbox horizon longer than any redelivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nats.js.api import DiscardPolicy

from jinqiao.kit import broker as kit_broker
from jinqiao.kit.retention import MAX_BATCH, RetentionPolicy, StreamLimits, inbox_horizon
from jinqiao.kit.settings import KitSettings


def test_the_defaults_bound_streams_by_a_week_and_a_gibibyte_and_refuse_new_messages_when_full():
    settings = KitSettings()
    limits = StreamLimits.from_settings(settings)
    assert limits == StreamLimits(max_age=7 * 86400.0, max_bytes=1024**3)
    config = kit_broker.stream_config("registry", limits=limits)
    assert config.max_age == 7 * 86400.0 and config.max_bytes == 1024**3
    assert config.discard == DiscardPolicy.NEW
    assert config.name == "JINQIAO_REGISTRY" and config.duplicate_window == 120.0


def test_stream_limits_come_from_the_environment_when_not_given(monkeypatch):
    monkeypatch.setenv("JINQIAO_STREAM_MAX_AGE_SECONDS", "3600")
    monkeypatch.setenv("JINQIAO_STREAM_MAX_BYTES", "1048576")
    config = kit_broker.stream_config("gateway")
    assert (config.max_age, config.max_bytes) == (3600.0, 1048576)


def test_the_inbox_horizon_outlasts_the_stream_by_the_margin():
    settings = KitSettings(stream_max_age_seconds=3 * 86400, inbox_horizon_margin_seconds=7200)
    assert inbox_horizon(settings) == timedelta(days=3, hours=2)
    policy = RetentionPolicy.from_settings(KitSettings())
    assert policy.outbox == timedelta(days=1) and policy.inbox_horizon == timedelta(days=8)
    assert policy.inbox_horizon > timedelta(seconds=KitSettings().stream_max_age_seconds)
    assert policy.batch == MAX_BATCH == 5000


def test_a_batch_above_five_thousand_rows_is_refused():
    with pytest.raises(ValueError, match="batch"):
        RetentionPolicy(batch=MAX_BATCH + 1)
    with pytest.raises(ValueError):
        KitSettings(retention_batch=10_000)
