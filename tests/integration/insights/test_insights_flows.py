"""The flow matrix read model over real JetStream and PostgreSQL: order, duplicates, coverage, HTTP.

Every test tags its flows with an industry of its own and filters on it, so flows of other tests (and of the
registry's own tests) never enter its figures. Exact figures are the county's own view (a county token over its
own scope); a province or city sees them suppressed (tests/security/test_suppression.py). Registrations leave the
hand-over's placing county empty so that no organizations consumer places these flows by itself: the tests publish
the destination's answers.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from google.protobuf.message import Message

from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.kit.db import PendingEvent
from tests.integration.conftest import bearer, eventually

A, B = "411521", "411522"  # 罗山县, 光山县
ZHENGZHOU, GUANGZHOU, SHANGHAI = "410102", "440100", "310000"
MEMBER_NAME = "流动测试员"


def tag() -> str:
    """An industry no other test uses."""
    return f"测试行业-{uuid.uuid4().hex[:8]}"


class Script:
    """Builds the events of one origin's flows; ``member_ids`` remembers every member id it put on the wire."""

    def __init__(self, origin: str, industry: str) -> None:
        self.origin = origin
        self.industry = industry
        self.member_ids: dict[str, str] = {}

    def _build(self, message: Message, *, service: str, tenant: str, aggregate_id: str) -> PendingEvent:
        return ev.new_event(message, service=service, tenant=tenant, aggregate_id=aggregate_id, aggregate_version=1,
                            traceparent=None)

    def _member(self, flow: str) -> str:
        return self.member_ids.setdefault(flow, str(uuid.uuid4()))

    def _placing(self, destination: str) -> str:
        # In the province the destination county places the member; outside it the origin's 驻外 organisations.
        return destination if destination[:2] == self.origin[:2] else self.origin

    def handover(self, destination: str) -> handover_pb2.Handover:
        return handover_pb2.Handover(member_name=MEMBER_NAME, id_number_masked="4115**********123X",
                                     destination_code=destination, industry=self.industry,
                                     out_of_province=destination[:2] != self.origin[:2], employer="测试建设公司")

    def registered(self, flow: str, destination: str, start: str) -> PendingEvent:
        return self._build(reg_events.FlowRegistered(
            flow_id=flow, member_id=self._member(flow), attempt=1, handover=self.handover(destination),
            start_date=start, expected_months=6, certificate_serial=f"{self.origin}-2019-00001",
        ), service="registry", tenant=self.origin, aggregate_id=flow)

    def redirected(self, flow: str, attempt: int, destination: str, previous: str, reason: str) -> PendingEvent:
        return self._build(reg_events.FlowRedirected(
            flow_id=flow, member_id=self._member(flow), attempt=attempt, handover=self.handover(destination),
            reason=reason, previous_placing_tenant_id=self._placing(previous),
        ), service="registry", tenant=self.origin, aggregate_id=flow)

    def closed(self, flow: str, destination: str, reason: str = "RETURNED") -> PendingEvent:
        return self._build(reg_events.FlowClosed(
            flow_id=flow, member_id=self._member(flow), placing_tenant_id=self._placing(destination), reason=reason,
            closed_on="2019-09-30", destination_code=destination, industry=self.industry,
        ), service="registry", tenant=self.origin, aggregate_id=flow)

    def timer(self, flow: str, destination: str, timer: str = "CHECK_IN_OVERDUE") -> PendingEvent:
        return self._build(reg_events.PolicyTimerFired(
            flow_id=flow, member_id=self._member(flow), timer=timer, level=1, due_date="2019-04-30",
            destination_code=destination, industry=self.industry,
        ), service="registry", tenant=self.origin, aggregate_id=flow)

    def offered(self, flow: str, attempt: int, destination: str, rule: str) -> PendingEvent:
        membership = f"{flow}-{attempt}"
        return self._build(org_events.TemporaryMembershipOffered(
            membership_id=membership, flow_id=flow, origin_tenant_id=self.origin, member_id=self._member(flow),
            attempt=attempt, org_id=str(uuid.uuid4()), org_name="测试党支部", rule=rule, reason="测试",
            destination_code=destination,
        ), service="organizations", tenant=self._placing(destination), aggregate_id=membership)

    def refused(self, flow: str, attempt: int, destination: str) -> PendingEvent:
        membership = f"{flow}-{attempt}"
        return self._build(org_events.TemporaryMembershipRefused(
            membership_id=membership, flow_id=flow, origin_tenant_id=self.origin, member_id=self._member(flow),
            attempt=attempt, reason="无合适组织", advice="建议成立临时党支部", no_placement=True,
            destination_code=destination,
        ), service="organizations", tenant=self._placing(destination), aggregate_id=membership)

    def checked_in(self, flow: str, attempt: int, destination: str) -> PendingEvent:
        membership = f"{flow}-{attempt}"
        return self._build(org_events.CheckedIn(
            membership_id=membership, flow_id=flow, origin_tenant_id=self.origin, member_id=self._member(flow),
            attempt=attempt, org_id=str(uuid.uuid4()), org_name="测试党支部", method="QR_CODE",
            checked_in_at="2019-04-02T09:00:00+08:00",
        ), service="organizations", tenant=self._placing(destination), aggregate_id=membership)

    def membership_closed(self, flow: str, attempt: int, destination: str) -> PendingEvent:
        membership = f"{flow}-{attempt}"
        return self._build(org_events.TemporaryMembershipClosed(
            membership_id=membership, flow_id=flow, origin_tenant_id=self.origin, member_id=self._member(flow),
            attempt=attempt, reason="RE_PLACED",
        ), service="organizations", tenant=self._placing(destination), aggregate_id=membership)


