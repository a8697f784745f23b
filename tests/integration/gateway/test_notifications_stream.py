"""The inbox's live stream over HTTP (issue 15): server-sent events with the bell at the start and whenever it
changes, ending when the session is logged out. County 650676–650677 are this module's own.

The poll and re-verification intervals are shortened for the tests (the gateway runs in this process).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.gateway.routes.notifications import inbox as inbox_routes
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.notifications.deliveries import service as delivery_service
from jinqiao.notifications.deliveries.domain import Notice
from jinqiao.notifications.directory.domain import Recipient, user_address
from tests.integration.notifications.conftest import make_deps, notifications_db  # noqa: F401  (fixtures)

COUNTY, SESSIONS = "650676", "650677"
PASSWORD = "stream test password"
STREAM = "/api/v1/me/notifications/stream"
REPLIED = {"ticket_id": "GS-2026-000777", "category_label": "讨薪", "org_name": "城南工作站",
           "title": "追讨 2026 年 10 月工资", "reply_kind": "办理回复"}


@pytest.fixture
def fast_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll every 0.2 s and re-verify the token every 0.2 s."""
    monkeypatch.setattr(inbox_routes, "STREAM_POLL_SECONDS", 0.2)
    monkeypatch.setattr(inbox_routes, "STREAM_VERIFY_SECONDS", 0.2)


async def events(reply: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The stream's events as (name, data); comments (``: ping``) are skipped."""
    name, data = "message", ""
    async for line in reply.aiter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data += line.split(":", 1)[1].strip()
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def tell(make_deps: Any, *, county: str, user: str, source: str) -> None:  # noqa: F811
    """Put a 工单有新回复 in the user's inbox through the deliveries' notify, as a trigger would."""
    deps = make_deps(clock=lambda: datetime.now(UTC))
    notice = Notice(source_key=source, kind="ticket_replied", facts=REPLIED, link="/tickets")
    async with deps.db.unit_of_work(tenant=county) as uow:
        await delivery_service.notify(uow, deps=deps, notice=notice, now=datetime.now(UTC),
                                      recipients=[Recipient(address=user_address(user), tenant=county, label="测试")])
        await uow.commit()


def bearer_of(issuer: Any, user: str) -> dict[str, str]:
    token = issuer.issue(user=user, role=Role.STATION_STAFF, scope=COUNTY, org=str(uuid.uuid4()))[0]
    return {"Authorization": f"Bearer {token}"}


async def test_the_stream_sends_the_bell_then_a_new_one_when_a_notice_arrives(
        platform, issuer, make_deps, fast_stream):  # noqa: F811
    user = f"stream-{uuid.uuid4().hex[:8]}"
    headers = {**bearer_of(issuer, user), "Accept": "text/event-stream"}
    await tell(make_deps, county=COUNTY, user=user, source=f"test:{uuid.uuid4()}")
    async with asyncio.timeout(30), platform.http.stream("GET", STREAM, headers=headers) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        stream = events(reply)
        name, first = await anext(stream)
        assert name == "summary" and first["unread_count"] == 1 and first["latest_id"]
        await tell(make_deps, county=COUNTY, user=user, source=f"test:{uuid.uuid4()}")
        name, second = await anext(stream)
        assert name == "summary" and second["unread_count"] == 2 and second["latest_id"] != first["latest_id"]
        newest = (await platform.http.get("/api/v1/me/notifications", headers=headers)).json()["items"][0]
        assert newest["id"] == second["latest_id"] and newest["kind"] == "ticket_replied"
        # Reading it changes the bell again: the stream says so.
        await platform.http.post("/api/v1/me/notifications/read", json={"all": True}, headers=headers)
        name, third = await anext(stream)
        assert name == "summary" and third["unread_count"] == 0


async def test_without_asking_for_a_stream_the_bell_is_sent_and_the_answer_ends(platform, issuer):
    headers = bearer_of(issuer, f"stream-{uuid.uuid4().hex[:8]}")
    reply = await platform.http.get(STREAM, headers=headers)
    assert reply.status_code == 200 and "event: summary" in reply.text
    assert '"unread_count":0' in reply.text.replace(" ", "")


async def test_the_stream_refuses_a_missing_token_and_a_role_without_an_inbox(platform, issuer):
    missing = await platform.http.get(STREAM, headers={"Accept": "text/event-stream"})
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("application/problem+json")
    analyst = issuer.issue(user="stream-analyst", role=Role.CITY_ANALYST, scope="6506")[0]
    refused = await platform.http.get(STREAM, headers={"Authorization": f"Bearer {analyst}",
                                                       "Accept": "text/event-stream"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")


async def test_a_logged_out_sessions_stream_ends(platform, settings_for, fast_stream):
    account = Account(username=f"stream-{uuid.uuid4().hex[:10]}", role=Role.COUNTY_ADMIN, scope=SESSIONS,
                      acting_tenant=SESSIONS)
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    try:
        await upsert_account(db=db, account=account, password=PASSWORD)
    finally:
        await db.close()
    login = await platform.http.post("/api/v1/auth/token", json={"username": account.username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}", "Accept": "text/event-stream"}
    async with asyncio.timeout(30), platform.http.stream("GET", STREAM, headers=headers) as reply:
        assert reply.status_code == 200
        stream = events(reply)
        assert (await anext(stream))[0] == "summary"
        out = await platform.http.post("/api/v1/auth/logout", headers={"Authorization": headers["Authorization"]})
        assert out.status_code == 204, out.text
        name, data = await anext(stream)
        assert name == "end" and "退出登录" in data["reason"]
        # And the answer is over: nothing follows the end.
        assert [e async for e in stream] == []
