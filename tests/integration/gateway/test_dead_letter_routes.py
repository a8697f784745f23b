"""Dead letters over HTTP (issue 11): the county admin lists every consuming service's dead letters, inspects one
(never its event), and replays it through the real consumer; another county's admin finds nothing, a member is
refused."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from tests.integration.conftest import eventually
from tests.integration.kit.test_event_delivery import built_event, county_count

COUNTY, OTHER = "650205", "650206"  # counties no other test counts members in
BASE = f"/api/v1/tenants/{COUNTY}/dead-letters"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def file_dead_letter(conn, *, consumer: str, event: registry_events_pb2.MemberRegistered,
                           error: str = "FailedPrecondition: 暂时无法应用（测试）") -> str:
    """A dead letter as the consumer files it: the subject, headers and payload it received, and why it gave up."""
    subject = ev.subject(tenant=COUNTY, service="registry", message_cls=registry_events_pb2.MemberRegistered)
    headers = ev.headers_for(event_id=event.meta.event_id, event_type=ev.event_type(type(event)), event_version=1,
                             tenant=COUNTY, traceparent=None)
    return str(await conn.fetchval(
        "INSERT INTO dead_letters (tenant_id, consumer, subject, event_id, event_type, headers, payload, error,"
        " deliveries) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, 1) RETURNING id",
        COUNTY, consumer, subject, event.meta.event_id, ev.event_type(type(event)), json.dumps(headers),
        event.SerializeToString(), error))


@pytest.fixture
async def filed(admin_conn_factory):
    """One dead letter of insights' member counter (a real consumer), one of registry's, a second later."""
    event = built_event(COUNTY)
    insights = await file_dead_letter(await admin_conn_factory("insights"), consumer="insights-member-counts",
                                      event=event)
    registry = await file_dead_letter(await admin_conn_factory("registry"),
                                      consumer=f"registry-test-{uuid.uuid4().hex[:6]}", event=built_event(COUNTY))
    return {"event": event, "insights": insights, "registry": registry}


async def test_the_county_admin_lists_inspects_and_replays_a_dead_letter_once(platform, filed, county_token,
                                                                             issuer):
    http, admin = platform.http, auth(county_token(COUNTY))
    listed = await http.get(BASE, headers=admin)
    assert listed.status_code == 200, listed.text
    items = {(d["service"], d["id"]): d for d in listed.json()["dead_letters"]}
    mine = items[("insights", filed["insights"])]
    assert ("registry", filed["registry"]) in items
    assert mine["consumer"] == "insights-member-counts" and "暂时无法应用" in mine["reason"]
    assert mine["replayed"] is False and mine["event_id"] == filed["event"].meta.event_id
    assert "payload_json" not in mine and filed["event"].member_id not in listed.text

    one = await http.get(f"{BASE}/insights/{filed['insights']}", headers=admin)
    assert one.status_code == 200 and one.json()["deliveries"] == 1
    assert filed["event"].member_id not in one.text

    before = await county_count(platform, issuer, COUNTY)
    replayed = await http.post(f"{BASE}/insights/{filed['insights']}/replay", headers={
        **admin, "Idempotency-Key": str(uuid.uuid4())})
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert body["outcome"] == "applied" and body["dead_letter"]["replayed"] is True
    assert body["dead_letter"]["replayed_by"] == f"admin-{COUNTY}"
    assert await county_count(platform, issuer, COUNTY) == before + 1

    again = await http.post(f"{BASE}/insights/{filed['insights']}/replay", headers={
        **admin, "Idempotency-Key": str(uuid.uuid4())})
    assert again.status_code == 200 and again.json()["outcome"] == "already_applied"
    assert "未重复应用" in again.json()["message"]
    assert await county_count(platform, issuer, COUNTY) == before + 1

    pending = await http.get(BASE, headers=admin, params={"service": "insights", "replayed": "false"})
    assert filed["insights"] not in {d["id"] for d in pending.json()["dead_letters"]}


async def test_a_replay_without_its_consumer_fails_clearly_and_stays_pending(platform, filed, county_token):
    http, admin = platform.http, auth(county_token(COUNTY))
    reply = await http.post(f"{BASE}/registry/{filed['registry']}/replay", headers=admin)
    assert reply.status_code == 409 and reply.headers["content-type"].startswith("application/problem+json")
    assert "无法重放" in reply.json()["detail"]
    pending = await http.get(BASE, headers=admin, params={"service": "registry", "replayed": "false"})
    assert filed["registry"] in {d["id"] for d in pending.json()["dead_letters"]}


async def test_merged_pages_cover_every_service_without_repeats(platform, filed, county_token):
    http, admin = platform.http, auth(county_token(COUNTY))
    everything = (await http.get(BASE, headers=admin, params={"page_size": 200})).json()["dead_letters"]
    seen, token = [], ""
    while True:
        page = (await http.get(BASE, headers=admin, params={"page_size": 1, "page_token": token})).json()
        seen.extend((d["service"], d["id"]) for d in page["dead_letters"])
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [(d["service"], d["id"]) for d in everything]
    assert len(set(seen)) == len(seen) and {"insights", "registry"} <= {s for s, _ in seen}
    created = [d["created_at"] for d in everything]
    assert created == sorted(created, reverse=True)


async def test_another_county_finds_nothing_and_a_member_is_refused(platform, filed, county_token, issuer):
    http = platform.http
    other = auth(county_token(OTHER))
    # Another county's admin, on its own county's path or on ours: not found.
    assert (await http.get(f"/api/v1/tenants/{OTHER}/dead-letters/insights/{filed['insights']}",
                           headers=other)).status_code == 404
    assert (await http.get(f"{BASE}/insights/{filed['insights']}", headers=other)).status_code == 404
    assert (await http.post(f"{BASE}/insights/{filed['insights']}/replay", headers=other)).status_code == 404
    listed = (await http.get(f"/api/v1/tenants/{OTHER}/dead-letters", headers=other)).json()["dead_letters"]
    assert all(d["tenant_id"] == OTHER for d in listed)
    member = auth(issuer.issue(user="member-dl", role=Role.MEMBER, scope=COUNTY, member=str(uuid.uuid4()))[0])
    assert (await http.get(BASE, headers=member)).status_code == 403
    assert (await http.post(f"{BASE}/insights/{filed['insights']}/replay", headers=member)).status_code == 403


async def test_bad_ids_name_the_field_and_unknown_services_are_not_found(platform, county_token):
    http, admin = platform.http, auth(county_token(COUNTY))
    bad = await http.get(f"{BASE}/insights/abc", headers=admin)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"id"}
    assert (await http.get(f"{BASE}/gateway/1", headers=admin)).status_code == 404
    assert (await http.get(f"{BASE}/insights/{2**62}", headers=admin)).status_code == 404
    unknown = await http.get(BASE, headers=admin, params={"service": "gateway"})
    assert unknown.status_code == 422 and {e["field"] for e in unknown.json()["errors"]} == {"service"}
    for bad_token in ("not-a-token", base64.urlsafe_b64encode(b"[" * 1400).decode()):
        token = await http.get(BASE, headers=admin, params={"page_token": bad_token})
        assert token.status_code == 422 and {e["field"] for e in token.json()["errors"]} == {"page_token"}


async def test_an_undecodable_dead_letter_fails_its_replay_and_says_why(platform, county_token, admin_conn_factory):
    conn = await admin_conn_factory("insights")
    event = built_event(COUNTY)
    letter = await file_dead_letter(conn, consumer="insights-member-counts", event=event)
    await conn.execute("UPDATE dead_letters SET payload = '\\xfffe'::bytea WHERE tenant_id = $1 AND id = $2",
                       COUNTY, int(letter))
    http, admin = platform.http, auth(county_token(COUNTY))
    reply = await http.post(f"{BASE}/insights/{letter}/replay", headers=admin)
    assert reply.status_code == 200 and reply.json()["outcome"] == "failed"
    assert "PoisonMessage" in reply.json()["dead_letter"]["last_replay_error"]

    async def still_pending() -> bool:
        found = await http.get(BASE, headers=admin, params={"service": "insights", "replayed": "false"})
        return letter in {d["id"] for d in found.json()["dead_letters"]}

    await eventually(still_pending)
