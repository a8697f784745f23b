"""The event bus trusts no one (issue 9, finding 1), tried as an outsider would with plain NATS clients.

No login, no connection; another service's valid login may not publish the organisations service's answers (the
server refuses them); the organisations service's own login may publish, but an answer claiming another county
than the one placing the flow, a stale or unknown attempt, or another organisation than the one offered is
dead-lettered by the origin with its reason and never applied; the monitor port listens on loopback only.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path

import httpx
import nats
import psutil
import pytest
from nats.errors import Error as NatsError
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeout

from jinqiao.events.v1 import organizations_events_pb2 as oe
from jinqiao.kit import catalog
from jinqiao.kit import events as ev
from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.natsauth import ADMIN, logins, new_passwords
from jinqiao.kit.runtime.ports import free_port
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.registry.v1 import flows_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import member_request

K = pb.OrgKind
F = flows_pb2.FlowStatus
# 息县 sends a member to 中原区, which places them; 管城回族区 has nothing to do with the flow.
ORIGIN, DEST, OTHER = "411528", "410102", "410104"
TAG = uuid.uuid4().hex[:6]
EMPLOYER = f"中原纺织厂{TAG}"


@pytest.fixture(scope="module")
def md(county_token):
    return {code: bearer(county_token(code)) for code in (ORIGIN, DEST, OTHER)}


@pytest.fixture(scope="module")
async def placed(platform, md):
    """A flow from 息县 offered by 中原区 at an employer branch: the flow as the origin shows it."""
    orgs = platform.organizations_stub
    roots = (await orgs.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md[DEST])).orgs
    root = roots[0].id if roots else (await orgs.CreateOrg(pb.CreateOrgRequest(
        name="中共中原区委员会", kind=K.ORG_KIND_COUNTY_COMMITTEE), metadata=md[DEST])).org.id
    street = (await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=root, name=f"林山寨街道党工委{TAG}",
                                                       kind=K.ORG_KIND_TOWNSHIP_COMMITTEE), metadata=md[DEST])).org.id
    await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=street, name=f"中原纺织厂党支部{TAG}",
                                             kind=K.ORG_KIND_ENTERPRISE_BRANCH, employer=EMPLOYER), metadata=md[DEST])
    return await _offered_flow(platform, md)


async def _offered_flow(platform, md) -> flows_pb2.Flow:
    member = (await platform.registry_stub.CreateMember(member_request(ORIGIN), metadata=md[ORIGIN])).member
    flow = (await platform.registry_stub.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=DEST, address="中原区建设西路 1 号", employer=EMPLOYER, industry="纺织",
        start_date=date.today().isoformat(), expected_months=6), metadata=md[ORIGIN])).flow
    return await eventually(lambda: _flow(platform, md, flow.id, F.FLOW_STATUS_OFFERED), timeout=30)


async def _flow(platform, md, flow_id: str, *statuses: int) -> flows_pb2.Flow | None:
    flow = (await platform.registry_stub.GetFlow(flows_pb2.GetFlowRequest(id=flow_id), metadata=md[ORIGIN])).flow
    return flow if not statuses or flow.status in statuses else None


def _check_in(flow: flows_pb2.Flow, **overrides: object) -> oe.CheckedIn:
    fields: dict[str, object] = {
        "membership_id": flow.membership_id, "flow_id": flow.id, "origin_tenant_id": ORIGIN,
        "member_id": flow.member_id, "attempt": flow.attempt, "org_id": flow.org_id, "org_name": flow.org_name,
        "method": "STAFF", "checked_in_at": f"{date.today().isoformat()}T09:00:00+08:00"}
    fields.update(overrides)
    return oe.CheckedIn(**fields)


class Client:
    """A raw nats-py connection and the errors the server sent it."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.nc: nats.NATS | None = None

    async def connect(self, url: str, **options: object) -> Client:
        async def collect(error: Exception) -> None:
            self.errors.append(error)

        self.nc = await nats.connect(url, error_cb=collect, allow_reconnect=False, max_reconnect_attempts=0,
                                     connect_timeout=2, **options)
        return self

    def refused(self) -> bool:
        return any("permissions violation" in str(e).lower() for e in self.errors)


