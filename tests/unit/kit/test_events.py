"""Event envelopes: every event carries its meta, and a message without one is refused."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import events


def test_a_new_event_fills_its_meta_and_subject():
    pending = events.new_event(registry_events_pb2.MemberRegistered(member_id="m"), service="registry",
                               tenant="411525", aggregate_id="m", aggregate_version=2, traceparent=None)
    decoded = registry_events_pb2.MemberRegistered.FromString(pending.payload)
    meta = events.meta_of(decoded)
    assert (meta.tenant_id, meta.aggregate_id, meta.aggregate_version) == ("411525", "m", 2)
    assert pending.subject == "jinqiao.411525.registry.member_registered"


def test_a_message_without_meta_is_not_an_event():
    with pytest.raises(ValueError, match="not an event"):
        events.meta_of(timestamp_pb2.Timestamp())