Publish = Callable[..., Awaitable[None]]


@pytest.fixture
async def publish(platform, infra, admin_conn_factory) -> AsyncIterator[Publish]:
    """Publish built events on JetStream, as the producers' relays would; optionally wait until each is handled."""
    # Each producer's events go out with that producer's login, as its relay would publish them.
    brokers = {service: infra.broker_as(service) for service in ("registry", "organizations")}
    for broker in brokers.values():
        await broker.connect()
    conn = await admin_conn_factory("insights")

    async def handled(event_ids: list[str]) -> bool:
        count = await conn.fetchval("SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY($1::uuid[])",
                                    event_ids)
        return count == len(set(event_ids))

    async def send(pending: PendingEvent, *, msg_id: str | None = None) -> None:
        service = pending.subject.split(".")[2]
        headers = ev.headers_for(event_id=msg_id or pending.event_id, event_type=pending.event_type,
                                 event_version=pending.event_version, tenant=pending.tenant_id, traceparent=None)
        await brokers[service].publish(pending.payload, pending.subject, headers=headers,
                                       stream=ev.stream_name(service))

    async def run(events: list[PendingEvent], *, one_by_one: bool = False, twice: bool = False,
                  shuffle: random.Random | None = None, wait: bool = True) -> None:
        # A second copy carries another Nats-Msg-Id, so the stream's dedupe window lets it through to the inbox.
        copies = [(e, None) for e in events] + ([(e, str(uuid.uuid4())) for e in events] if twice else [])
        if shuffle is not None:
            shuffle.shuffle(copies)
        for pending, msg_id in copies:
            await send(pending, msg_id=msg_id)
            if one_by_one:
                await eventually(lambda p=pending: handled([p.event_id]))
        if wait:
            await eventually(lambda: handled([e.event_id for e in events]), timeout=30)

    yield run
    for broker in brokers.values():
        await broker.stop()


async def matrix(platform, issuer, scope: str, **filters: str) -> insights_pb2.GetFlowMatrixResponse:
    """The matrix as the county itself sees it (exact) for a county scope, else as the province sees it."""
    if len(scope) == 6:
        token, _ = issuer.issue(user="c", role=Role.COUNTY_ADMIN, scope=scope)
    else:
        token, _ = issuer.issue(user="p", role=Role.PROVINCE_ANALYST, scope="41")
    return await platform.insights_stub.GetFlowMatrix(insights_pb2.GetFlowMatrixRequest(scope=scope, **filters),
                                                      metadata=bearer(token))


def figures(reply: insights_pb2.GetFlowMatrixResponse, origin: str) -> dict[str, object]:
    """One origin's part of a reply, with the origin left out so that two origins can be compared."""
    return {
        "cells": sorted((c.destination_code, c.month, c.industry, c.flows)
                        for c in reply.cells if c.origin_tenant_id == origin),
        "coverage": [(c.away, c.offered, c.managed, c.overdue_check_ins, round(c.coverage, 6))
                     for c in reply.coverage if c.origin_tenant_id == origin],
        "unorganised": sorted((u.destination_code, u.members) for u in reply.unorganised
                              if u.origin_tenant_id == origin),
    }