async def _publish(client: Client, message, *, county: str, timeout: float = 1.0) -> str:
    """Publish an organisations event as its relay would (JetStream, waiting for the PubAck); its event id."""
    pending = ev.new_event(message, service="organizations", tenant=county, aggregate_id=str(uuid.uuid4()),
                           aggregate_version=1, traceparent=None)
    assert client.nc is not None
    await client.nc.jetstream().publish(
        pending.subject, pending.payload, timeout=timeout, stream=ev.stream_name("organizations"),
        headers=ev.headers_for(event_id=pending.event_id, event_type=pending.event_type, event_version=1,
                               tenant=county, traceparent=None))
    return pending.event_id


async def _last_sequence(infra) -> int:
    admin = await Client().connect(infra.nats_url, **infra.nats_options(ADMIN))
    assert admin.nc is not None
    try:
        return (await admin.nc.jetstream().stream_info(ev.stream_name("organizations"))).state.last_seq
    finally:
        await admin.nc.close()


async def _appended_since(infra, sequence: int) -> list[str]:
    """The payloads (as text, for their ids) of the organisations stream's messages after ``sequence``."""
    admin = await Client().connect(infra.nats_url, **infra.nats_options(ADMIN))
    assert admin.nc is not None
    try:
        js = admin.nc.jetstream()
        stream = ev.stream_name("organizations")
        last = (await js.stream_info(stream)).state.last_seq
        return [(await js.get_msg(stream, seq)).data.decode(errors="replace") for seq in range(sequence + 1, last + 1)]
    finally:
        await admin.nc.close()


# ------------------------------------------------------------------------------------------------ (a) no login


async def test_a_client_without_credentials_cannot_connect(infra):
    for options in ({}, {"user": "organizations", "password": "guessed"}, {"user": "nobody", "password": "x"}):
        client = Client()
        with pytest.raises((NoServersError, NatsError, OSError)):
            await client.connect(infra.nats_url, **options)
        assert any("authorization violation" in str(e).lower() for e in client.errors), client.errors


# ------------------------------------------------------------------------------------------------ (b) wrong login


@pytest.mark.parametrize("who", ["insights", "registry", "desk"])
async def test_another_services_login_cannot_publish_an_answer_and_nothing_changes(platform, md, placed, infra,
                                                                                   who):
    before = await _last_sequence(infra)
    client = await Client().connect(infra.nats_url, **infra.nats_options(who))
    assert client.nc is not None
    try:
        for forged in (_check_in(placed), oe.TemporaryMembershipOffered(
                membership_id=str(uuid.uuid4()), flow_id=placed.id, origin_tenant_id=ORIGIN,
                member_id=placed.member_id, attempt=placed.attempt, org_id=str(uuid.uuid4()), org_name="不存在的党支部",
                rule="EMPLOYER_BRANCH", destination_code=DEST)):
            with pytest.raises(NatsTimeout):  # the server drops it: no stream ever sees it, so no PubAck comes
                await _publish(client, forged, county=DEST)
        await eventually(lambda: _true(client.refused()))
        # Nor may it read the subjects or another login's replies, or declare a stream of its own.
        await client.nc.subscribe("jinqiao.>")
        await client.nc.subscribe("_INBOX_organizations.>")
        with pytest.raises(NatsTimeout):
            await client.nc.jetstream(timeout=1).add_stream(name=f"FORGED_{TAG}",
                                                            subjects=["jinqiao.*.organizations.x"])
        await eventually(lambda: _true(sum("subscription" in str(e).lower() for e in client.errors) >= 2))
    finally:
        await client.nc.close()
    await asyncio.sleep(0.5)
    # Other tests' relays may append legitimate events meanwhile: none of what was appended is about this flow.
    assert [m for m in await _appended_since(infra, before) if placed.id in m] == []
    flow = await _flow(platform, md, placed.id)
    assert flow.status == F.FLOW_STATUS_OFFERED and flow.org_id == placed.org_id
    assert flow.membership_id == placed.membership_id


async def _true(value: bool) -> bool:
    return value


