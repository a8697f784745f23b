"""The notification routes over HTTP (issue 15): the caller's inbox, read and archive, acknowledging an escalation,
preferences; a county department's delivery log, escalations, templates and channel settings.

Counties 650670–650679 are this module's own. Messages are put in an inbox as the deliveries worker leaves them (an
in-app row, DELIVERED), straight into the notifications database: these tests are about what HTTP shows and changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest

from jinqiao.kit.auth import Role
from tests.integration.notifications.conftest import smtp_server  # noqa: F401  (fixture)

INBOX, OTHER, ADMIN, TEMPLATES, CHANNELS, PREFS = "650670", "650671", "650672", "650673", "650674", "650675"
PROBLEM = "application/problem+json"
# Channel and status numbers as the proto enums have them.
IN_APP, EMAIL = 1, 2
QUEUED, DELIVERED, FAILED = 1, 3, 4

AddRow = Callable[..., Awaitable[str]]


def auth(issuer: Any, *, county: str, role: Role = Role.COUNTY_ADMIN, user: str | None = None,
         org: str | None = None, member: str | None = None) -> dict[str, str]:
    """Bearer headers of a fresh login (a unique user name unless given)."""
    token = issuer.issue(user=user or f"u-{uuid.uuid4().hex[:10]}", role=role, scope=county, org=org,
                         member=member)[0]
    return {"Authorization": f"Bearer {token}"}


def user_of(headers: dict[str, str]) -> str:
    """The user name a bearer token carries (unverified: the test issued it)."""
    return str(jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})["sub"])


def problem_fields(reply: Any) -> dict[str, str]:
    """A problem's offending fields, asserting it is a 422 problem+json."""
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    return {e["field"]: e["detail"] for e in reply.json().get("errors", [])}


def is_chinese(text: str) -> bool:
    """Whether the text says something in Chinese (a person's reading, not the API's words)."""
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@pytest.fixture
async def conn(admin_conn_factory: Any) -> Any:
    """A superuser connection on the notifications database."""
    return await admin_conn_factory("notifications")


@pytest.fixture
def add_row(conn: Any) -> AddRow:
    """Put one delivery row in a county as the service leaves it (an in-app row is an inbox message)."""

    async def add(tenant: str, recipient: str, *, kind: str = "ticket_replied", category: str = "ticket",
                  subject: str = "工单有新回复", body: str = "您的工单有新回复。", urgent: bool = False,
                  channel: int = IN_APP, status: int = DELIVERED, escalation_id: str | None = None,
                  level: int = 0, seconds_ago: int = 0, destination: str = "") -> str:
        row_id = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO deliveries (tenant_id, id, idempotency_key, source_key, event_id, kind, category, urgent,"
            " channel, recipient, recipient_label, destination_masked, subject, body, link, escalation_id, level,"
            " status, attempts, last_error, created_at, sent_at, delivered_at)"
            " VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $9, '测试收件人', $10, $11, $12, '/flows', $13, $14,"
            " $15::smallint, $16, $17, now() - make_interval(secs => $18),"
            " CASE WHEN $15::smallint = 3 THEN now() END, CASE WHEN $15::smallint = 3 THEN now() END)",
            tenant, row_id, f"test|{row_id}|{channel}", f"test:{row_id}", kind, category, urgent, channel, recipient,
            destination, subject, body, escalation_id, level, status, 5 if status == FAILED else 1,
            "451 try later" if status == FAILED else "", float(seconds_ago))
        return row_id

    return add


@pytest.fixture
def add_escalation(conn: Any) -> Callable[..., Awaitable[str]]:
    """Open an escalation (a 报到 overdue at level 1) in a county."""

    async def add(tenant: str) -> str:
        escalation_id = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO escalations (tenant_id, id, kind, subject_type, subject_id, member_id, state, level,"
            " audience, facts, opened_at, next_escalation_at)"
            " VALUES ($1, $2, 'check_in_overdue', 'flow', $3, $4, 1, 1, 'contact', '{}'::jsonb, now(),"
            " now() + interval '1 day')", tenant, escalation_id, str(uuid.uuid4()), str(uuid.uuid4()))
        return escalation_id

    return add


