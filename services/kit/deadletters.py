"""Dead letters: list, inspect and replay the events a consumer gave up on, in the caller's county (issue 11).

Every service that consumes events keeps its dead letters as tenant rows (``migrations.create_dead_letters``, written
by ``broker``). A replay decodes the stored subject, headers and payload exactly as the consumer does and applies the
event through the consumer's own handler and inbox, so replaying twice, or replaying an event the consumer applied
meanwhile, applies nothing twice. Each replay is audited; one that fails again keeps the dead letter pending with its
new reason. The decoded payload is shown to the platform's operator only (``Role.SERVICE``), never to a county's
staff: events carry personal data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg
import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from jinqiao.kit import audit, availability, catalog, pagination
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.broker import Delivery, Subscription, apply_event, decode_event, subscriptions_of
from jinqiao.kit.db import Database, UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.kit.usecases import require_tenant
from jinqiao.operations.v1 import operations_pb2, operations_pb2_grpc

PROTO_SERVICE = operations_pb2.DESCRIPTOR.services_by_name["DeadLetterService"].full_name
OBJECT_TYPE = "dead_letter"
REPLAY_ACTION = "dead_letter.replay"
_MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_CONSUMER_MAX = 200
_ERROR_MAX = 2000
_TOKEN_MAX = 512
_COLUMNS = ("tenant_id, id, consumer, subject, event_id, event_type, headers, payload, error, deliveries, created_at,"
            " replayed_at, replayed_by, replays, last_replay_at, last_replay_error")


class Outcome(StrEnum):
    """What a replay did."""

    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter row and its replay state."""

    tenant_id: str
    id: int
    consumer: str
    subject: str
    event_id: str | None
    event_type: str | None
    headers: dict[str, str]
    payload: bytes
    error: str
    deliveries: int
    created_at: datetime
    replayed_at: datetime | None
    replayed_by: str | None
    replays: int
    last_replay_at: datetime | None
    last_replay_error: str | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> DeadLetter:
        """Map a row selected with ``_COLUMNS``."""
        headers = row["headers"]
        return cls(
            tenant_id=row["tenant_id"], id=int(row["id"]), consumer=row["consumer"], subject=row["subject"],
            event_id=row["event_id"], event_type=row["event_type"],
            headers=dict(json.loads(headers) if isinstance(headers, str) else headers),
            payload=bytes(row["payload"]), error=row["error"], deliveries=int(row["deliveries"]),
            created_at=row["created_at"], replayed_at=row["replayed_at"], replayed_by=row["replayed_by"],
            replays=int(row["replays"]), last_replay_at=row["last_replay_at"],
            last_replay_error=row["last_replay_error"],
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of dead letters, newest first."""

    items: list[DeadLetter]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class Shown:
    """A dead letter as a caller may see it: the decoded event only for the platform's operator."""

    letter: DeadLetter
    payload_json: str


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a replay did, the dead letter after it, and a sentence for people (zh-CN first)."""

    outcome: Outcome
    letter: DeadLetter
    message: str


# The consumers of this process by durable name, asked at call time (they are registered while the service starts).
Subscriptions = Callable[[], Mapping[str, Subscription]]


def consuming_services() -> list[catalog.ServiceEntry]:
    """The catalogued gRPC services that consume events: each keeps dead letters and serves DeadLetterService."""
    return [e for e in catalog.grpc_services() if e.consumes]


def serves(service: str) -> bool:
    """Whether ``service`` consumes events, and so serves DeadLetterService."""
    return any(e.name == service for e in consuming_services())


# --- the wire's values -----------------------------------------------------------------------------------------------

def parse_letter_id(value: str) -> int:
    """A dead letter's number from the wire (decimal, positive); anything else names the ``id`` field."""
    text = value if isinstance(value, str) else ""
    if not _DIGITS.fullmatch(text) or not 0 < int(text) <= _MAX_ID:
        raise InvalidArgument.field("id", "死信编号无效（应为正整数）")
    return int(text)


def _cursor(letter: DeadLetter) -> str:
    return pagination.encode_key(letter.created_at.isoformat(), str(letter.id))


def _after(token: str) -> tuple[datetime, int] | None:
    # The kit's tokens are short; anything longer is no token of ours (and nested JSON would only cost work).
    if len(token) > _TOKEN_MAX:
        raise InvalidArgument.field("page_token", "分页标记无效")
    after = pagination.decode_key(token, parts=2)
    if after is None:
        return None
    try:
        at = datetime.fromisoformat(after[0])
        key = int(after[1])
    except ValueError as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc
    if at.tzinfo is None or not 0 < key <= _MAX_ID:
        raise InvalidArgument.field("page_token", "分页标记无效")
    return at, key


def payload_json(letter: DeadLetter, subscriptions: Mapping[str, Subscription]) -> str:
    """The stored event decoded as JSON by its consumer's event type; '' when it cannot be read."""
    sub = subscriptions.get(letter.consumer)
    if sub is None:
        return ""
    try:
        decoded = sub.event.FromString(letter.payload)
    except DecodeError:
        return ""
    return json_format.MessageToJson(decoded, preserving_proto_field_name=True, ensure_ascii=False, indent=None)


# --- repository ------------------------------------------------------------------------------------------------------

async def _fetch_page(uow: UnitOfWork, *, consumer: str, replayed: bool | None,
                      after: tuple[datetime, int] | None, limit: int) -> list[DeadLetter]:
    rows = await uow.conn.fetch(
        f"SELECT {_COLUMNS} FROM dead_letters WHERE tenant_id = $1"
        " AND ($2 = '' OR consumer = $2)"
        " AND ($3::boolean IS NULL OR (replayed_at IS NOT NULL) = $3)"
        " AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))"
        " ORDER BY created_at DESC, id DESC LIMIT $6",
        uow.tenant, consumer, replayed, after[0] if after else None, after[1] if after else 0, limit,
    )
    return [DeadLetter.from_row(r) for r in rows]


async def _fetch_one(uow: UnitOfWork, letter_id: int, *, lock: bool = False) -> DeadLetter:
    row = await uow.conn.fetchrow(
        f"SELECT {_COLUMNS} FROM dead_letters WHERE tenant_id = $1 AND id = $2" + (" FOR UPDATE" if lock else ""),
        uow.tenant, letter_id)
    if row is None:
        raise NotFound("未找到该死信")
    return DeadLetter.from_row(row)


async def _mark(uow: UnitOfWork, letter_id: int, *, by: str, error: str | None) -> DeadLetter:
    # A success sets replayed_at once (the first replay that applied, or found applied, is the one on record).
    row = await uow.conn.fetchrow(
        "UPDATE dead_letters SET replays = replays + 1, last_replay_at = now(), last_replay_error = $3,"
        " replayed_at = CASE WHEN $3::text IS NULL THEN coalesce(replayed_at, now()) ELSE replayed_at END,"
        " replayed_by = CASE WHEN $3::text IS NULL THEN coalesce(replayed_by, $4) ELSE replayed_by END"
        f" WHERE tenant_id = $1 AND id = $2 RETURNING {_COLUMNS}",
        uow.tenant, letter_id, error, by)
    if row is None:
        raise NotFound("未找到该死信")
    return DeadLetter.from_row(row)


# --- use cases -------------------------------------------------------------------------------------------------------

async def list_dead_letters(db: Database, principal: Principal, *, page_size: int, page_token: str, consumer: str,
                            replayed: bool | None) -> Page:
    """The caller's county's dead letters, newest first; ``replayed`` None means both kinds."""
    tenant = require_tenant(principal)
    if len(consumer) > _CONSUMER_MAX:
        raise InvalidArgument.field("consumer", f"不能超过 {_CONSUMER_MAX} 个字符")
    limit = pagination.page_size(page_size)
    after = _after(page_token)
    async with db.unit_of_work(tenant=tenant) as uow:
        items = await _fetch_page(uow, consumer=consumer, replayed=replayed, after=after, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_page_token=_cursor(items[-1]) if more else "")


async def get_dead_letter(db: Database, principal: Principal, *, letter_id: str,
                          subscriptions: Mapping[str, Subscription]) -> Shown:
    """One dead letter of the caller's county; another county's is not found."""
    tenant = require_tenant(principal)
    number = parse_letter_id(letter_id)
    async with db.unit_of_work(tenant=tenant) as uow:
        letter = await _fetch_one(uow, number)
    return Shown(letter=letter, payload_json=_shown_payload(principal, letter, subscriptions))


def _shown_payload(principal: Principal, letter: DeadLetter, subscriptions: Mapping[str, Subscription]) -> str:
    # Events carry names, masked ID numbers and sealed phones: only the platform's operator reads them.
    return payload_json(letter, subscriptions) if principal.role is Role.SERVICE else ""


async def replay_dead_letter(db: Database, principal: Principal, *, letter_id: str,
                             subscriptions: Mapping[str, Subscription]) -> Replayed:
    """Apply the stored event through its consumer's handler and inbox, then record who replayed it and how."""
    tenant = require_tenant(principal)
    number = parse_letter_id(letter_id)
    async with db.unit_of_work(tenant=tenant) as uow:
        letter = await _fetch_one(uow, number)
    sub = subscriptions.get(letter.consumer)
    if sub is None:
        raise FailedPrecondition(f"本服务已没有消费者 {letter.consumer}，无法重放 / no such consumer here")
    error: str | None = None
    applied = False
    try:
        publisher, event_id, decoded, target = decode_event(
            subject=letter.subject, headers=letter.headers, payload=letter.payload, event=sub.event,
            source_service=sub.source, route=sub.route)
        delivery = Delivery(event_id=event_id, tenant=publisher, subject=letter.subject,
                            deliveries=letter.deliveries + letter.replays + 1)
        applied = await apply_event(db, consumer=sub.consumer, handler=sub.handler, target=target,
                                    event_id=event_id, decoded=decoded, delivery=delivery)
    except Exception as exc:
        # A database that is away is no answer about the event: the caller retries later, nothing is recorded.
        if availability.unavailable_dependency(exc) is not None:
            raise
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX]
    outcome = Outcome.FAILED if error is not None else Outcome.APPLIED if applied else Outcome.ALREADY_APPLIED
    async with db.unit_of_work(tenant=tenant) as uow:
        letter = await _mark(uow, number, by=principal.user, error=error)
        await audit.record_act(uow, actor=principal.user, role=principal.role, action=REPLAY_ACTION,
                               object_type=OBJECT_TYPE, object_id=f"{letter.consumer}/{letter.id}",
                               reason=outcome.value)
        await uow.commit()
    return Replayed(outcome=outcome, letter=letter, message=_message(outcome, error))


