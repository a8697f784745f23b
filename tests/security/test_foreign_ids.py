"""Ids of another county's objects inside a request are verified, as an outsider would try them (issue 9, finding 4).

Three counties log in over HTTP: 商城县 (HOME) sends a member out to 二七区 (DEST), which places them; 淮滨县 (THIRD)
has nothing to do with that member. THIRD must not be able to record the member at its meetings (which would write a
"verified" entry into the member's 活动记事本 at home), nobody may name a member who does not exist, DEST may record
the member as a guest where it placed them, and every list naming a foreign id answers 404 rather than an empty 200.
"""

from __future__ import annotations

import uuid
from datetime import date

import grpc
import pytest
from faststream.nats import NatsBroker

from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from jinqiao.organizations.v1 import organizations_pb2 as pb
from tests.integration.conftest import bearer, eventually
from tests.support import field_violations, member_json

HOME, DEST, THIRD = "411524", "410103", "411527"  # 商城县, 二七区, 淮滨县
TAG = uuid.uuid4().hex[:6]
PASSWORD = "foreign ids are checked"
EMPLOYER = f"二七物流园{TAG}"


async def _login(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def _root(platform, county: str, h: dict[str, str], name: str) -> str:
    roots = (await platform.http.get(f"/api/v1/tenants/{county}/orgs", headers=h)).json()["orgs"]
    if roots:
        return roots[0]["id"]
    reply = await platform.http.post(f"/api/v1/tenants/{county}/orgs", headers=h,
                                     json={"name": name, "kind": "county_committee"})
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


async def _org(platform, county: str, h: dict[str, str], parent: str, name: str, kind: str, **extra: object) -> str:
    reply = await platform.http.post(f"/api/v1/tenants/{county}/orgs", headers=h,
                                     json={"parent_id": parent, "name": f"{name}{TAG}", "kind": kind, **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


async def _member(platform, county: str, h: dict[str, str]) -> str:
    reply = await platform.http.post(f"/api/v1/tenants/{county}/members", headers=h, json=member_json(county))
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


async def _meeting(platform, county: str, h: dict[str, str], org: str) -> str:
    reply = await platform.http.post(f"/api/v1/tenants/{county}/orgs/{org}/meetings", headers=h, json={
        "type": "theme_day", "title": f"主题党日{TAG}", "start_time": "2026-07-01T09:00:00+08:00",
        "place": "党员活动室"})
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def _attend(member: str, home: str, status: str = "present") -> dict[str, object]:
    return {"entries": [{"member_id": member, "home_tenant_id": home, "status": status}]}


@pytest.fixture(scope="module")
async def world(platform, settings_for):
    """Logins of three counties; HOME's member placed at DEST's enterprise branch by the real saga."""
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    for county in (HOME, DEST, THIRD):
        await upsert_account(db=db, account=Account(username=f"fid-{county}", role=Role.COUNTY_ADMIN, scope=county,
                                                    acting_tenant=county), password=PASSWORD)
    await db.close()
    h = {county: await _login(platform, f"fid-{county}") for county in (HOME, DEST, THIRD)}
    dest_root = await _root(platform, DEST, h[DEST], "中共二七区委员会")
    street = await _org(platform, DEST, h[DEST], dest_root, "长江路街道党工委", "township_committee")
    branch = await _org(platform, DEST, h[DEST], street, "二七物流园党支部", "enterprise_branch", employer=EMPLOYER)
    other_street = await _org(platform, DEST, h[DEST], dest_root, "淮河路街道党工委", "township_committee")
    third_root = await _root(platform, THIRD, h[THIRD], "中共淮滨县委员会")
    third_branch = await _org(platform, THIRD, h[THIRD], third_root, "淮滨县城关镇党委", "township_committee")

    member = await _member(platform, HOME, h[HOME])
    flow = await platform.http.post(f"/api/v1/tenants/{HOME}/members/{member}/flows", headers=h[HOME], json={
        "destination_code": DEST, "address": "二七区长江路 1 号", "employer": EMPLOYER, "industry": "物流",
        "start_date": date.today().isoformat(), "expected_months": 6})
    assert flow.status_code == 201, flow.text

    async def placed():
        reply = await platform.http.get(f"/api/v1/tenants/{DEST}/memberships", headers=h[DEST],
                                        params={"org_id": branch, "page_size": 200})
        return next((m for m in reply.json()["memberships"] if m["flow_id"] == flow.json()["id"]), None)

    membership = await eventually(placed, timeout=30)
    assert membership["org_id"] == branch
    return {"h": h, "member": member, "flow": flow.json()["id"], "membership": membership["id"], "branch": branch,
            "street": street, "other_street": other_street, "third_branch": third_branch}


async def _notebook(platform, world) -> list[dict]:
    reply = await platform.http.get(f"/api/v1/tenants/{HOME}/members/{world['member']}/activities",
                                    headers=world["h"][HOME])
    assert reply.status_code == 200, reply.text
    return reply.json()


def _fields(reply) -> set[str]:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in reply.json()["errors"]}


async def test_another_county_cannot_record_a_stranger_as_its_guest_and_the_notebook_stays_clean(
        platform, world, admin_conn_factory):
    h, member = world["h"], world["member"]
    # 淮滨县 has no temporary membership for the member: refused by field, nothing recorded or announced.
    third_meeting = await _meeting(platform, THIRD, h[THIRD], world["third_branch"])
    forged = await platform.http.post(
        f"/api/v1/tenants/{THIRD}/orgs/{world['third_branch']}/meetings/{third_meeting}/attendance",
        headers=h[THIRD], json=_attend(member, HOME))
    assert _fields(forged) == {"entries[0].member_id"}
    assert "临时组织关系" in forged.json()["errors"][0]["detail"]
    # Even DEST may record the guest only where it placed them, not under an unrelated township.
    elsewhere = await _meeting(platform, DEST, h[DEST], world["other_street"])
    wrong_place = await platform.http.post(
        f"/api/v1/tenants/{DEST}/orgs/{world['other_street']}/meetings/{elsewhere}/attendance",
        headers=h[DEST], json=_attend(member, HOME))
    assert _fields(wrong_place) == {"entries[0].member_id"}
    # Where it placed them (the township above the branch) the guest counts, and the home notebook hears of it.
    meeting = await _meeting(platform, DEST, h[DEST], world["street"])
    recorded = await platform.http.post(
        f"/api/v1/tenants/{DEST}/orgs/{world['street']}/meetings/{meeting}/attendance",
        headers=h[DEST], json=_attend(member, HOME))
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["present"], recorded.json()["guests"]) == (1, 1)

    async def arrived():
        return [e for e in await _notebook(platform, world) if e["source"] == "meeting"]

    entries = await eventually(arrived, timeout=20)
    # The legitimate entry arrived after the forged attempts were made: they left nothing behind.
    assert [(e["org_name"], e["verified"]) for e in entries] == [("二七区党组织", True)]
    conn = await admin_conn_factory("organizations")
    announced = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND subject LIKE '%.attendance_recorded'", THIRD)
    assert announced == 0
    stored = await conn.fetchval("SELECT count(*) FROM attendance WHERE member_id = $1", uuid.UUID(member))
    assert stored == 1
    # 淮滨县 holds nothing about the member: its attendance list is not found rather than empty.
    seen = await platform.http.get(f"/api/v1/tenants/{THIRD}/members/{member}/attendance", headers=h[THIRD])
    assert seen.status_code == 404
    held = await platform.http.get(f"/api/v1/tenants/{DEST}/members/{member}/attendance", headers=h[DEST])
    assert held.status_code == 200 and [a["guest"] for a in held.json()] == [True]


async def test_a_member_id_that_names_no_one_is_refused_over_http_and_grpc(platform, world, admin_conn_factory):
    h = world["h"]
    meeting = await _meeting(platform, DEST, h[DEST], world["street"])
    nobody = str(uuid.uuid4())
    base = f"/api/v1/tenants/{DEST}/orgs/{world['street']}/meetings/{meeting}/attendance"
    assert _fields(await platform.http.post(base, headers=h[DEST], json=_attend(nobody, DEST))) == {
        "entries[0].member_id"}
    assert _fields(await platform.http.post(base, headers=h[DEST], json=_attend(nobody, HOME))) == {
        "entries[0].member_id"}
    # One stranger in a list refuses the whole list, naming the caller's own position of it.
    mixed = {"entries": [{"member_id": world["member"], "home_tenant_id": HOME, "status": "present"},
                         {"member_id": nobody, "home_tenant_id": THIRD, "status": "absent"}]}
    assert _fields(await platform.http.post(base, headers=h[DEST], json=mixed)) == {"entries[1].member_id"}
    # A meeting named under another organisation than its own is not found.
    astray = await platform.http.post(
        f"/api/v1/tenants/{DEST}/orgs/{world['other_street']}/meetings/{meeting}/attendance", headers=h[DEST],
        json=_attend(world["member"], HOME))
    assert astray.status_code == 404
    token = h[DEST]["Authorization"].removeprefix("Bearer ")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.organizations_stub.RecordAttendance(pb.RecordAttendanceRequest(meeting_id=meeting, entries=[
            pb.AttendanceEntry(member_id=nobody, home_tenant_id=DEST, status=pb.ATTENDANCE_STATUS_PRESENT)]),
            metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"entries[0].member_id"}
    conn = await admin_conn_factory("organizations")
    assert await conn.fetchval("SELECT count(*) FROM attendance WHERE meeting_id = $1", uuid.UUID(meeting)) == 0
    # The same for a grid: a member id must be the county's own or one it placed there.
    grid = await platform.http.post(f"/api/v1/tenants/{DEST}/orgs/{world['street']}/grids", headers=h[DEST],
                                    json={"name": f"第一网格{TAG}", "member_ids": [nobody]})
    assert _fields(grid) == {"member_ids"}
    placed = await platform.http.post(f"/api/v1/tenants/{DEST}/orgs/{world['street']}/grids", headers=h[DEST],
                                      json={"name": f"第二网格{TAG}", "member_ids": [world["member"]]})
    assert placed.status_code == 201, placed.text


async def test_the_countys_own_member_is_recorded_once_the_registry_announced_them(platform, world):
    h = world["h"]
    own = await _member(platform, DEST, h[DEST])
    meeting = await _meeting(platform, DEST, h[DEST], world["street"])
    url = f"/api/v1/tenants/{DEST}/orgs/{world['street']}/meetings/{meeting}/attendance"

    async def recorded():
        # The organisations learn of a new member from the registry's MemberRegistered, a moment later.
        reply = await platform.http.post(url, headers=h[DEST], json=_attend(own, DEST))
        return reply if reply.status_code == 200 else None

    # Bounded generously: on a loaded machine the organisations may be working through earlier tests' events.
    reply = await eventually(recorded, timeout=60)
    assert (reply.json()["present"], reply.json()["guests"]) == (1, 0)
    # Another county cannot claim the member as its own either.
    third_meeting = await _meeting(platform, THIRD, h[THIRD], world["third_branch"])
    claimed = await platform.http.post(
        f"/api/v1/tenants/{THIRD}/orgs/{world['third_branch']}/meetings/{third_meeting}/attendance",
        headers=h[THIRD], json=_attend(own, THIRD))
    assert _fields(claimed) == {"entries[0].member_id"}

    async def noted():
        reply = await platform.http.get(f"/api/v1/tenants/{DEST}/members/{own}/activities", headers=h[DEST])
        return [e for e in reply.json() if e["source"] == "meeting"]

    assert [e["org_name"] for e in await eventually(noted, timeout=20)] == [""]


async def test_lists_naming_a_foreign_id_answer_404_not_an_empty_list(platform, world):
    h = world["h"]
    member, flow, third_org = world["member"], world["flow"], world["third_branch"]
    for login, url in (
        # 淮滨县 asks its own tenant about 商城县's member and flow; 二七区 about a 淮滨县 organisation.
        (THIRD, f"/api/v1/tenants/{THIRD}/members/{member}/attendance"),
        (THIRD, f"/api/v1/tenants/{THIRD}/members/{member}/flows"),
        (THIRD, f"/api/v1/tenants/{THIRD}/members/{member}/activities"),
        (THIRD, f"/api/v1/tenants/{THIRD}/members/{member}/evaluations"),
        (THIRD, f"/api/v1/tenants/{THIRD}/members/{member}/history"),
        (THIRD, f"/api/v1/tenants/{THIRD}/flow-alerts?flow_id={flow}"),
        (DEST, f"/api/v1/tenants/{DEST}/members/{uuid.uuid4()}/attendance"),
        (DEST, f"/api/v1/tenants/{DEST}/members/not-a-member/attendance"),
        (DEST, f"/api/v1/tenants/{DEST}/memberships?org_id={third_org}"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/meetings"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/officers"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/grids"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/children"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/subtree"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/ancestors"),
        (DEST, f"/api/v1/tenants/{DEST}/orgs/{third_org}/check-in-code"),
        # Another county's tenant in the path, with one's own login.
        (DEST, f"/api/v1/tenants/{THIRD}/orgs/{third_org}/meetings"),
        (DEST, f"/api/v1/tenants/{HOME}/members/{member}/attendance"),
    ):
        reply = await platform.http.get(url, headers=h[login])
        assert reply.status_code == 404, (url, reply.status_code, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
    # The county that holds them still reads them.
    own = await platform.http.get(f"/api/v1/tenants/{HOME}/flow-alerts?flow_id={flow}", headers=h[HOME])
    assert own.status_code == 200


def _broker_as(infra, service: str) -> NatsBroker:
    """A broker publishing with the service's own credentials (the bus authenticates every login)."""
    broker_as = getattr(infra, "broker_as", None)
    return broker_as(service) if broker_as else NatsBroker(infra.nats_url)


async def _publish_as_organizations(infra, message, *, county: str, aggregate: str) -> str:
    pending = ev.new_event(message, service="organizations", tenant=county, aggregate_id=aggregate,
                           aggregate_version=1, traceparent=None)
    broker = _broker_as(infra, "organizations")
    await broker.connect()
    try:
        await broker.publish(pending.payload, pending.subject, stream=ev.stream_name("organizations"),
                             headers=ev.headers_for(event_id=pending.event_id, event_type=pending.event_type,
                                                    event_version=1, tenant=county, traceparent=None))
    finally:
        await broker.stop()
    return pending.event_id


async def test_forged_entries_on_the_bus_are_dead_lettered_and_never_reach_the_notebook(
        platform, world, infra, admin_conn_factory):
    member, flow = world["member"], world["flow"]
    before = await _notebook(platform, world)
    # Valid credentials of the organisations service, but 淮滨县 holds no flow of the member.
    forged_meeting = await _publish_as_organizations(infra, org_events.AttendanceRecorded(
        meeting_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()), member_id=member, home_tenant_id=HOME,
        status="PRESENT", guest=True, meeting_type="THEME_DAY"), county=THIRD, aggregate=str(uuid.uuid4()))
    forged_activity = await _publish_as_organizations(infra, org_events.ActivityRecorded(
        activity_id=str(uuid.uuid4()), membership_id=str(uuid.uuid4()), flow_id=flow, origin_tenant_id=HOME,
        member_id=member, org_id=str(uuid.uuid4()), org_name="伪造党支部", occurred_on=date.today().isoformat(),
        title="伪造的活动"), county=THIRD, aggregate=str(uuid.uuid4()))
    unknown = await _publish_as_organizations(infra, org_events.AttendanceRecorded(
        meeting_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()), member_id=str(uuid.uuid4()), home_tenant_id=HOME,
        status="PRESENT", guest=True, meeting_type="THEME_DAY"), county=DEST, aggregate=str(uuid.uuid4()))
    conn = await admin_conn_factory("registry")

    async def dead(event_id: str):
        return await conn.fetchrow("SELECT consumer, error FROM dead_letters WHERE event_id = $1", event_id)

    for event_id, consumer in ((forged_meeting, "registry-attendance"), (forged_activity, "registry-activities"),
                               (unknown, "registry-attendance")):
        letter = await eventually(lambda event_id=event_id: dead(event_id), timeout=20)
        assert letter["consumer"] == consumer and "ForgedEvent" in letter["error"], letter
    # The legitimate destination still vouches for an activity of the member it placed and checked in.
    h = world["h"]
    base = f"/api/v1/tenants/{DEST}/memberships/{world['membership']}"
    assert (await platform.http.post(f"{base}/check-in", headers=h[DEST])).status_code == 200
    activity = await platform.http.post(f"{base}/activities", headers=h[DEST], json={
        "occurred_on": date.today().isoformat(), "title": f"志愿服务{TAG}"})
    assert activity.status_code == 201, activity.text

    async def vouched():
        return [e for e in await _notebook(platform, world) if e["title"] == f"志愿服务{TAG}"]

    assert await eventually(vouched, timeout=20)
    after = await _notebook(platform, world)
    assert not [e for e in after if e["org_name"] in {"伪造党支部", "淮滨县党组织"} or e["title"] == "伪造的活动"]
    assert len(after) == len(before) + 1
