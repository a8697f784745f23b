"""Shared fixtures of the notifications tests: events published as the producers' relays would, the service's deps
with a chosen clock, a real local SMTP server (aiosmtpd) and a local HTTP receiver for webhooks and SMS gateways."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from google.protobuf.message import Message

from jinqiao.kit import events as ev
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database, PendingEvent
from jinqiao.kit.runtime.ports import free_port
from jinqiao.notifications.deps import NotificationsDeps
from tests.integration.conftest import eventually

Publish = Callable[..., Awaitable[None]]


def build_event(message: Message, *, service: str, tenant: str, aggregate_id: str, at: datetime | None = None,
                version: int = 1) -> PendingEvent:
    """An event as ``service``'s relay would publish it for ``tenant`` (``at``: its occur time)."""
    pending = ev.new_event(message, service=service, tenant=tenant, aggregate_id=aggregate_id,
                           aggregate_version=version, traceparent=None)
    if at is not None:
        message.meta.occur_time.FromDatetime(at)
        pending = dataclasses.replace(pending, payload=message.SerializeToString())
    return pending


@pytest.fixture
async def publish(platform, infra, admin_conn_factory) -> AsyncIterator[Publish]:
    """Publish built events on JetStream as their producers would; wait until notifications handled each (its inbox
    row, per consumer: pass ``consumers`` = how many of its consumers take the event type, default 1)."""
    brokers = {service: infra.broker_as(service) for service in ("registry", "organizations", "desk")}
    for broker in brokers.values():
        await broker.connect()
    conn = await admin_conn_factory("notifications")

    async def handled(event_ids: list[str], consumers: int) -> bool:
        count = await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", event_ids)
        return count >= len(set(event_ids)) * consumers

    async def run(events: list[PendingEvent], *, twice: bool = False, consumers: int = 1) -> None:
        import uuid

        copies = [(e, None) for e in events] + ([(e, str(uuid.uuid4())) for e in events] if twice else [])
        for pending, msg_id in copies:
            service = pending.subject.split(".")[2]
            headers = ev.headers_for(event_id=msg_id or pending.event_id, event_type=pending.event_type,
                                     event_version=pending.event_version, tenant=pending.tenant_id, traceparent=None)
            await brokers[service].publish(pending.payload, pending.subject, headers=headers,
                                           stream=ev.stream_name(service))
        await eventually(lambda: handled([e.event_id for e in events], consumers), timeout=30)

    yield run
    for broker in brokers.values():
        await broker.stop()


@pytest.fixture
async def notifications_db(settings_for) -> AsyncIterator[tuple[Database, FieldCipher]]:
    """A pool on the notifications database as the service connects (RLS applies) and its cipher."""
    settings = settings_for("notifications")
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    yield db, FieldCipher.from_settings(settings)
    await db.close()


@pytest.fixture
def make_deps(notifications_db) -> Callable[..., NotificationsDeps]:
    """Deps of the service with a chosen clock (call the sweeps with them): ``make_deps(clock=lambda: NOW)``."""
    db, cipher = notifications_db

    def make(**overrides: Any) -> NotificationsDeps:
        return NotificationsDeps(db=db, cipher=cipher, **overrides)

    return make


@dataclass
class Mail:
    """One message the local SMTP server accepted."""

    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd); ``refuse`` answers every RCPT with that reply (e.g.
    "451 4.3.0 try later" for a transient failure, "550 5.1.1 no such user" for a bounce)."""

    host: str
    port: int
    received: list[Mail] = field(default_factory=list)
    refuse: str = ""


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if self.server.refuse:
            return self.server.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.server.received.append(Mail(sender=str(envelope.mail_from), recipients=list(envelope.rcpt_tos),
                                         data=content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> AsyncIterator[SmtpServer] | Any:
    """A real local SMTP server for one test, stopped after it."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    controller = Controller(_Handler(server), hostname=server.host, port=server.port)
    controller.start()
    yield server
    controller.stop()


@dataclass
class Receiver:
    """A local HTTP receiver (webhooks, an SMS gateway): every request's path and JSON body; ``status`` answers."""

    url: str
    requests: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server on 127.0.0.1 (asyncio streams; HTTP/1.1, one request per connection)."""
    port = free_port()
    box = Receiver(url=f"http://127.0.0.1:{port}")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length"),
                      0)
        raw = await reader.readexactly(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        box.requests.append((path, body))
        payload = json.dumps(box.reply).encode()
        writer.write(f"HTTP/1.1 {box.status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
                     f"\r\nConnection: close\r\n\r\n".encode() + payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    yield box
    server.close()
    await server.wait_closed()


__all__ = ["Publish", "build_event", "eventually"]
