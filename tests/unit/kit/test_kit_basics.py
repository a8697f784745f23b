"""Small kit pieces: tenancy codes, cursors, event naming, retry back-off, audit hashing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import audit, events, pagination, tenancy
from jinqiao.kit.broker import RetryPolicy
from jinqiao.kit.errors import InvalidArgument


@pytest.mark.parametrize("code", ["411525", "110000", "810000"])
def test_county_codes_are_accepted(code):
    assert tenancy.parse_tenant(code) == code


@pytest.mark.parametrize("code", ["41152", "4115255", "911525", "41152x", "", "41"])
def test_malformed_county_codes_are_refused(code):
    with pytest.raises(tenancy.InvalidTenant):
        tenancy.parse_tenant(code)


def test_scopes_nest_by_prefix():
    assert tenancy.scope_contains("41", "411525")
    assert tenancy.scope_contains("4115", "4115")
    assert not tenancy.scope_contains("4115", "410105")
    assert not tenancy.scope_contains("411525", "4115")


def test_cursor_round_trip_and_garbage():
    at = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    key = "0b8f3c2e-5d1a-4f6b-9c7d-2e4a6b8c0d1f"
    assert pagination.decode_cursor(pagination.encode_cursor(at, key)) == (at, key)
    assert pagination.decode_cursor("") is None
    with pytest.raises(InvalidArgument):
        pagination.decode_cursor("!!!")


def test_page_size_defaults_caps_and_refuses_negatives():
    assert pagination.page_size(0) == pagination.DEFAULT_PAGE_SIZE
    assert pagination.page_size(10_000) == pagination.MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument):
        pagination.page_size(-1)


def test_event_subject_and_type_follow_the_design():
    cls = registry_events_pb2.MemberRegistered
    assert events.subject(tenant="411525", service="registry", message_cls=cls) == (
        "jinqiao.411525.registry.member_registered"
    )
    assert events.event_type(cls) == "jinqiao.events.v1.MemberRegistered"
    assert events.stream_subjects("registry") == ["jinqiao.*.registry.>"]


def test_new_event_fills_meta_and_headers_carry_the_id():
    pending = events.new_event(registry_events_pb2.MemberRegistered(member_id="m1"), service="registry",
                               tenant="411525", aggregate_id="m1", aggregate_version=3,
                               traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    decoded = registry_events_pb2.MemberRegistered.FromString(pending.payload)
    assert decoded.meta.event_id == pending.event_id and decoded.meta.aggregate_version == 3
    headers = events.headers_for(event_id=pending.event_id, event_type=pending.event_type, event_version=1,
                                 tenant="411525", traceparent=pending.traceparent)
    assert headers["Nats-Msg-Id"] == pending.event_id and headers["traceparent"].startswith("00-0af7")


def test_retry_back_off_doubles_up_to_the_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=3)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3, 3]


def test_audit_hash_depends_on_every_field_and_the_previous_hash():
    at = datetime(2026, 11, 24, tzinfo=UTC)
    entry = audit.AuditEntry(actor="a", role="county_admin", action="member.create", object_type="member",
                             object_id="1")
    base = audit.chain_hash(prev_hash=audit.GENESIS, tenant_id="411525", seq=1, at=at, entry=entry)
    assert base != audit.chain_hash(prev_hash=b"\x01" * 32, tenant_id="411525", seq=1, at=at, entry=entry)
    changed = audit.AuditEntry(actor="a", role="county_admin", action="member.create", object_type="member",
                               object_id="2")
    assert base != audit.chain_hash(prev_hash=audit.GENESIS, tenant_id="411525", seq=1, at=at, entry=changed)
