"""FastStream over NATS JetStream: streams, durable pull consumers that are idempotent and never lose a message."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.security import NatsUserPassword
from google.protobuf.message import DecodeError, Message
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from jinqiao.kit import events as ev
from jinqiao.kit import telemetry
from jinqiao.kit.db import Database, UnitOfWork
from jinqiao.kit.errors import DomainError
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant

log = logging.getLogger("jinqiao.broker")


def inbox_prefix(user: str) -> str:
    """Each login's replies (PubAcks, pulled messages) arrive under its own prefix, which only it may read."""
    return f"_INBOX_{user}" if user else "_INBOX"


async def _report_broker_error(error: Exception) -> None:
    # A refused subject is a missing or wrong grant (services/catalog.toml `consumes`), never worth a retry.
    if "permissions violation" in str(error).lower():
        log.error("NATS 拒绝了本服务无权使用的主题 / NATS refused a subject this login may not use: %s", error)


def build_broker(*, url: str, name: str, user: str = "", password: str = "") -> NatsBroker:
    """A broker logged in as ``user`` whose per-message logs sit at DEBUG (DESIGN §7: no per-message info logging)."""
    return NatsBroker(url, name=name, log_level=logging.DEBUG, graceful_timeout=10.0,
                      security=NatsUserPassword(username=user, password=password) if user else None,
                      inbox_prefix=inbox_prefix(user), error_cb=_report_broker_error)


def stream_config(service: str) -> StreamConfig:
    """A producing service's stream: file storage, two-minute duplicate window."""
    return StreamConfig(name=ev.stream_name(service), subjects=ev.stream_subjects(service),
                        storage=StorageType.FILE, duplicate_window=120.0)