def six_flows(script: Script) -> list[PendingEvent]:
    """Managed; re-placed into the online branch; overdue; returned; refused; re-placed after a check-in."""
    f1, f2, f3, f4, f5, f6 = (f"flow-{uuid.uuid4()}" for _ in range(6))
    s = script
    return [
        s.registered(f1, ZHENGZHOU, "2019-03-05"), s.offered(f1, 1, ZHENGZHOU, "EMPLOYER_BRANCH"),
        s.checked_in(f1, 1, ZHENGZHOU),
        s.registered(f2, GUANGZHOU, "2019-03-20"), s.offered(f2, 1, GUANGZHOU, "EXTERNAL_BRANCH_IN_CITY"),
        s.redirected(f2, 2, SHANGHAI, GUANGZHOU, "DESTINATION_CHANGED"), s.membership_closed(f2, 1, GUANGZHOU),
        s.offered(f2, 2, SHANGHAI, "ONLINE_BRANCH"),
        s.registered(f3, SHANGHAI, "2019-04-01"), s.timer(f3, SHANGHAI), s.timer(f3, SHANGHAI, "CERTIFICATE_EXPIRED"),
        s.registered(f4, ZHENGZHOU, "2019-04-02"), s.offered(f4, 1, ZHENGZHOU, "RESIDENCE_COMMUNITY_BRANCH"),
        s.checked_in(f4, 1, ZHENGZHOU), s.closed(f4, ZHENGZHOU), s.membership_closed(f4, 1, ZHENGZHOU),
        s.registered(f5, GUANGZHOU, "2019-04-03"), s.refused(f5, 1, GUANGZHOU),
        s.registered(f6, ZHENGZHOU, "2019-04-04"), s.offered(f6, 1, ZHENGZHOU, "EMPLOYER_BRANCH"),
        s.checked_in(f6, 1, ZHENGZHOU), s.redirected(f6, 2, GUANGZHOU, ZHENGZHOU, "EMPLOYER_CHANGED"),
        s.membership_closed(f6, 1, ZHENGZHOU),
    ]


async def test_order_and_duplicates_do_not_change_the_matrix(platform, issuer, publish):
    industry = tag()
    await publish(six_flows(Script(A, industry)), one_by_one=True)
    await publish(list(reversed(six_flows(Script(B, industry)))), twice=True, shuffle=random.Random(20190305))

    expected = {
        "cells": sorted([(ZHENGZHOU, "2019-03", industry, 1), (SHANGHAI, "2019-03", industry, 1),
                         (SHANGHAI, "2019-04", industry, 1), (ZHENGZHOU, "2019-04", industry, 1),
                         (GUANGZHOU, "2019-04", industry, 2)]),
        # away f1 f2 f3 f5 f6; offered f1 (checked in) and f2 (online branch); managed f1; overdue f3.
        "coverage": [(5, 2, 1, 1, 0.2)],
        "unorganised": [],
    }
    for origin in (A, B):
        reply = await matrix(platform, issuer, origin, industry=industry)
        assert figures(reply, origin) == expected
        assert (reply.total_away, reply.total_managed, reply.total_overdue) == (5, 1, 1)
        assert reply.threshold == 0 and not reply.partial_totals and reply.coverage_filtered
    # The second copies may still be on their way: give them time, then nothing may have moved.
    await asyncio.sleep(1)
    assert figures(await matrix(platform, issuer, B, industry=industry), B) == expected

    april = await matrix(platform, issuer, A, industry=industry, from_month="2019-04", to_month="2019-04")
    assert figures(april, A)["coverage"] == [(3, 0, 0, 1, 0.0)]
    assert all(c.month == "2019-04" for c in april.cells)


async def test_the_full_sequence_in_order_then_the_return(platform, issuer, publish):
    s = Script(A, tag())
    flow = f"flow-{uuid.uuid4()}"
    await publish([s.registered(flow, ZHENGZHOU, "2019-05-06"), s.offered(flow, 1, ZHENGZHOU, "EMPLOYER_BRANCH")],
                  one_by_one=True)
    offered = figures(await matrix(platform, issuer, A, industry=s.industry), A)
    assert offered["cells"] == [(ZHENGZHOU, "2019-05", s.industry, 1)]
    assert offered["coverage"] == [(1, 1, 0, 0, 0.0)]
    await publish([s.checked_in(flow, 1, ZHENGZHOU)])
    assert figures(await matrix(platform, issuer, A, industry=s.industry), A)["coverage"] == [(1, 1, 1, 0, 1.0)]
    await publish([s.closed(flow, ZHENGZHOU), s.membership_closed(flow, 1, ZHENGZHOU)])
    returned = figures(await matrix(platform, issuer, A, industry=s.industry), A)
    # Registered flows stay in the matrix; only the coverage forgets a member who came home.
    assert returned["cells"] == [(ZHENGZHOU, "2019-05", s.industry, 1)]
    assert returned["coverage"] == [(0, 0, 0, 0, 0.0)]


