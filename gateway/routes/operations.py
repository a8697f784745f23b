"""Dead letters of a county: ``/api/v1/tenants/{tenant}/dead-letters…`` over each consuming service's
DeadLetterService (kit/deadletters.py).

The list fans out to every service that consumes events and merges their pages newest first; each item names its
service, and the page token carries each service's own position. The decoded event is never shown here: events
carry personal data, and only the platform's operator (``jinqiao dead-letters show``) reads them.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.kit import pagination
from jinqiao.kit.errors import InvalidArgument, NotFound
from jinqiao.operations.v1 import operations_pb2, operations_pb2_grpc

router = APIRouter(prefix="/api/v1/tenants/{tenant}/dead-letters", tags=["operations"])

_FILTERS = {None: operations_pb2.REPLAY_FILTER_UNSPECIFIED, False: operations_pb2.REPLAY_FILTER_PENDING,
            True: operations_pb2.REPLAY_FILTER_REPLAYED}
Outcome = Literal["applied", "already_applied", "failed"]
_OUTCOMES: dict[int, Outcome] = {operations_pb2.REPLAY_OUTCOME_APPLIED: "applied",
             operations_pb2.REPLAY_OUTCOME_ALREADY_APPLIED: "already_applied",
             operations_pb2.REPLAY_OUTCOME_FAILED: "failed"}
_TOKEN_MAX = 2000


class DeadLetterOut(BaseModel):
    """An event a consumer gave up on, why, and what replays did since (never the event's content)."""

    service: str = Field(description="保存该死信的服务 / the service that holds it")
    id: str = Field(description="死信编号（在该服务内）")
    tenant_id: str
    consumer: str = Field(description="放弃处理的消费者")
    subject: str
    event_type: str
    event_id: str
    reason: str = Field(description="放弃的原因（错误类型与信息）")
    deliveries: int = Field(description="放弃前的投递次数")
    created_at: datetime
    replayed: bool = Field(description="是否已经重放并应用（或发现此前已应用）")
    replayed_at: datetime | None
    replayed_by: str | None
    replays: int = Field(description="已尝试重放的次数")
    last_replay_error: str | None = Field(description="最近一次重放失败的原因")

    @classmethod
    def from_proto(cls, service: str, d: operations_pb2.DeadLetter) -> DeadLetterOut:
        """Map the wire form."""
        replayed = d.HasField("replay_time")
        return cls(
            service=service, id=d.id, tenant_id=d.tenant_id, consumer=d.consumer, subject=d.subject,
            event_type=d.event_type, event_id=d.event_id, reason=d.reason, deliveries=d.deliveries,
            created_at=d.create_time.ToDatetime(tzinfo=UTC), replayed=replayed,
            replayed_at=d.replay_time.ToDatetime(tzinfo=UTC) if replayed else None,
            replayed_by=d.replayed_by or None, replays=d.replays, last_replay_error=d.last_replay_error or None,
        )


class DeadLetterPage(BaseModel):
    """One merged page of the county's dead letters, newest first."""

    dead_letters: list[DeadLetterOut]
    next_page_token: str


class ReplayOut(BaseModel):
    """What a replay did: applied now, already applied before (nothing applied twice), or failed again."""

    outcome: Outcome
    message: str
    dead_letter: DeadLetterOut


def _stub(gw: GatewayDep, service: str) -> operations_pb2_grpc.DeadLetterServiceAsyncStub:
    stub = gw.clients.dead_letters.get(service)
    if stub is None:
        raise NotFound("未找到该死信")
    return stub


def _positions(token: str, services: list[str]) -> dict[str, str | None]:
    """Each service's page token ('' from the start, None when it has no more) from the merged token."""
    if not token:
        return dict.fromkeys(services, "")
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidArgument.field("page_token", "分页标记无效") from exc
    if (not isinstance(raw, dict) or set(raw) != set(services)
            or not all(v is None or isinstance(v, str) for v in raw.values())):
        raise InvalidArgument.field("page_token", "分页标记无效")
    return {s: raw[s] for s in services}


def _merged_token(positions: dict[str, str | None]) -> str:
    if all(v is None for v in positions.values()):
        return ""
    return base64.urlsafe_b64encode(json.dumps(positions, separators=(",", ":")).encode()).decode().rstrip("=")


@router.get("", response_model=DeadLetterPage)
async def list_dead_letters(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=_TOKEN_MAX)] = "",
    service: Annotated[str, Query(max_length=64, description="只看该服务的死信；省略则为全部服务")] = "",
    consumer: Annotated[str, Query(max_length=200, description="只看该消费者的死信")] = "",
    replayed: Annotated[bool | None, Query(description="true：已重放；false：待处理；省略：全部")] = None,
) -> DeadLetterPage:
    """The county's dead letters from every service that consumes events, newest first (死信列表)."""
    services = sorted(gw.clients.dead_letters)
    if service:
        if service not in services:
            raise InvalidArgument.field("service", "没有这个消费事件的服务")
        services = [service]
    size = pagination.page_size(page_size)
    positions = _positions(page_token, services)
    found: list[tuple[str, operations_pb2.DeadLetter]] = []
    replies: dict[str, operations_pb2.ListDeadLettersResponse] = {}
    for name in services:
        position = positions[name]
        if position is None:
            continue
        reply = await _stub(gw, name).ListDeadLetters(
            operations_pb2.ListDeadLettersRequest(page_size=size, page_token=position, consumer=consumer,
                                                  replay_filter=_FILTERS[replayed]),
            metadata=who.metadata, timeout=gw.clients.timeout)
        replies[name] = reply
        found.extend((name, d) for d in reply.dead_letters)
    found.sort(key=lambda pair: (pair[1].create_time.ToDatetime(tzinfo=UTC), int(pair[1].id)), reverse=True)
    page = found[:size]
    for name, reply in replies.items():
        taken = [d for s, d in page if s == name]
        if len(taken) == len(reply.dead_letters):
            positions[name] = reply.next_page_token or None
        elif taken:
            # The service's next page starts after the last of its letters this page shows (kit/deadletters.py).
            last = taken[-1]
            positions[name] = pagination.encode_key(last.create_time.ToDatetime(tzinfo=UTC).isoformat(), last.id)
    return DeadLetterPage(dead_letters=[DeadLetterOut.from_proto(s, d) for s, d in page],
                          next_page_token=_merged_token(positions))