# ------------------------------------------------------------------------------------------------ the inbox

async def test_read_and_archive_through_http_change_what_the_inbox_lists(platform, issuer, add_row):
    me = auth(issuer, county=INBOX)
    address = f"user:{user_of(me)}"
    oldest = await add_row(INBOX, address, subject="最早的消息", seconds_ago=30)
    middle = await add_row(INBOX, address, subject="中间的消息", seconds_ago=20)
    newest = await add_row(INBOX, address, subject="最新的消息", urgent=True, kind="check_in_overdue",
                           category="overdue", seconds_ago=10)
    await add_row(INBOX, "user:someone-else", subject="别人的消息")

    listed = await platform.http.get("/api/v1/me/notifications", headers=me)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [i["id"] for i in page["items"]] == [newest, middle, oldest] and page["unread_count"] == 3
    assert page["items"][0]["urgent"] is True and page["items"][0]["category_label"]
    assert page["items"][0]["read_at"] is None and page["items"][0]["archived"] is False
    bell = (await platform.http.get("/api/v1/me/notifications/summary", headers=me)).json()
    assert bell == {**bell, "unread_count": 3, "urgent_unread_count": 1, "latest_id": newest}

    read = await platform.http.post("/api/v1/me/notifications/read", json={"ids": [newest]}, headers=me)
    assert read.status_code == 200, read.text
    assert read.json() == {"changed": 1, "unread_count": 2}
    unread = (await platform.http.get("/api/v1/me/notifications", params={"filter": "unread"}, headers=me)).json()
    assert [i["id"] for i in unread["items"]] == [middle, oldest]
    bell = (await platform.http.get("/api/v1/me/notifications/summary", headers=me)).json()
    assert bell["urgent_unread_count"] == 0

    archived = await platform.http.post("/api/v1/me/notifications/archive", json={"ids": [middle]}, headers=me)
    assert archived.status_code == 200 and archived.json() == {"changed": 1, "unread_count": 1}, archived.text
    visible = (await platform.http.get("/api/v1/me/notifications", headers=me)).json()
    assert [i["id"] for i in visible["items"]] == [newest, oldest]
    in_archive = (await platform.http.get("/api/v1/me/notifications", params={"filter": "archived"},
                                          headers=me)).json()
    assert [i["id"] for i in in_archive["items"]] == [middle] and in_archive["items"][0]["archived"] is True

    back = await platform.http.post("/api/v1/me/notifications/archive", json={"ids": [middle], "archived": False},
                                    headers=me)
    assert back.status_code == 200 and back.json()["changed"] == 1
    everything = await platform.http.post("/api/v1/me/notifications/read", json={"all": True}, headers=me)
    assert everything.status_code == 200 and everything.json()["unread_count"] == 0
    again_unread = await platform.http.post("/api/v1/me/notifications/read", json={"ids": [oldest], "read": False},
                                            headers=me)
    assert again_unread.json() == {"changed": 1, "unread_count": 1}


async def test_inbox_pages_newest_first_with_a_next_page_token(platform, issuer, add_row):
    me = auth(issuer, county=INBOX)
    ids = [await add_row(INBOX, f"user:{user_of(me)}", seconds_ago=60 - n) for n in range(3)]
    first = (await platform.http.get("/api/v1/me/notifications", params={"page_size": 2}, headers=me)).json()
    assert [i["id"] for i in first["items"]] == [ids[2], ids[1]] and first["next_page_token"]
    second = (await platform.http.get("/api/v1/me/notifications",
                                      params={"page_size": 2, "page_token": first["next_page_token"]},
                                      headers=me)).json()
    assert [i["id"] for i in second["items"]] == [ids[0]] and second["next_page_token"] == ""


