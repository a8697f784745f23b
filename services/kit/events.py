"""Event envelopes: protobuf messages with an ``EventMeta``, named subjects and headers."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from google.protobuf.message import Message

from jinqiao.events.v1 import meta_pb2
from jinqiao.kit.db import PendingEvent
from jinqiao.kit.tenancy import parse_tenant

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_TYPE = "Jinqiao-Event-Type"
HEADER_VERSION = "Jinqiao-Event-Version"
HEADER_TENANT = "Jinqiao-Tenant"
HEADER_TRACEPARENT = "traceparent"

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_type(message_cls: type[Message]) -> str:
    """The wire name of an event type: its protobuf full name."""
    return message_cls.DESCRIPTOR.full_name


def event_subject_name(message_cls: type[Message]) -> str:
    """``MemberRegistered`` → ``member_registered``."""
    return _CAMEL.sub("_", message_cls.DESCRIPTOR.name).lower()


def subject(*, tenant: str, service: str, message_cls: type[Message]) -> str:
    """``jinqiao.<tenant>.<service>.<event>`` (DESIGN §4)."""
    return f"jinqiao.{parse_tenant(tenant)}.{service}.{event_subject_name(message_cls)}"


def stream_name(service: str) -> str:
    """One JetStream stream per producing service."""
    return f"JINQIAO_{service.upper()}"


def stream_subjects(service: str) -> list[str]:
    """Every tenant's events of one producing service."""
    return [f"jinqiao.*.{service}.>"]


def meta_of(message: Message) -> meta_pb2.EventMeta:
    """The ``meta`` every event carries; a message without one is not an event (ValueError)."""
    meta = getattr(message, "meta", None)
    if not isinstance(meta, meta_pb2.EventMeta):
        raise ValueError(f"{type(message).__name__} is not an event: it has no EventMeta")
    return meta


def new_event(
    message: Message,
    *,
    service: str,
    tenant: str,
    aggregate_id: str,
    aggregate_version: int,
    traceparent: str | None,
    event_version: int = 1,
) -> PendingEvent:
    """Fill the message's ``meta`` and wrap it for the outbox."""
    event_id = str(uuid.uuid4())
    meta = meta_of(message)
    meta.event_id = event_id
    meta.tenant_id = tenant
    meta.aggregate_id = aggregate_id
    meta.aggregate_version = aggregate_version
    meta.occur_time.FromDatetime(datetime.now(UTC))
    meta.traceparent = traceparent or ""
    return PendingEvent(
        event_id=event_id,
        tenant_id=tenant,
        subject=subject(tenant=tenant, service=service, message_cls=type(message)),
        event_type=event_type(type(message)),
        event_version=event_version,
        payload=message.SerializeToString(),
        traceparent=traceparent,
    )


def headers_for(
    *, event_id: str, event_type: str, event_version: int, tenant: str, traceparent: str | None
) -> dict[str, str]:
    """The NATS headers of an event (DESIGN §4)."""
    headers = {
        HEADER_MSG_ID: event_id,
        HEADER_TYPE: event_type,
        HEADER_VERSION: str(event_version),
        HEADER_TENANT: tenant,
    }
    if traceparent:
        headers[HEADER_TRACEPARENT] = traceparent
    return headers