async def ensure_stream(broker: NatsBroker, *, service: str) -> None:
    """Make sure a producing service's stream exists as configured.

    The runner declares every stream at start-up (its login may); a service's login may only look a stream up,
    so a stream found as configured is left alone and only a missing or different one is created or updated.
    """
    js = broker.config.connection_state.stream
    config = stream_config(service)
    try:
        found = (await js.stream_info(config.name)).config
    except NotFoundError:
        await js.add_stream(config)
        return
    if (sorted(found.subjects or []) != sorted(config.subjects or []) or found.storage != config.storage
            or found.duplicate_window != config.duplicate_window):
        await js.update_stream(config)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a handler may know about the message beyond the event itself."""

    event_id: str
    tenant: str
    subject: str
    deliveries: int


Handler = Callable[[UnitOfWork, Any, Delivery], Awaitable[None]]
# Which county an event's effect belongs to. By default the county that published it; a cross-county
# hand-over (e.g. a flow registered by the origin, placed by the destination) names its addressee instead.
Route = Callable[[Any], str]


def addressed_to(field: str) -> Route:
    """A route to the county an event names in ``field`` (e.g. ``origin_tenant_id`` for an answer to the origin)."""

    def route(event: Any) -> str:
        return str(getattr(event, field))

    return route


@dataclass(frozen=True, slots=True)
class Subscription:
    """One durable consumer: its name (the durable and the inbox key: never rename it), the producing service,
    the event, its handler, and the county its effect is written in (None: the publisher's)."""

    consumer: str
    source: str
    event: type[Message]
    handler: Handler
    route: Route | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Redeliveries with exponential back-off; after ``max_deliver`` a dead-letter row."""

    max_deliver: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    ack_wait: float = 30.0

    def delay(self, deliveries: int) -> float:
        """Back-off before the next delivery of a message delivered ``deliveries`` times."""
        return min(self.base_delay * 2.0 ** max(deliveries - 1, 0), self.max_delay)


class PoisonMessage(Exception):
    """A message that can never be processed (bad headers or payload)."""


def subscribe(
    broker: NatsBroker,
    *,
    db: Database,
    consumer: str,
    source_service: str,
    event: type[Message],
    handler: Handler,
    retry: RetryPolicy,
    batch_size: int = 32,
    route: Route | None = None,
) -> None:
    """Register a durable pull consumer; the effect and its inbox row commit together, then ack.

    ``route`` names the county the effect is written in (and its inbox row); it must return a county code,
    else the message is poison. Handlers still see the publisher's county as ``delivery.tenant``.
    """
    wanted = ev.event_type(event)
    filter_subject = f"jinqiao.*.{source_service}.{ev.event_subject_name(event)}"

    async def on_message(body: bytes, msg: NatsMessage) -> None:
        headers = dict(msg.headers or {})
        deliveries = msg.raw_message.metadata.num_delivered
        with telemetry.start_consumer_span(f"{consumer} {wanted}", headers=headers):
            try:
                _check_producer(msg.raw_message.subject, source_service)
                tenant, event_id, decoded = _decode(msg, headers, event, wanted)
                delivery = Delivery(event_id=event_id, tenant=tenant, subject=msg.raw_message.subject,
                                    deliveries=deliveries)
                target = _route(route, decoded, tenant)
                async with db.unit_of_work(tenant=target) as uow:
                    fresh = await uow.conn.fetchval(
                        "INSERT INTO inbox (tenant_id, consumer, event_id) VALUES ($1, $2, $3)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        target, consumer, event_id,
                    )
                    if fresh:
                        await handler(uow, decoded, delivery)
                        await uow.commit()
                await msg.ack()
            except Exception as exc:
                # A domain error says the event cannot apply (it names nothing we hold, or breaks a rule): asking
                # again gives the same answer, so it goes to the dead letters with its reason at once.
                if isinstance(exc, PoisonMessage | DomainError) or deliveries >= retry.max_deliver:
                    await _dead_letter(db, consumer=consumer, msg=msg, headers=headers, error=exc,
                                       deliveries=deliveries)
                    log.error("dead-lettered %s after %d deliveries: %s", consumer, deliveries, type(exc).__name__)
                else:
                    log.warning("handler %s failed (delivery %d), will retry: %s", consumer, deliveries,
                                type(exc).__name__)
                    await msg.nack(delay=retry.delay(deliveries))

    broker.subscriber(
        filter_subject,
        stream=JStream(ev.stream_name(source_service), declare=False),
        durable=consumer,
        pull_sub=PullSub(batch_size=batch_size, timeout=1.0),
        config=ConsumerConfig(durable_name=consumer, max_deliver=retry.max_deliver, ack_wait=retry.ack_wait,
                              filter_subject=filter_subject),
        ack_policy=AckPolicy.MANUAL,
        # FastStream's subscribers default to "_INBOX." whatever the connection's prefix: pulled messages must
        # arrive under the login's own prefix, the only inbox the server lets it read.
        inbox_prefix=f"{_inbox_of(broker)}.".encode(),
    )(on_message)


def _inbox_of(broker: NatsBroker) -> str:
    """The inbox prefix the broker was built with (``build_broker``), or NATS's default."""
    # FastStream keeps the connection's keyword arguments only in this attribute.
    prefix = getattr(broker, "_connection_kwargs", {}).get("inbox_prefix") or "_INBOX"
    return prefix.decode() if isinstance(prefix, bytes) else str(prefix)


def _route(route: Route | None, decoded: Any, tenant: str) -> str:
    if route is None:
        return tenant
    try:
        return parse_tenant(route(decoded))
    except InvalidTenant as exc:
        raise PoisonMessage("the event names no county to deliver to") from exc


def _decode(msg: NatsMessage, headers: dict[str, str], event: type[Message], wanted: str) -> tuple[str, str, Any]:
    tenant = _tenant_or_none(msg)
    if tenant is None:
        raise PoisonMessage("no valid tenant on the message")
    if headers.get(ev.HEADER_TYPE) != wanted:
        raise PoisonMessage(f"expected {wanted}")
    try:
        decoded = event.FromString(msg.body)
        # The payload's event id is the identity the inbox keys on: a re-publish after the stream's
        # duplicate window carries a new Nats-Msg-Id but the same event.
        meta = ev.meta_of(decoded)
        event_id = str(uuid.UUID(meta.event_id))
    except (DecodeError, ValueError) as exc:
        raise PoisonMessage("payload is not a valid event") from exc
    if meta.tenant_id != tenant:
        raise PoisonMessage("the payload's tenant differs from the subject's")
    return tenant, event_id, decoded


def _check_producer(subject: str, source_service: str) -> None:
    """The subject's service must be the stream's producer (the consumer's filter says so; this keeps it true)."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[2] != source_service:
        raise PoisonMessage(f"the subject names another producer than {source_service}")


async def _dead_letter(
    db: Database, *, consumer: str, msg: NatsMessage, headers: dict[str, str], error: Exception, deliveries: int
) -> None:
    tenant = _tenant_or_none(msg)
    if tenant is None:
        # Dead letters are tenant rows; a message naming no county can only be terminated and logged.
        log.error("terminated %s message on %s: no tenant to file it under", consumer, msg.raw_message.subject)
        await msg.reject()
        return
    async with db.unit_of_work(tenant=tenant) as uow:
        await uow.conn.execute(
            "INSERT INTO dead_letters (tenant_id, consumer, subject, event_id, event_type, headers, payload, error,"
            " deliveries) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)",
            tenant, consumer, msg.raw_message.subject, headers.get(ev.HEADER_MSG_ID),
            headers.get(ev.HEADER_TYPE), json.dumps(headers), msg.body, f"{type(error).__name__}: {error}"[:2000],
            deliveries,
        )
        await uow.commit()
    await msg.ack()


def _tenant_or_none(msg: NatsMessage) -> str | None:
    """The county in the subject (``jinqiao.<tenant>.<service>.<event>``), or None if it names none."""
    parts = msg.raw_message.subject.split(".")
    try:
        return parse_tenant(parts[1]) if len(parts) == 4 else None
    except InvalidTenant:
        return None
