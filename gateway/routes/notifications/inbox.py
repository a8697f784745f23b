"""The caller's own notifications: inbox, summary, live stream, read/archive, acknowledging, preferences.

Every route acts on the caller's own county and addresses (the token's); the service decides whose messages those
are. The live stream is FastAPI's server-sent events: it asks the service for the bell every
``STREAM_POLL_SECONDS`` (a gRPC call: no database connection is held between polls), sends ``summary`` when it
changed (and once at the start), a ``: ping`` comment after 15 s of silence (FastAPI's keep-alive), and ends when
the client goes away or the token no longer verifies (checked every ``STREAM_VERIFY_SECONDS``: a logged-out session
or an expired token ends it with an ``end`` event; the console then refreshes its token and reconnects).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import grpc
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi import Body as BodyParam
from fastapi.sse import EventSourceResponse, ServerSentEvent

from jinqiao.gateway.deps import Caller, CallerDep, Gateway, GatewayDep
from jinqiao.gateway.routes.notifications.wire import (
    CATEGORY_LENGTH,
    ID_LENGTH,
    PAGE_TOKEN_LENGTH,
    ArchiveIn,
    ChangedOut,
    EscalationAcknowledgeIn,
    EscalationOut,
    InboxFilter,
    InboxItemOut,
    InboxPageOut,
    InboxSummaryOut,
    MarkReadIn,
    PreferencesIn,
    PreferencesOut,
)
from jinqiao.kit.errors import InvalidArgument, Unauthenticated
from jinqiao.notifications.v1 import notifications_pb2 as pb

router = APIRouter(prefix="/api/v1/me", tags=["notifications"])

# How often one stream asks for the bell, and re-verifies its token (module settings: tests shorten them).
STREAM_POLL_SECONDS = 2.0
STREAM_VERIFY_SECONDS = 60.0
# What the browser waits before reconnecting a dropped stream (milliseconds).
STREAM_RETRY_MS = 3000
ENDED = "身份凭证已过期或已退出登录"
# Answers after which a stream cannot go on: its credentials no longer hold.
_FINAL = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


async def _summary(gw: Gateway, who: Caller) -> InboxSummaryOut:
    reply = await gw.clients.notifications.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=who.metadata,
                                                           timeout=gw.clients.timeout)
    return InboxSummaryOut.from_proto(reply)


async def first_summary(who: CallerDep, gw: GatewayDep) -> InboxSummaryOut:
    """The bell, asked before a stream opens: a refusal is a problem answer, not a broken stream."""
    return await _summary(gw, who)


@router.get("/notifications", response_model=InboxPageOut)
async def list_inbox(
    who: CallerDep, gw: GatewayDep,
    filter: Annotated[InboxFilter, Query(description="unread 未读、archived 已归档；不填为未归档的全部")] = "",  # noqa: A002
    category: Annotated[str, Query(max_length=CATEGORY_LENGTH, description="类别，如 overdue、ticket")] = "",
    page_size: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50,
    page_token: Annotated[str, Query(max_length=PAGE_TOKEN_LENGTH, description="下一页标记")] = "",
) -> InboxPageOut:
    """站内信: the caller's inbox, newest first, with the unread count."""
    reply = await gw.clients.notifications.ListInbox(
        pb.ListInboxRequest(filter=filter, category=category, page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return InboxPageOut(items=[InboxItemOut.from_proto(i) for i in reply.items],
                        next_page_token=reply.next_page_token, unread_count=reply.unread_count)


@router.get("/notifications/summary", response_model=InboxSummaryOut)
async def inbox_summary(who: CallerDep, gw: GatewayDep) -> InboxSummaryOut:
    """The bell: the caller's unread count (urgent ones apart) and the newest message."""
    return await _summary(gw, who)


@router.get("/notifications/stream", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "server-sent events: summary（铃铛变化时）、end（凭证失效）"}})
async def inbox_stream(who: CallerDep, gw: GatewayDep, request: Request,
                       first: Annotated[InboxSummaryOut, Depends(first_summary)]) -> AsyncIterator[ServerSentEvent]:
    """实时提醒（SSE）：开始时和未读数变化时发 ``summary``，空闲时每 15 秒发注释 ``: ping``；凭证过期或退出登录即发
    ``end`` 并结束。不带 ``Accept: text/event-stream`` 的请求只得到当前的 ``summary``。"""
    yield ServerSentEvent(event="summary", data=first, retry=STREAM_RETRY_MS)
    if "text/event-stream" not in request.headers.get("accept", ""):
        return
    seen, verified = first, time.monotonic()
    while True:
        await asyncio.sleep(STREAM_POLL_SECONDS)
        if await request.is_disconnected():
            return
        if time.monotonic() - verified >= STREAM_VERIFY_SECONDS:
            try:
                gw.verifier.verify(who.token)
            except Unauthenticated:
                yield ServerSentEvent(event="end", data={"reason": ENDED})
                return
            verified = time.monotonic()
        try:
            now = await _summary(gw, who)
        except grpc.aio.AioRpcError as err:
            if err.code() in _FINAL:
                yield ServerSentEvent(event="end", data={"reason": ENDED})
                return
            continue  # the service is away for a moment: the next poll tries again, the stream stays open
        if now != seen:
            seen = now
            yield ServerSentEvent(event="summary", data=now)