def _message(outcome: Outcome, error: str | None) -> str:
    if outcome is Outcome.APPLIED:
        return "已重放：事件已应用 / replayed: the event was applied"
    if outcome is Outcome.ALREADY_APPLIED:
        return "该事件此前已应用，本次未重复应用 / already applied before: nothing was applied twice"
    return f"重放失败，死信保留待处理：{error} / replay failed, the dead letter stays pending"


# --- the gRPC servicer -----------------------------------------------------------------------------------------------

_FILTERS: dict[int, bool | None] = {
    operations_pb2.REPLAY_FILTER_UNSPECIFIED: None,
    operations_pb2.REPLAY_FILTER_PENDING: False,
    operations_pb2.REPLAY_FILTER_REPLAYED: True,
}
_OUTCOMES = {
    Outcome.APPLIED: operations_pb2.REPLAY_OUTCOME_APPLIED,
    Outcome.ALREADY_APPLIED: operations_pb2.REPLAY_OUTCOME_ALREADY_APPLIED,
    Outcome.FAILED: operations_pb2.REPLAY_OUTCOME_FAILED,
}


def to_proto(letter: DeadLetter, *, payload: str = "") -> operations_pb2.DeadLetter:
    """The wire form of a dead letter (its payload only when given)."""
    out = operations_pb2.DeadLetter(
        id=str(letter.id), tenant_id=letter.tenant_id, consumer=letter.consumer, subject=letter.subject,
        event_type=letter.event_type or "", event_id=letter.event_id or "", reason=letter.error,
        deliveries=letter.deliveries, replayed_by=letter.replayed_by or "", replays=letter.replays,
        last_replay_error=letter.last_replay_error or "", payload_json=payload,
    )
    out.create_time.FromDatetime(letter.created_at)
    if letter.replayed_at is not None:
        out.replay_time.FromDatetime(letter.replayed_at)
    return out