async def test_bad_inbox_input_is_a_422_naming_the_field_in_chinese(platform, issuer):
    me = auth(issuer, county=INBOX)
    for params, field in (({"page_size": 0}, "page_size"), ({"page_size": 201}, "page_size"),
                          ({"filter": "deleted"}, "filter"), ({"category": "x" * 33}, "category")):
        fields = problem_fields(await platform.http.get("/api/v1/me/notifications", params=params, headers=me))
        assert field in fields and is_chinese(fields[field]), (params, fields)
    fields = problem_fields(await platform.http.get("/api/v1/me/notifications", params={"category": "spam"},
                                                    headers=me))
    assert is_chinese(fields["category"])  # the service's refusal of an unknown category
    for body in ({}, {"ids": []}, {"ids": [str(uuid.uuid4())] * 501}, {"ids": ["not-an-id"]}, {"ids": ["x" * 65]}):
        fields = problem_fields(await platform.http.post("/api/v1/me/notifications/read", json=body, headers=me))
        assert any(f.startswith("ids") for f in fields) and all(is_chinese(d) for d in fields.values()), (body, fields)
    for body in ({"ids": []}, {"ids": ["not-an-id"]}, {"ids": [1]}):
        fields = problem_fields(await platform.http.post("/api/v1/me/notifications/archive", json=body, headers=me))
        assert any(f.startswith("ids") for f in fields), (body, fields)


async def test_another_persons_or_another_countys_message_looks_absent(platform, issuer, add_row):
    me = auth(issuer, county=INBOX)
    theirs = await add_row(INBOX, "user:a-colleague")
    foreign = await add_row(OTHER, f"user:{user_of(me)}")  # same user name, another county
    for target in (theirs, foreign):
        for path in ("read", "archive"):
            reply = await platform.http.post(f"/api/v1/me/notifications/{path}", json={"ids": [target]}, headers=me)
            assert reply.status_code == 404, (path, reply.text)
            assert reply.headers["content-type"].startswith(PROBLEM)
    listed = (await platform.http.get("/api/v1/me/notifications", headers=me)).json()
    assert {theirs, foreign}.isdisjoint({i["id"] for i in listed["items"]})


async def test_the_inbox_needs_a_token_and_a_person(platform, issuer):
    assert (await platform.http.get("/api/v1/me/notifications")).status_code == 401
    analyst = {"Authorization": f"Bearer {issuer.issue(user='analyst', role=Role.PROVINCE_ANALYST, scope='65')[0]}"}
    for method, path in (("GET", "/api/v1/me/notifications"), ("GET", "/api/v1/me/notifications/summary"),
                         ("GET", "/api/v1/me/notification-preferences")):
        reply = await platform.http.request(method, path, headers=analyst)
        assert reply.status_code == 403, (path, reply.text)
        assert reply.headers["content-type"].startswith(PROBLEM)


# ------------------------------------------------------------------------------------------------ escalations

async def test_acknowledging_an_escalation_through_http_shows_in_the_inbox_and_the_countys_list(
        platform, issuer, add_row, add_escalation):
    officer = auth(issuer, county=ADMIN, role=Role.TOWNSHIP_OFFICER, org=str(uuid.uuid4()))
    escalation = await add_escalation(ADMIN)
    message = await add_row(ADMIN, f"user:{user_of(officer)}", kind="check_in_overdue", category="overdue",
                            urgent=True, escalation_id=escalation, level=1, subject="报到逾期预警")
    item = next(i for i in (await platform.http.get("/api/v1/me/notifications", headers=officer)).json()["items"]
                if i["id"] == message)
    assert item["escalation_id"] == escalation and item["acknowledged"] is False and item["level"] == 1

    done = await platform.http.post(f"/api/v1/me/escalations/{escalation}/acknowledge",
                                    json={"note": "已电话联系本人，本周内报到"}, headers=officer)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "acknowledged" and done.json()["note"] == "已电话联系本人，本周内报到"
    assert done.json()["acknowledged_by"] == user_of(officer) and done.json()["acknowledged_at"]
    item = next(i for i in (await platform.http.get("/api/v1/me/notifications", headers=officer)).json()["items"]
                if i["id"] == message)
    assert item["acknowledged"] is True
    again = await platform.http.post(f"/api/v1/me/escalations/{escalation}/acknowledge", headers=officer)
    assert again.status_code == 409 and again.headers["content-type"].startswith(PROBLEM)

    county = auth(issuer, county=ADMIN)
    listed = await platform.http.get(f"/api/v1/tenants/{ADMIN}/escalations", params={"state": "acknowledged"},
                                     headers=county)
    assert listed.status_code == 200, listed.text
    assert escalation in {e["id"] for e in listed.json()["escalations"]}
    assert all(e["state"] == "acknowledged" for e in listed.json()["escalations"])
    still_open = (await platform.http.get(f"/api/v1/tenants/{ADMIN}/escalations", params={"state": "open"},
                                          headers=county)).json()
    assert escalation not in {e["id"] for e in still_open["escalations"]}


