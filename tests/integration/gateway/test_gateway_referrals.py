"""转办 over HTTP: refer with an Idempotency-Key, list and read, accept and decline; the events continue the trace
of the first request; another county's referral is 404; bad input is a 422 naming the field.

STATION (650443) serves a member of HOME (650444); THIRD (650445) has nothing to do with them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jinqiao.desk.v1 import desk_pb2
from jinqiao.events.v1 import desk_events_pb2 as de
from jinqiao.kit import telemetry
from tests.integration.conftest import bearer, eventually

STATION, HOME, THIRD = "650443", "650444", "650445"
SAGA_TRACE = uuid.uuid4().hex
OTHER_TRACE = uuid.uuid4().hex


@pytest.fixture(scope="module")
def tracing() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    telemetry.configure_tracing(service="tests", exporter=exporter)
    return exporter


@pytest.fixture(scope="module")
def auth(county_token):
    return {code: {"Authorization": f"Bearer {county_token(code)}"} for code in (STATION, HOME, THIRD)}


@pytest.fixture(scope="module")
async def desk_db(admin_conn_factory):
    return await admin_conn_factory("desk")


async def _ticket(db, county: str, home: str) -> str:
    ticket_id = uuid.uuid4()
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO tickets (tenant_id, id, number, category, category_name, category_group, status, priority,"
        " channel, member_home_tenant_id, member_id, member_name, title, description, form, filed_by, created_at,"
        " updated_at) VALUES ($1, $2, $3, 'legal_wages', '讨薪', '法律援助', 2, 2, 2, $4, $5, '王秀英', '讨要工资',"
        " '拖欠两个月工资', $6::jsonb, 'staff', $7, $7)",
        county, ticket_id, f"{county}-{ticket_id.hex[:8]}", home, uuid.uuid4(),
        json.dumps({"unpaid_amount": 800000}), now)
    return str(ticket_id)


def _base(county: str) -> str:
    return f"/api/v1/tenants/{county}"


async def test_a_referral_over_http_is_idempotent_accepted_and_carries_the_first_requests_trace(
        platform, auth, desk_db, tracing):
    ticket_id = await _ticket(desk_db, STATION, HOME)
    url = f"{_base(STATION)}/tickets/{ticket_id}/referrals"
    body = {"to_tenant_id": HOME, "reason": "需户籍地劳动监察协调"}
    headers = {**auth[STATION], "Idempotency-Key": f"refer-{ticket_id}",
               "traceparent": f"00-{SAGA_TRACE}-00f067aa0ba902b7-01"}
    first = await platform.http.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    referral = first.json()
    assert referral["status"] == "pending" and referral["direction"] == "to_home" and referral["attempt"] == 1
    assert first.headers["Location"].endswith(f"/ticket-referrals/{referral['id']}")
    again = await platform.http.post(url, json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == referral["id"]

    sent = await platform.http.get(f"{_base(STATION)}/ticket-referrals",
                                   params={"incoming": "false", "status": "pending"}, headers=auth[STATION])
    assert sent.status_code == 200 and referral["id"] in {r["id"] for r in sent.json()["referrals"]}

    async def received():
        page = (await platform.http.get(f"{_base(HOME)}/ticket-referrals", params={"incoming": "true"},
                                        headers=auth[HOME])).json()
        return next((r for r in page["referrals"] if r["id"] == referral["id"]), None)

    incoming = await eventually(received, timeout=20)
    assert incoming["incoming"] and incoming["from_tenant_id"] == STATION
    assert incoming["form"]["unpaid_amount"] == 800000
    one = await platform.http.get(f"{_base(HOME)}/ticket-referrals/{referral['id']}", headers=auth[HOME])
    assert one.status_code == 200 and one.json()["member_name"] == "王秀英"

    accepted = await platform.http.post(
        f"{_base(HOME)}/ticket-referrals/{referral['id']}/accept", json={},
        headers={**auth[HOME], "traceparent": f"00-{OTHER_TRACE}-00f067aa0ba902b7-01"})
    assert accepted.status_code == 200, accepted.text
    out = accepted.json()
    assert out["referral"]["status"] == "accepted" and out["ticket"]["channel"] == "referral"
    assert out["ticket"]["incoming_referral_id"] == referral["id"]

    async def answered():
        got = (await platform.http.get(f"{_base(STATION)}/ticket-referrals/{referral['id']}",
                                       headers=auth[STATION])).json()
        return got if got["status"] == "accepted" else None

    assert (await eventually(answered, timeout=20))["remote_ticket_id"] == out["ticket"]["id"]
    # Every step's event continues the trace of the first request, whatever the later request's own trace.
    traces = {}
    for name, county in (("TicketReferred", STATION), ("ReferralAccepted", HOME)):
        for row in await desk_db.fetch("SELECT payload, traceparent FROM outbox WHERE tenant_id = $1"
                                       " AND event_type LIKE $2", county, f"%{name}"):
            if getattr(de, name).FromString(row["payload"]).referral_id == referral["id"]:
                traces[name] = row["traceparent"].split("-")[1]
    assert traces == {"TicketReferred": SAGA_TRACE, "ReferralAccepted": SAGA_TRACE}


async def test_declining_over_http_needs_a_reason_and_reaches_the_origin(platform, auth, desk_db):
    ticket_id = await _ticket(desk_db, STATION, HOME)
    referral = (await platform.http.post(f"{_base(STATION)}/tickets/{ticket_id}/referrals",
                                         json={"to_tenant_id": HOME, "reason": "请户籍地协助"},
                                         headers=auth[STATION])).json()

    async def arrived():
        reply = await platform.http.get(f"{_base(HOME)}/ticket-referrals/{referral['id']}", headers=auth[HOME])
        return reply.status_code == 200

    await eventually(arrived, timeout=20)
    bad = await platform.http.post(f"{_base(HOME)}/ticket-referrals/{referral['id']}/decline", json={"reason": ""},
                                   headers=auth[HOME])
    assert bad.status_code == 422 and "reason" in bad.text
    declined = await platform.http.post(f"{_base(HOME)}/ticket-referrals/{referral['id']}/decline",
                                        json={"reason": "该党员户籍已迁出本县"}, headers=auth[HOME])
    assert declined.status_code == 200 and declined.json()["status"] == "declined"

    async def back():
        got = (await platform.http.get(f"{_base(STATION)}/ticket-referrals/{referral['id']}",
                                       headers=auth[STATION])).json()
        return got if got["status"] == "declined" else None

    assert (await eventually(back, timeout=20))["decline_reason"] == "该党员户籍已迁出本县"


async def test_bad_referral_input_is_a_422_naming_the_field(platform, auth, desk_db):
    ticket_id = await _ticket(desk_db, STATION, HOME)
    url = f"{_base(STATION)}/tickets/{ticket_id}/referrals"
    for body, field in (({"to_tenant_id": "65044", "reason": "需协调"}, "to_tenant_id"),
                        ({"to_tenant_id": HOME, "reason": "需"}, "reason"),
                        ({"to_tenant_id": HOME}, "reason"),
                        ({"to_tenant_id": STATION, "reason": "转给自己"}, "to_tenant_id"),
                        ({"to_tenant_id": THIRD, "reason": "转给无关的县"}, "to_tenant_id")):
        reply = await platform.http.post(url, json=body, headers=auth[STATION])
        assert reply.status_code in (400, 422), (body, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert field in reply.text, (body, reply.text)
    listed = await platform.http.get(f"{_base(STATION)}/ticket-referrals", params={"status": "bogus"},
                                     headers=auth[STATION])
    assert listed.status_code == 422 and "status" in listed.text


async def test_another_countys_referral_and_ticket_are_404(platform, auth, desk_db):
    ticket_id = await _ticket(desk_db, STATION, HOME)
    referral = (await platform.http.post(f"{_base(STATION)}/tickets/{ticket_id}/referrals",
                                         json={"to_tenant_id": HOME, "reason": "请户籍地协助"},
                                         headers=auth[STATION])).json()
    assert (await platform.http.post(f"{_base(THIRD)}/tickets/{ticket_id}/referrals",
                                     json={"to_tenant_id": HOME, "reason": "冒名转办"},
                                     headers=auth[THIRD])).status_code == 404
    for method, path, body in (("GET", f"/ticket-referrals/{referral['id']}", None),
                               ("POST", f"/ticket-referrals/{referral['id']}/accept", {}),
                               ("POST", f"/ticket-referrals/{referral['id']}/decline", {"reason": "不是本县的"}),
                               ("GET", f"/ticket-referrals/{uuid.uuid4()}", None),
                               ("GET", "/ticket-referrals/not-an-id", None)):
        reply = await platform.http.request(method, f"{_base(THIRD)}{path}", json=body, headers=auth[THIRD])
        assert reply.status_code == 404, (method, path, reply.text)
    # The token of one county does not act on another's path.
    crossed = await platform.http.get(f"{_base(STATION)}/ticket-referrals/{referral['id']}", headers=auth[THIRD])
    assert crossed.status_code in (403, 404)


async def test_the_grpc_reply_and_the_http_shape_agree(platform, auth, desk_db, county_token):
    ticket_id = await _ticket(desk_db, STATION, HOME)
    reply = await platform.desk_stub.ReferTicket(desk_pb2.ReferTicketRequest(
        id=ticket_id, to_tenant_id=HOME, reason="请户籍地协助"), metadata=bearer(county_token(STATION)))
    got = (await platform.http.get(f"{_base(STATION)}/ticket-referrals/{reply.referral.id}",
                                   headers=auth[STATION])).json()
    assert got["ticket_id"] == ticket_id and got["to_tenant_id"] == HOME and got["incoming"] is False
    assert got["respond_by"] and got["created_at"] and got["remote_ticket_id"] is None