@router.get("/{service}/{letter_id}", response_model=DeadLetterOut)
async def get_dead_letter(tenant: TenantDep, service: str, letter_id: str, who: CallerDep,
                          gw: GatewayDep) -> DeadLetterOut:
    """One dead letter: its consumer, event, reason and replay state (查看死信)."""
    reply = await _stub(gw, service).GetDeadLetter(
        operations_pb2.GetDeadLetterRequest(id=letter_id), metadata=who.metadata, timeout=gw.clients.timeout)
    return DeadLetterOut.from_proto(service, reply.dead_letter)


@router.post("/{service}/{letter_id}/replay", response_model=ReplayOut)
async def replay_dead_letter(tenant: TenantDep, service: str, letter_id: str, who: CallerDep,
                             gw: GatewayDep) -> ReplayOut:
    """Replay a dead letter through its consumer (重放死信): applied at most once, however often it is asked."""
    # The consumer's inbox makes the replay itself idempotent; an Idempotency-Key (read by the gateway's middleware,
    # gateway/idempotency.py) only lets a client retry the same request and get the same answer.
    reply = await _stub(gw, service).ReplayDeadLetter(
        operations_pb2.ReplayDeadLetterRequest(id=letter_id), metadata=who.metadata, timeout=gw.clients.timeout)
    return ReplayOut(outcome=_OUTCOMES.get(reply.outcome, "failed"), message=reply.message,
                     dead_letter=DeadLetterOut.from_proto(service, reply.dead_letter))


ROUTERS = (router,)