async def test_an_escalation_never_told_to_the_caller_or_of_another_county_is_not_found(
        platform, issuer, add_row, add_escalation):
    officer = auth(issuer, county=ADMIN, role=Role.BRANCH_SECRETARY, org=str(uuid.uuid4()))
    untold = await add_escalation(ADMIN)
    foreign = await add_escalation(OTHER)
    await add_row(OTHER, f"user:{user_of(officer)}", escalation_id=foreign, kind="check_in_overdue",
                  category="overdue")
    for escalation in (untold, foreign):
        reply = await platform.http.post(f"/api/v1/me/escalations/{escalation}/acknowledge", headers=officer)
        assert reply.status_code == 404, reply.text
    county = auth(issuer, county=ADMIN)
    assert (await platform.http.post(f"/api/v1/me/escalations/{foreign}/acknowledge",
                                     headers=county)).status_code == 404
    assert (await platform.http.get(f"/api/v1/tenants/{OTHER}/escalations", headers=county)).status_code == 404


async def test_bad_escalation_input_is_a_422_naming_the_field(platform, issuer, add_escalation):
    county = auth(issuer, county=ADMIN)
    escalation = await add_escalation(ADMIN)
    fields = problem_fields(await platform.http.post(f"/api/v1/me/escalations/{escalation}/acknowledge",
                                                     json={"note": "备" * 501}, headers=county))
    assert "note" in fields and is_chinese(fields["note"])
    fields = problem_fields(await platform.http.post(f"/api/v1/me/escalations/{'x' * 65}/acknowledge",
                                                     headers=county))
    assert "escalation_id" in fields
    for params, field in (({"state": "closed"}, "state"), ({"page_size": 500}, "page_size"),
                          ({"kind": "no_such_ladder"}, "kind")):
        fields = problem_fields(await platform.http.get(f"/api/v1/tenants/{ADMIN}/escalations", params=params,
                                                        headers=county))
        assert field in fields and is_chinese(fields[field]), (params, fields)
    member = auth(issuer, county=ADMIN, role=Role.MEMBER, member=str(uuid.uuid4()))
    assert (await platform.http.get(f"/api/v1/tenants/{ADMIN}/escalations", headers=member)).status_code == 403


# ------------------------------------------------------------------------------------------------ preferences