async def test_facts_that_outrun_the_registration_wait_for_it(platform, issuer, publish):
    s = Script(B, tag())
    flow = f"flow-{uuid.uuid4()}"
    checked_in = s.checked_in(flow, 1, GUANGZHOU)
    await publish([s.timer(flow, GUANGZHOU)], one_by_one=True)
    # An answer about a flow insights does not know yet cannot be checked against its placing county: it is put
    # back and delivered again (with back-off) until the registration has arrived.
    await publish([checked_in], wait=False)
    await asyncio.sleep(1)
    assert figures(await matrix(platform, issuer, B, industry=s.industry), B)["coverage"] == []
    # The check-in is listed again only to wait for it too: the stream drops the copy (same message id).
    await publish([s.registered(flow, GUANGZHOU, "2019-06-01"), checked_in])
    early = figures(await matrix(platform, issuer, B, industry=s.industry), B)
    assert early["cells"] == [(GUANGZHOU, "2019-06", s.industry, 1)]
    assert early["coverage"] == [(1, 1, 1, 0, 1.0)]  # checked in, so neither overdue nor unmanaged


async def test_overdue_then_checked_in_clears_the_overdue(platform, issuer, publish):
    s = Script(A, tag())
    flow = f"flow-{uuid.uuid4()}"
    await publish([s.registered(flow, SHANGHAI, "2019-07-01"), s.timer(flow, SHANGHAI)])
    reply = await matrix(platform, issuer, A, industry=s.industry)
    assert figures(reply, A)["coverage"] == [(1, 0, 0, 1, 0.0)] and reply.total_overdue == 1
    await publish([s.offered(flow, 1, SHANGHAI, "EXTERNAL_BRANCH_IN_CITY"), s.checked_in(flow, 1, SHANGHAI)])
    reply = await matrix(platform, issuer, A, industry=s.industry)
    assert figures(reply, A)["coverage"] == [(1, 1, 1, 0, 1.0)] and reply.total_overdue == 0


async def test_three_unplaced_flows_to_one_city_call_for_a_temporary_branch(platform, issuer, publish):
    s = Script(B, tag())
    shanghai = [f"flow-{uuid.uuid4()}" for _ in range(3)]
    guangzhou = [f"flow-{uuid.uuid4()}" for _ in range(2)]
    zhengzhou = [f"flow-{uuid.uuid4()}" for _ in range(3)]
    events = [s.registered(f, SHANGHAI, "2019-08-01") for f in shanghai]
    events += [s.offered(shanghai[0], 1, SHANGHAI, "ONLINE_BRANCH")]  # the online branch is not at the destination
    events += [s.registered(f, GUANGZHOU, "2019-08-01") for f in guangzhou]
    events += [s.registered(f, ZHENGZHOU, "2019-08-01") for f in zhengzhou]
    events += [s.offered(zhengzhou[0], 1, ZHENGZHOU, "STATION_TEMPORARY_BRANCH")]
    await publish(events)
    reply = await matrix(platform, issuer, B, industry=s.industry)
    assert figures(reply, B)["unorganised"] == [(SHANGHAI, 3)]
    # The province learns the place, not the count (its view covers every flow of the origin, whatever the filter).
    province = await matrix(platform, issuer, "41", industry=s.industry)
    place = next(u for u in province.unorganised if u.origin_tenant_id == B and u.destination_code == SHANGHAI)
    assert (place.members, place.suppressed, place.display) == (0, True, "≥3")

    await publish([s.closed(shanghai[1], SHANGHAI)])
    assert figures(await matrix(platform, issuer, B, industry=s.industry), B)["unorganised"] == []


async def test_a_transfer_takes_the_member_off_the_origins_count(platform, issuer, publish):
    origin = "411528"
    token, _ = issuer.issue(user="c", role=Role.COUNTY_ADMIN, scope=origin)  # its own exact count

    async def members() -> int:
        reply = await platform.insights_stub.GetMemberCounts(insights_pb2.GetMemberCountsRequest(scope=origin),
                                                             metadata=bearer(token))
        return next((c.members for c in reply.counties if c.tenant_id == origin), 0)

    before = await members()
    flow = f"flow-{uuid.uuid4()}"
    transferred = ev.new_event(reg_events.MemberTransferred(
        flow_id=flow, member_id=str(uuid.uuid4()), destination_tenant_id=ZHENGZHOU, transfer_date="2019-10-01",
    ), service="registry", tenant=origin, aggregate_id=flow, aggregate_version=1, traceparent=None)
    await publish([transferred], twice=True)
    assert await members() == before - 1
    await asyncio.sleep(1)
    assert await members() == before - 1


