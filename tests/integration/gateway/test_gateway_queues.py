"""The queue routes through the gateway: queues with counts, duty on and off, and assignment (by hand and round
robin); another county's queue or ticket is 404, bad input a 422 naming its field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from jinqiao.kit.auth import Role
from tests.integration.desk.test_queues import add_station, add_ticket

COUNTY = "650438"
OTHER = "650439"
BASE = f"/api/v1/tenants/{COUNTY}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}


def fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


@pytest.fixture(scope="module")
async def conn(admin_conn_factory: Any) -> Any:
    return await admin_conn_factory("desk")


@pytest.fixture(scope="module")
async def station(conn: Any) -> str:
    return await add_station(conn, COUNTY, "城东服务中心", kind="SERVICE_CENTER")


def staff(issuer: Any, org: str, user: str) -> str:
    return issuer.issue(user=user, role=Role.STATION_STAFF, scope=COUNTY, org=org)[0]


async def test_staff_go_on_duty_and_round_robin_deals_to_them_in_turn(platform, conn, issuer, county_token,
                                                                      station):
    http = platform.http
    for user in ("gw-a", "gw-b"):
        put = await http.put(f"{BASE}/ticket-queues/{station}/duty", headers=auth(staff(issuer, station, user)),
                             json={"on_duty": True, "display_name": f"值班员{user[-1]}"})
        assert put.status_code == 200, put.text
        assert put.json()["queue"] == station and put.json()["on_duty"] is True

    admin = county_token(COUNTY)
    dealt = []
    for _ in range(4):
        ticket = await add_ticket(conn, COUNTY, serving_org_id=station)
        reply = await http.post(f"{BASE}/tickets/{ticket}/assign", headers=auth(admin), json={"round_robin": True})
        assert reply.status_code == 200, reply.text
        assert reply.json()["id"] == ticket
        dealt.append(reply.json()["assignee"])
    assert dealt == ["gw-a", "gw-b", "gw-a", "gw-b"]

    roster = await http.get(f"{BASE}/ticket-queues/{station}/duty", headers=auth(admin))
    assert roster.status_code == 200
    assert {(d["user"], d["display_name"], d["open_assigned"]) for d in roster.json()} == {
        ("gw-a", "值班员a", 2), ("gw-b", "值班员b", 2)}
    assert all(d["last_assigned_at"] for d in roster.json())

    queues = await http.get(f"{BASE}/ticket-queues", headers=auth(admin))
    assert queues.status_code == 200
    by_key = {q["queue"]: q for q in queues.json()}
    assert by_key["county"]["org_id"] is None
    assert (by_key[station]["open"], by_key[station]["unassigned"], by_key[station]["on_duty"]) == (4, 0, 2)
    assert by_key[station]["name"].startswith("城东服务中心")


async def test_by_hand_assignment_outside_the_roster_names_assignee(platform, conn, issuer, station):
    token = staff(issuer, station, "gw-hand")
    ticket = await add_ticket(conn, COUNTY, serving_org_id=station)
    refused = await platform.http.post(f"{BASE}/tickets/{ticket}/assign", headers=auth(token),
                                       json={"assignee": "nobody-here"})
    assert refused.status_code == 422 and fields(refused) == {"assignee"}
    neither = await platform.http.post(f"{BASE}/tickets/{ticket}/assign", headers=auth(token), json={})
    assert neither.status_code == 422 and fields(neither) == {"assignee"}
    taken = await platform.http.post(f"{BASE}/tickets/{ticket}/assign", headers=auth(token),
                                     json={"assignee": "gw-hand"})
    assert taken.status_code == 200 and taken.json()["assignee"] == "gw-hand"


async def test_bad_duty_input_names_its_field(platform, issuer, station):
    token = staff(issuer, station, "gw-bad")
    long_name = await platform.http.put(f"{BASE}/ticket-queues/{station}/duty", headers=auth(token),
                                        json={"on_duty": True, "display_name": "张" * 31})
    assert long_name.status_code == 422 and fields(long_name) == {"display_name"}
    missing = await platform.http.put(f"{BASE}/ticket-queues/{station}/duty", headers=auth(token), json={})
    assert missing.status_code == 422 and fields(missing) == {"on_duty"}


async def test_another_countys_queue_and_ticket_are_not_found(platform, conn, county_token, issuer, station):
    foreign = county_token(OTHER)
    other = f"/api/v1/tenants/{OTHER}"
    assert (await platform.http.get(f"{other}/ticket-queues/{station}/duty",
                                    headers=auth(foreign))).status_code == 404
    assert (await platform.http.put(f"{other}/ticket-queues/{station}/duty", headers=auth(foreign),
                                    json={"on_duty": True})).status_code == 404
    ticket = await add_ticket(conn, COUNTY, serving_org_id=station)
    assert (await platform.http.post(f"{other}/tickets/{ticket}/assign", headers=auth(foreign),
                                     json={"round_robin": True})).status_code == 404
    assert station not in {q["queue"] for q in (await platform.http.get(f"{other}/ticket-queues",
                                                                        headers=auth(foreign))).json()}
    # A station's staff do not reach the county department's queue.
    assert (await platform.http.get(f"{BASE}/ticket-queues/county/duty",
                                    headers=auth(staff(issuer, station, "gw-x")))).status_code == 404


async def test_a_member_may_not_use_the_queue_routes(platform, issuer):
    member = issuer.issue(user="gw-member", role=Role.MEMBER, scope=COUNTY, member=str(uuid.uuid4()))[0]
    assert (await platform.http.get(f"{BASE}/ticket-queues", headers=auth(member))).status_code == 403