async def test_preferences_are_kept_per_person_with_addresses_masked(platform, issuer):
    member = auth(issuer, county=PREFS, role=Role.MEMBER, member=str(uuid.uuid4()))
    defaults = await platform.http.get("/api/v1/me/notification-preferences", headers=member)
    assert defaults.status_code == 200, defaults.text
    body = defaults.json()
    assert {c["category"] for c in body["categories"]} >= {"flow", "overdue", "meeting", "ticket", "loan"}
    assert body["quiet_start"] == "22:00" and body["quiet_end"] == "07:00" and body["quiet_hours_enabled"] is True
    assert next(c for c in body["categories"] if c["category"] == "overdue")["urgent"] is True

    chosen = await platform.http.put("/api/v1/me/notification-preferences", headers=member, json={
        "categories": [{"category": "meeting", "digest": False,
                        "channels": [{"channel": "in_app", "enabled": True}, {"channel": "email", "enabled": False},
                                     {"channel": "sms", "enabled": False}]}],
        "quiet_hours_enabled": True, "quiet_start": "21:30", "quiet_end": "06:30", "digest_time": "09:00",
        "email": "zhangsan@example.com", "phone": "13812345678"})
    assert chosen.status_code == 200, chosen.text
    kept = (await platform.http.get("/api/v1/me/notification-preferences", headers=member)).json()
    assert kept["quiet_start"] == "21:30" and kept["quiet_end"] == "06:30" and kept["digest_time"] == "09:00"
    meeting = next(c for c in kept["categories"] if c["category"] == "meeting")
    assert {c["channel"]: c["enabled"] for c in meeting["channels"]}["email"] is False and meeting["digest"] is False
    assert kept["phone_masked"] == "138****5678" and kept["email_masked"] and "zhangsan" not in kept["email_masked"]
    text = json.dumps(kept)
    assert "13812345678" not in text and "zhangsan@example.com" not in text

    # Another person of the same county sees their own defaults.
    other = (await platform.http.get("/api/v1/me/notification-preferences",
                                     headers=auth(issuer, county=PREFS, role=Role.MEMBER,
                                                  member=str(uuid.uuid4())))).json()
    assert other["quiet_start"] == "22:00" and other["phone_masked"] == ""


async def test_bad_preferences_are_a_422_naming_the_field_in_chinese(platform, issuer):
    me = auth(issuer, county=PREFS)
    cases = (({"quiet_start": "25:00"}, "quiet_start"), ({"digest_time": "8点"}, "digest_time"),
             ({"phone": "12345"}, "phone"), ({"email": "not-an-address"}, "email"),
             ({"quiet_start": "22:00:00"}, "quiet_start"),
             ({"categories": [{"category": "spam"}]}, "categories"),
             ({"categories": [{"category": "ticket", "channels": [{"channel": "fax", "enabled": True}]}]},
              "categories.0.channels.0.channel"))
    for body, field in cases:
        fields = problem_fields(await platform.http.put("/api/v1/me/notification-preferences", json=body,
                                                        headers=me))
        assert any(f.startswith(field) for f in fields), (body, fields)
        assert all(is_chinese(d) for d in fields.values()), (body, fields)


# ------------------------------------------------------------------------------------------------ the delivery log

async def test_the_delivery_log_lists_the_countys_deliveries_and_a_failed_one_can_be_retried(
        platform, issuer, add_row):
    county = auth(issuer, county=ADMIN)
    delivered = await add_row(ADMIN, "user:clerk", kind="ticket_opened", subject="新工单进入队列")
    failed = await add_row(ADMIN, "user:clerk", kind="ticket_opened", channel=EMAIL, status=FAILED,
                           destination="c***@example.com")
    await add_row(OTHER, "user:clerk", kind="ticket_opened")

    log = await platform.http.get(f"/api/v1/tenants/{ADMIN}/notification-deliveries", params={"kind": "ticket_opened"},
                                  headers=county)
    assert log.status_code == 200, log.text
    rows = {d["id"]: d for d in log.json()["deliveries"]}
    assert {delivered, failed} <= set(rows) and all(d["kind"] == "ticket_opened" for d in rows.values())
    assert rows[delivered]["channel"] == "in_app" and rows[delivered]["status"] == "delivered"
    assert rows[failed]["channel"] == "email" and rows[failed]["status"] == "failed"
    assert rows[failed]["destination"] == "c***@example.com" and rows[failed]["last_error"]
    assert {t["status"] for t in log.json()["totals"]} >= {"delivered", "failed"}
    only_failed = (await platform.http.get(f"/api/v1/tenants/{ADMIN}/notification-deliveries",
                                           params={"status": "failed", "channel": "email"}, headers=county)).json()
    assert failed in {d["id"] for d in only_failed["deliveries"]}
    assert all(d["status"] == "failed" and d["channel"] == "email" for d in only_failed["deliveries"])

    retried = await platform.http.post(f"/api/v1/tenants/{ADMIN}/notification-deliveries/{failed}/retry",
                                       headers=county)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued" and retried.json()["id"] == failed
    refused = await platform.http.post(f"/api/v1/tenants/{ADMIN}/notification-deliveries/{delivered}/retry",
                                       headers=county)
    assert refused.status_code == 409, refused.text