async def test_http_matrix_carries_counts_and_names_but_no_persons(platform, issuer, publish):
    s = Script(A, tag())
    flows = [f"flow-{uuid.uuid4()}" for _ in range(3)]
    await publish([s.registered(f, SHANGHAI, "2019-11-11") for f in flows])
    token, _ = issuer.issue(user="c", role=Role.COUNTY_ADMIN, scope=A)
    reply = await platform.http.get(f"/api/v1/scopes/{A}/insights/flows",
                                    params={"from_month": "2019-11", "to_month": "2019-11", "industry": s.industry},
                                    headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    body = reply.json()
    assert (body["scope"], body["scope_name"], body["total_away"], body["total_coverage"]) == (A, "罗山县", 3, 0.0)
    assert (body["threshold"], body["partial_totals"], body["coverage_filtered"]) == (0, [], True)
    assert body["cells"] == [{"origin_tenant_id": A, "origin_name": "罗山县", "destination_code": SHANGHAI,
                              "destination_name": "上海市", "month": "2019-11", "industry": s.industry, "flows": 3,
                              "suppressed": False, "display": "3"}]
    assert body["coverage"] == [{"origin_tenant_id": A, "origin_name": "罗山县", "away": 3, "offered": 0,
                                 "managed": 0, "overdue_check_ins": 0, "coverage": 0.0, "suppressed_fields": [],
                                 "display": {"away": "3", "offered": "0", "managed": "0", "overdue_check_ins": "0",
                                             "coverage": "0.0%"}}]
    assert body["unorganised"] == [{"origin_tenant_id": A, "origin_name": "罗山县", "destination_code": SHANGHAI,
                                    "destination_name": "上海市", "members": 3, "suppressed": False, "display": "3"}]
    province, _ = issuer.issue(user="p", role=Role.PROVINCE_ANALYST, scope="41")
    wide = await platform.http.get("/api/v1/scopes/41/insights/flows",
                                   params={"from_month": "2019-11", "to_month": "2019-11", "industry": s.industry},
                                   headers={"Authorization": f"Bearer {province}"})
    for response in (reply, wide):
        assert all("member" not in key or key == "members" for key in keys(response.json()))
        assert MEMBER_NAME not in response.text
        assert not any(member_id in response.text or flow in response.text
                       for flow, member_id in s.member_ids.items())
    assert wide.json()["cells"][0]["flows"] == 3  # three in one cell: published to the province too


def keys(value: object) -> set[str]:
    """Every key of a JSON document, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


async def test_scopes_outside_the_caller_are_404_and_bad_months_422(platform, issuer):
    def auth(role: Role, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(user='u', role=role, scope=scope)[0]}"}

    city = auth(Role.CITY_ANALYST, "4101")
    assert (await platform.http.get("/api/v1/scopes/4115/insights/flows", headers=city)).status_code == 404
    assert (await platform.http.get("/api/v1/scopes/41/insights/flows", headers=city)).status_code == 404
    assert (await platform.http.get("/api/v1/scopes/4101/insights/flows", headers=city)).status_code == 200
    county = auth(Role.COUNTY_ADMIN, A)
    assert (await platform.http.get(f"/api/v1/scopes/{A}/insights/flows", headers=county)).status_code == 200
    assert (await platform.http.get("/api/v1/scopes/4115/insights/flows", headers=county)).status_code == 404
    township = {"Authorization": f"Bearer {issuer.issue(user='t', role=Role.TOWNSHIP_OFFICER, scope=A, org='o')[0]}"}
    # A role with no grant for aggregates at all is refused (403), by the kit's table, before any scope is looked at.
    assert (await platform.http.get(f"/api/v1/scopes/{A}/insights/flows", headers=township)).status_code == 403

    province = auth(Role.PROVINCE_ANALYST, "41")
    bad = await platform.http.get("/api/v1/scopes/41/insights/flows", params={"from_month": "2019-13"},
                                  headers=province)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in bad.json()["errors"]] == ["from_month"]
    reversed_range = await platform.http.get("/api/v1/scopes/41/insights/flows",
                                             params={"from_month": "2019-05", "to_month": "2019-04"},
                                             headers=province)
    assert reversed_range.status_code == 422
    assert [e["field"] for e in reversed_range.json()["errors"]] == ["to_month"]