@router.post("/notifications/read", response_model=ChangedOut)
async def mark_read(body: MarkReadIn, who: CallerDep, gw: GatewayDep) -> ChangedOut:
    """Mark messages read (``read``: false marks them unread again), or all of them with ``all``."""
    if not body.all and not body.ids:
        raise InvalidArgument.field("ids", "请选择要标记的站内信，或选择全部")
    reply = await gw.clients.notifications.MarkInboxRead(
        pb.MarkInboxReadRequest(ids=body.ids, all=body.all, read=body.read),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ChangedOut(changed=reply.changed, unread_count=reply.unread_count)


@router.post("/notifications/archive", response_model=ChangedOut)
async def archive(body: ArchiveIn, who: CallerDep, gw: GatewayDep) -> ChangedOut:
    """Archive messages (``archived``: false takes them out of the archive)."""
    reply = await gw.clients.notifications.ArchiveInboxItems(
        pb.ArchiveInboxItemsRequest(ids=body.ids, archived=body.archived),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ChangedOut(changed=reply.changed, unread_count=reply.unread_count)


@router.post("/escalations/{escalation_id}/acknowledge", response_model=EscalationOut)
async def acknowledge(
    escalation_id: Annotated[str, Path(max_length=ID_LENGTH, description="逐级提醒编号")],
    who: CallerDep, gw: GatewayDep,
    body: Annotated[EscalationAcknowledgeIn | None, BodyParam()] = None,
) -> EscalationOut:
    """确认 an escalation the caller was told of: it stops climbing the org tree (acknowledging again keeps it)."""
    reply = await gw.clients.notifications.AcknowledgeEscalation(
        pb.AcknowledgeEscalationRequest(escalation_id=escalation_id, note=body.note if body else ""),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return EscalationOut.from_proto(reply.escalation)


@router.get("/notification-preferences", response_model=PreferencesOut)
async def get_preferences(who: CallerDep, gw: GatewayDep) -> PreferencesOut:
    """The caller's choices: per category and channel, 免打扰时段, 每日摘要 and the addresses (masked)."""
    reply = await gw.clients.notifications.GetNotificationPreferences(
        pb.GetNotificationPreferencesRequest(), metadata=who.metadata, timeout=gw.clients.timeout)
    return PreferencesOut.from_proto(reply.preferences)


@router.put("/notification-preferences", response_model=PreferencesOut)
async def update_preferences(body: PreferencesIn, who: CallerDep, gw: GatewayDep) -> PreferencesOut:
    """Replace the caller's choices; an e-mail address or mobile number left empty keeps the stored one."""
    reply = await gw.clients.notifications.UpdateNotificationPreferences(
        body.to_proto(), metadata=who.metadata, timeout=gw.clients.timeout)
    return PreferencesOut.from_proto(reply.preferences)