async def test_the_delivery_log_refuses_bad_filters_other_counties_and_other_roles(platform, issuer, add_row):
    county = auth(issuer, county=ADMIN)
    foreign = await add_row(OTHER, "user:clerk", channel=EMAIL, status=FAILED)
    for params, field in (({"status": "lost"}, "status"), ({"channel": "pigeon"}, "channel"),
                          ({"page_size": 0}, "page_size"), ({"kind": "k" * 65}, "kind")):
        fields = problem_fields(await platform.http.get(f"/api/v1/tenants/{ADMIN}/notification-deliveries",
                                                        params=params, headers=county))
        assert field in fields and is_chinese(fields[field]), (params, fields)
    assert (await platform.http.get(f"/api/v1/tenants/{OTHER}/notification-deliveries",
                                    headers=county)).status_code == 404
    reply = await platform.http.post(f"/api/v1/tenants/{ADMIN}/notification-deliveries/{foreign}/retry",
                                     headers=county)
    assert reply.status_code == 404, reply.text
    reply = await platform.http.post(f"/api/v1/tenants/{ADMIN}/notification-deliveries/not-an-id/retry",
                                     headers=county)
    assert reply.status_code in (404, 422), reply.text
    station = auth(issuer, county=ADMIN, role=Role.STATION_STAFF, org=str(uuid.uuid4()))
    reply = await platform.http.get(f"/api/v1/tenants/{ADMIN}/notification-deliveries", headers=station)
    assert reply.status_code == 403 and reply.headers["content-type"].startswith(PROBLEM)


# ------------------------------------------------------------------------------------------------ templates