async def test_each_login_is_granted_only_its_own_subjects(infra):
    grants = {name: login for name, login in infra.nats_logins.items() if name != ADMIN}
    assert set(grants) == {e.name for e in catalog.load()}
    for name, login in grants.items():
        owned = [s for s in login.publish if s.startswith("jinqiao.")]
        assert owned == ([f"jinqiao.*.{name}.>"] if catalog.get(name).produces_events else []), (name, owned)
        assert login.subscribe == (f"_INBOX_{name}.>",)
        assert not any(".STREAM.CREATE." in s or ".STREAM.UPDATE." in s or ".DELETE." in s for s in login.publish)


# ------------------------------------------------------------------------------------------------ (c) right login


async def test_answers_the_placing_county_did_not_give_are_dead_lettered_with_their_reason(
        platform, md, placed, infra, admin_conn_factory):
    registry_db = await admin_conn_factory("registry")
    client = await Client().connect(infra.nats_url, **infra.nats_options("organizations"))
    try:
        cases = [
            # Valid credentials of the organisations service, but 管城回族区 does not place this flow.
            (OTHER, _check_in(placed), f"答复来自 {OTHER}"),
            (OTHER, oe.TemporaryMembershipOffered(
                membership_id=str(uuid.uuid4()), flow_id=placed.id, origin_tenant_id=ORIGIN,
                member_id=placed.member_id, attempt=placed.attempt, org_id=str(uuid.uuid4()), org_name="不存在的党支部",
                rule="EMPLOYER_BRANCH", destination_code=OTHER), f"答复来自 {OTHER}"),
            (OTHER, oe.TemporaryMembershipRefused(
                membership_id=placed.membership_id, flow_id=placed.id, origin_tenant_id=ORIGIN,
                member_id=placed.member_id, attempt=placed.attempt, reason="伪造的拒收"), f"答复来自 {OTHER}"),
            (OTHER, oe.DestinationAssessmentGiven(
                membership_id=placed.membership_id, flow_id=placed.id, origin_tenant_id=ORIGIN,
                member_id=placed.member_id, year=date.today().year, grade="EXCELLENT", comment="伪造的评议",
                org_name="不存在的党支部"), f"评议来自 {OTHER}"),
            # The placing county, but an attempt that never was, or another organisation than the one it offered.
            (DEST, _check_in(placed, attempt=placed.attempt + 1), f"第 {placed.attempt + 1} 次安置"),
            (DEST, _check_in(placed, org_id=str(uuid.uuid4()), org_name="不存在的党支部"),
             "党组织与安置时提供的不一致"),
            (DEST, _check_in(placed, membership_id=str(uuid.uuid4())), "临时组织关系与安置时提供的不一致"),
            # A flow the origin does not hold at all.
            (DEST, _check_in(placed, flow_id=str(uuid.uuid4())), "不在本县"),
        ]
        published = [(await _publish(client, message, county=county), county, reason)
                     for county, message, reason in cases]
    finally:
        assert client.nc is not None
        await client.nc.close()
    assert not client.refused()
    for event_id, county, reason in published:
        letter = await eventually(lambda event_id=event_id: registry_db.fetchrow(
            "SELECT tenant_id, consumer, error, deliveries FROM dead_letters WHERE event_id = $1", event_id),
            timeout=20)
        # Filed under the county that published it, at the first delivery: a forged answer is never retried.
        assert letter["tenant_id"] == county and letter["deliveries"] == 1, dict(letter)
        assert "ForgedEvent" in letter["error"] and reason in letter["error"], dict(letter)
    flow = await _flow(platform, md, placed.id)
    assert flow.status == F.FLOW_STATUS_OFFERED and flow.org_id == placed.org_id
    assert flow.membership_id == placed.membership_id and not flow.HasField("check_in_time")