class DeadLetterServicer(operations_pb2_grpc.DeadLetterServiceServicer):
    """jinqiao.operations.v1.DeadLetterService over one service's database and consumers."""

    def __init__(self, *, db: Database, subscriptions: Subscriptions) -> None:
        self._db = db
        self._subscriptions = subscriptions

    async def ListDeadLetters(self, request: operations_pb2.ListDeadLettersRequest,
                              context: Context) -> operations_pb2.ListDeadLettersResponse:
        """A page of the county's dead letters, newest first."""
        if request.replay_filter not in _FILTERS:
            raise InvalidArgument.field("replay_filter", "取值无效")
        page = await list_dead_letters(self._db, current_principal(), page_size=request.page_size,
                                       page_token=request.page_token, consumer=request.consumer,
                                       replayed=_FILTERS[request.replay_filter])
        return operations_pb2.ListDeadLettersResponse(dead_letters=[to_proto(d) for d in page.items],
                                                      next_page_token=page.next_page_token)

    async def GetDeadLetter(self, request: operations_pb2.GetDeadLetterRequest,
                            context: Context) -> operations_pb2.GetDeadLetterResponse:
        """One dead letter with its reason and replay state."""
        shown = await get_dead_letter(self._db, current_principal(), letter_id=request.id,
                                      subscriptions=self._subscriptions())
        return operations_pb2.GetDeadLetterResponse(dead_letter=to_proto(shown.letter, payload=shown.payload_json))

    async def ReplayDeadLetter(self, request: operations_pb2.ReplayDeadLetterRequest,
                               context: Context) -> operations_pb2.ReplayDeadLetterResponse:
        """Apply the stored event at most once, and say what happened."""
        done = await replay_dead_letter(self._db, current_principal(), letter_id=request.id,
                                        subscriptions=self._subscriptions())
        return operations_pb2.ReplayDeadLetterResponse(outcome=_OUTCOMES[done.outcome],
                                                       dead_letter=to_proto(done.letter), message=done.message)


def register(*, db: Database, broker: Any) -> Callable[[grpc.aio.Server], None]:
    """The servicer's registration for a service that consumes events (kit/process.py calls it)."""
    servicer = DeadLetterServicer(db=db, subscriptions=lambda: subscriptions_of(broker))
    return lambda server: operations_pb2_grpc.add_DeadLetterServiceServicer_to_server(servicer, server)