async def test_a_county_overrides_previews_and_resets_a_template(platform, issuer):
    county = auth(issuer, county=TEMPLATES)
    base = f"/api/v1/tenants/{TEMPLATES}/notification-templates"
    listed = await platform.http.get(base, headers=county)
    assert listed.status_code == 200, listed.text
    pairs = {(t["kind"], t["channel"]) for t in listed.json()}
    assert {("check_in_overdue", "in_app"), ("check_in_overdue", "sms"), ("ticket_replied", "email")} <= pairs

    detail = (await platform.http.get(f"{base}/check_in_overdue/in_app", headers=county)).json()
    assert detail["template"]["version"] == 0 and detail["template"]["overridden"] is False
    assert detail["default_template"]["body"] and "member_name" in {v["name"] for v in detail["template"]["variables"]}

    preview = await platform.http.post(f"{base}/check_in_overdue/in_app/preview", headers=county,
                                       json={"subject": "【{{ level_label }}】报到提醒",
                                             "body": "{{ member_name }}同志已逾期未报到，请及时联系。"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["body"] == "张三同志已逾期未报到，请及时联系。"
    assert preview.json()["subject"].startswith("【") and "{{" not in preview.json()["subject"]

    saved = await platform.http.put(f"{base}/check_in_overdue/in_app", headers=county,
                                    json={"subject": "报到提醒", "body": "{{ member_name }}同志逾期未报到（本县）。"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["overridden"] is True
    detail = (await platform.http.get(f"{base}/check_in_overdue/in_app", headers=county)).json()
    assert detail["template"]["body"] == "{{ member_name }}同志逾期未报到（本县）。"
    assert [v["version"] for v in detail["versions"]] == [1]
    other = (await platform.http.get(f"/api/v1/tenants/{OTHER}/notification-templates/check_in_overdue/in_app",
                                     headers=auth(issuer, county=OTHER))).json()
    assert other["template"]["overridden"] is False  # another county keeps the platform's text

    reset = await platform.http.delete(f"{base}/check_in_overdue/in_app", headers=county)
    assert reset.status_code == 200, reset.text
    assert reset.json()["overridden"] is False and reset.json()["version"] == 0
    assert reset.json()["body"] == detail["default_template"]["body"]


async def test_bad_templates_are_a_422_naming_the_field_and_other_counties_a_404(platform, issuer):
    county = auth(issuer, county=TEMPLATES)
    base = f"/api/v1/tenants/{TEMPLATES}/notification-templates"
    fields = problem_fields(await platform.http.get(f"{base}/no_such_kind/in_app", headers=county))
    assert "kind" in fields and is_chinese(fields["kind"])
    fields = problem_fields(await platform.http.get(f"{base}/check_in_overdue/fax", headers=county))
    assert "channel" in fields and is_chinese(fields["channel"])
    fields = problem_fields(await platform.http.put(f"{base}/check_in_overdue/in_app", headers=county,
                                                    json={"body": "{{ member_name.__class__ }}"}))
    assert "body" in fields and is_chinese(fields["body"])
    fields = problem_fields(await platform.http.put(f"{base}/check_in_overdue/in_app", headers=county,
                                                    json={"body": ""}))
    assert "body" in fields
    fields = problem_fields(await platform.http.post(f"{base}/check_in_overdue/in_app/preview", headers=county,
                                                     json={"body": "{{ id_number }}"}))
    assert "body" in fields and is_chinese(fields["body"])
    fields = problem_fields(await platform.http.put(f"{base}/check_in_overdue/in_app", headers=county,
                                                    json={"body": "x" * 10_001}))
    assert "body" in fields
    assert (await platform.http.get(f"/api/v1/tenants/{OTHER}/notification-templates",
                                    headers=county)).status_code == 404
    assert (await platform.http.put(f"/api/v1/tenants/{OTHER}/notification-templates/check_in_overdue/in_app",
                                    headers=county, json={"body": "改"})).status_code == 404
    township = auth(issuer, county=TEMPLATES, role=Role.TOWNSHIP_OFFICER, org=str(uuid.uuid4()))
    assert (await platform.http.get(base, headers=township)).status_code == 403


# ------------------------------------------------------------------------------------------------ channels

async def test_channel_settings_are_kept_and_never_show_a_secret(platform, issuer, smtp_server):  # noqa: F811
    county = auth(issuer, county=CHANNELS)
    base = f"/api/v1/tenants/{CHANNELS}/notification-channels"
    listed = await platform.http.get(base, headers=county)
    assert listed.status_code == 200, listed.text
    assert {s["channel"] for s in listed.json()} >= {"email", "sms", "webhook"}

    robot = await platform.http.put(f"{base}/webhook", headers=county, json={
        "enabled": False, "settings": {"url": "https://qyapi.example.com/cgi-bin/webhook/send?key=robot-key-7f3a9c",
                                       "kind": "wecom",
                                       "secret": "s3cret-robot-signing-key"}})
    assert robot.status_code == 200, robot.text
    assert robot.json()["enabled"] is False and robot.json()["settings"]["secret"] == "已设置"
    shown = robot.text + (await platform.http.get(base, headers=county)).text
    assert "s3cret-robot-signing-key" not in shown and "robot-key-7f3a9c" not in shown  # the URL carries a key

    # The local SMTP server takes no login (a password makes the adapter log in, which it refuses without TLS).
    saved = await platform.http.put(f"{base}/email", headers=county, json={
        "enabled": True, "rate_per_minute": 30,
        "settings": {"host": smtp_server.host, "port": str(smtp_server.port), "security": "none",
                     "sender": "noreply@example.com"}})
    assert saved.status_code == 200, saved.text
    setting = saved.json()
    assert setting["enabled"] is True and setting["rate_per_minute"] == 30
    assert setting["settings"]["host"] == smtp_server.host
    listed = {s["channel"]: s for s in (await platform.http.get(base, headers=county)).json()}
    assert listed["email"]["settings"]["sender"] == "noreply@example.com" and listed["webhook"]["enabled"] is False

    sent = await platform.http.post(f"{base}/email/test", headers=county, json={"to": "admin@example.com"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] in ("sent", "delivered"), sent.json()
    assert any("admin@example.com" in m.recipients for m in smtp_server.received)


async def test_bad_channel_settings_are_a_422_naming_the_field_and_other_counties_a_404(platform, issuer):
    county = auth(issuer, county=CHANNELS)
    base = f"/api/v1/tenants/{CHANNELS}/notification-channels"
    cases = (({"enabled": True, "rate_per_minute": -1}, "rate_per_minute"),
             ({"enabled": True, "rate_per_minute": 100_001}, "rate_per_minute"),
             ({"enabled": True, "settings": {f"k{n}": "v" for n in range(21)}}, "settings"),
             ({"enabled": True, "settings": {"host": "h" * 2001}}, "settings"),
             ({"enabled": "maybe"}, "enabled"))
    for body, field in cases:
        fields = problem_fields(await platform.http.put(f"{base}/email", json=body, headers=county))
        assert any(f.startswith(field) for f in fields), (body, fields)
    fields = problem_fields(await platform.http.put(f"{base}/fax", json={"enabled": True}, headers=county))
    assert "channel" in fields and is_chinese(fields["channel"])
    fields = problem_fields(await platform.http.post(f"{base}/email/test", json={"to": "t" * 255}, headers=county))
    assert "to" in fields
    assert (await platform.http.get(f"/api/v1/tenants/{OTHER}/notification-channels",
                                    headers=county)).status_code == 404
    assert (await platform.http.put(f"/api/v1/tenants/{OTHER}/notification-channels/webhook", headers=county,
                                    json={"enabled": False})).status_code == 404
    member = auth(issuer, county=CHANNELS, role=Role.MEMBER, member=str(uuid.uuid4()))
    assert (await platform.http.put(f"{base}/webhook", headers=member,
                                    json={"enabled": False})).status_code == 403


# ------------------------------------------------------------------------------------------------ the demo

async def test_the_demo_seed_sets_disabled_channels_and_the_logins_choices(platform, issuer, settings_for):
    from jinqiao.demo import notifications as demo_notifications
    from jinqiao.gateway.accounts import Account
    from jinqiao.gateway.settings import GatewaySettings

    county, station = "650678", str(uuid.uuid4())
    settings = settings_for("gateway", GatewaySettings, targets={
        name: f"127.0.0.1:{service.port}" for name, service in platform.services.items()})
    accounts = [Account(username=f"county-{county}", role=Role.COUNTY_ADMIN, scope=county, acting_tenant=county),
                Account(username=f"station-{county}", role=Role.STATION_STAFF, scope=county, acting_tenant=county,
                        acting_org=station),
                Account(username=f"member-{county}", role=Role.MEMBER, scope=county, acting_tenant=county,
                        acting_member=str(uuid.uuid4())),
                Account(username="province", role=Role.PROVINCE_ANALYST, scope="65", acting_tenant=None)]
    done = await demo_notifications.seed_notifications(settings=settings, issuer=issuer, accounts=accounts,
                                                       county=county)
    assert done == 3
    admin_headers = auth(issuer, county=county, user=f"county-{county}")
    channels = {s["channel"]: s for s in (await platform.http.get(f"/api/v1/tenants/{county}/notification-channels",
                                                                  headers=admin_headers)).json()}
    assert channels["email"]["enabled"] is False and channels["email"]["settings"]["port"] == "1025"
    assert channels["webhook"]["enabled"] is False and "00000000-demo" not in json.dumps(channels)
    staff = auth(issuer, county=county, role=Role.STATION_STAFF, user=f"station-{county}", org=station)
    chosen = (await platform.http.get("/api/v1/me/notification-preferences", headers=staff)).json()
    assert chosen["digest_time"] == "08:30" and chosen["email_masked"]
    assert next(c for c in chosen["categories"] if c["category"] == "meeting")["digest"] is True