async def test_a_stale_attempts_answer_is_dead_lettered_and_the_current_one_still_applies(
        platform, md, infra, placed, admin_conn_factory):
    flow = await _offered_flow(platform, md)
    await platform.registry_stub.RedirectFlow(flows_pb2.RedirectFlowRequest(
        id=flow.id, employer="个体经营", address="不详"), metadata=md[ORIGIN])
    second = await eventually(lambda: _attempt(platform, md, flow.id, 2), timeout=30)
    client = await Client().connect(infra.nats_url, **infra.nats_options("organizations"))
    try:
        stale = await _publish(client, _check_in(flow), county=DEST)  # attempt 1, at the first attempt's branch
    finally:
        assert client.nc is not None
        await client.nc.close()
    registry_db = await admin_conn_factory("registry")
    letter = await eventually(lambda: registry_db.fetchrow(
        "SELECT consumer, error FROM dead_letters WHERE event_id = $1", stale), timeout=20)
    assert letter["consumer"] == "registry-check-ins" and "已被取代的第 1 次安置" in letter["error"], dict(letter)
    now = await _flow(platform, md, flow.id)
    assert now.attempt == 2 and now.status == second.status and not now.HasField("check_in_time")
    # The county placing the current attempt still checks the member in, through the service itself.
    if now.status == F.FLOW_STATUS_OFFERED:
        page = await platform.organizations_stub.ListMemberships(pb.ListMembershipsRequest(
            statuses=[pb.MEMBERSHIP_STATUS_OFFERED], page_size=200), metadata=md[DEST])
        held = next(m for m in page.memberships if m.flow_id == flow.id and m.attempt == 2)
        await platform.organizations_stub.CheckInMembership(pb.CheckInMembershipRequest(id=held.id),
                                                            metadata=md[DEST])
        await eventually(lambda: _flow(platform, md, flow.id, F.FLOW_STATUS_MANAGED), timeout=20)


async def _attempt(platform, md, flow_id: str, attempt: int) -> flows_pb2.Flow | None:
    flow = await _flow(platform, md, flow_id)
    answered = (F.FLOW_STATUS_OFFERED, F.FLOW_STATUS_REFUSED)
    return flow if flow.attempt == attempt and flow.status in answered else None


async def test_organisations_refuse_a_closure_from_another_origin_than_the_flows(
        platform, md, infra, placed, admin_conn_factory):
    from jinqiao.events.v1 import registry_events_pb2 as re

    orgs_db = await admin_conn_factory("organizations")
    pending = ev.new_event(re.FlowClosed(flow_id=placed.id, member_id=placed.member_id, placing_tenant_id=DEST,
                                         reason="RETURNED"), service="registry", tenant=OTHER,
                           aggregate_id=placed.id, aggregate_version=99, traceparent=None)
    client = await Client().connect(infra.nats_url, **infra.nats_options("registry"))
    try:
        assert client.nc is not None
        await client.nc.jetstream().publish(pending.subject, pending.payload, stream=ev.stream_name("registry"),
                                            headers=ev.headers_for(event_id=pending.event_id,
                                                                   event_type=pending.event_type, event_version=1,
                                                                   tenant=OTHER, traceparent=None))
    finally:
        await client.nc.close()
    letter = await eventually(lambda: orgs_db.fetchrow(
        "SELECT tenant_id, consumer, error FROM dead_letters WHERE event_id = $1", pending.event_id), timeout=20)
    assert letter["tenant_id"] == OTHER and "ForgedEvent" in letter["error"] and ORIGIN in letter["error"]
    held = await orgs_db.fetchval("SELECT status FROM memberships WHERE flow_id = $1", uuid.UUID(placed.id))
    assert held == pb.MEMBERSHIP_STATUS_OFFERED


# ------------------------------------------------------------------------------------------------ (d) monitor


async def test_the_monitor_port_listens_on_loopback_only_and_the_server_demands_a_login(tmp_path: Path):
    users = logins(new_passwords({}, catalog.load())).values()
    server = EmbeddedNats(data_dir=tmp_path / "nats", port=free_port(), monitor_port=free_port(), users=users)
    server.start()
    try:
        assert server.monitor_port is not None
        listening = [c for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port in (server.port, server.monitor_port)]
        assert {c.laddr.port for c in listening} == {server.port, server.monitor_port}
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
        async with httpx.AsyncClient(timeout=5) as http:
            varz = (await http.get(f"http://127.0.0.1:{server.monitor_port}/varz")).json()
        assert varz["auth_required"] is True
        conf = server.data_dir / "nats.conf"
        assert conf.stat().st_mode & 0o077 == 0  # it holds the passwords
        assert "no_auth_user" not in conf.read_text()
    finally:
        server.stop()
