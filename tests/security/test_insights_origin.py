"""The insights read model counts only answers its flow's placing county gave (issue 9, finding 1).

Published as the producers' relays would, with their real logins: the origin registers a flow (registry's login),
then the organisations service's login publishes answers in the name of counties that do not place it. Each is
dead-lettered by insights at once with its reason and never counted, in the county's exact figures or the
province's; the placing county's own answer still counts.
"""

from __future__ import annotations

import uuid

import nats
from google.protobuf.message import Message

from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import organizations_events_pb2 as oe
from jinqiao.events.v1 import registry_events_pb2 as reg
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer, eventually

# 息县 sends a member to 中原区, which places them; 管城回族区 has nothing to do with the flow.
ORIGIN, DEST, OTHER = "411528", "410102", "410104"


async def _publish(infra, who: str, message: Message, *, county: str, service: str) -> str:
    """Publish one event on JetStream with ``who``'s login, as its relay would; its event id."""
    pending = ev.new_event(message, service=service, tenant=county, aggregate_id=str(uuid.uuid4()),
                           aggregate_version=1, traceparent=None)
    nc = await nats.connect(infra.nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
                            **infra.nats_options(who))
    try:
        await nc.jetstream().publish(
            pending.subject, pending.payload, timeout=5, stream=ev.stream_name(service),
            headers=ev.headers_for(event_id=pending.event_id, event_type=pending.event_type, event_version=1,
                                   tenant=county, traceparent=None))
    finally:
        await nc.close()
    return pending.event_id


async def _figures(platform, issuer, scope: str, industry: str) -> tuple[object, ...]:
    """The flow matrix of ``industry`` as ``scope`` sees it: exact for the county, suppressed for the province."""
    role = Role.COUNTY_ADMIN if len(scope) == 6 else Role.PROVINCE_ANALYST
    token, _ = issuer.issue(user=f"origin-{scope}", role=role, scope=scope)
    reply = await platform.insights_stub.GetFlowMatrix(
        insights_pb2.GetFlowMatrixRequest(scope=scope, industry=industry), metadata=bearer(token))
    return (
        sorted((c.destination_code, c.flows, c.display) for c in reply.cells if c.origin_tenant_id == ORIGIN),
        [(c.away, c.offered, c.managed, c.overdue_check_ins, round(c.coverage, 6), sorted(c.suppressed_fields))
         for c in reply.coverage if c.origin_tenant_id == ORIGIN],
        sorted((u.destination_code, u.members) for u in reply.unorganised if u.origin_tenant_id == ORIGIN),
    )


async def test_answers_from_a_county_that_does_not_place_the_flow_are_dead_lettered_not_counted(
        platform, issuer, infra, admin_conn_factory):
    insights_db = await admin_conn_factory("insights")
    industry = f"安全测试-{uuid.uuid4().hex[:8]}"
    flow, member = str(uuid.uuid4()), str(uuid.uuid4())
    # The hand-over names no placing county, so no organisations consumer answers by itself; insights derives it
    # as the registry does: 中原区, the destination inside the province.
    registered = await _publish(infra, "registry", reg.FlowRegistered(
        flow_id=flow, member_id=member, attempt=1, start_date="2019-03-05", expected_months=6,
        certificate_serial=f"{ORIGIN}-2019-00001",
        handover=handover_pb2.Handover(member_name="流动测试员", id_number_masked="4115**********123X",
                                       destination_code=DEST, industry=industry, employer="测试建设公司")),
        county=ORIGIN, service="registry")
    await eventually(lambda: insights_db.fetchval("SELECT true FROM inbox WHERE event_id = $1::uuid", registered),
                     timeout=20)
    county_before = await _figures(platform, issuer, ORIGIN, industry)
    province_before = await _figures(platform, issuer, "41", industry)
    assert county_before[1] == [(1, 0, 0, 0, 0.0, [])]

    def answer(kind: type[Message], membership: str, **fields: object) -> Message:
        return kind(membership_id=membership, flow_id=flow, origin_tenant_id=ORIGIN, member_id=member, attempt=1,
                    **fields)

    membership = str(uuid.uuid4())
    check_in = {"org_id": str(uuid.uuid4()), "org_name": "测试党支部", "method": "STAFF",
                "checked_in_at": "2019-04-02T09:00:00+08:00"}
    cases = [
        (OTHER, "insights-flows-checked-in", answer(oe.CheckedIn, membership, **check_in)),
        (OTHER, "insights-flows-membership-offered", answer(
            oe.TemporaryMembershipOffered, membership, org_id=str(uuid.uuid4()), org_name="不存在的党支部",
            rule="EMPLOYER_BRANCH", reason="伪造", destination_code=OTHER)),
        # The origin itself does not place a flow inside the province either.
        (ORIGIN, "insights-flows-membership-refused", answer(oe.TemporaryMembershipRefused, membership,
                                                             reason="伪造的拒收", destination_code=DEST)),
        (OTHER, "insights-flows-membership-closed", answer(oe.TemporaryMembershipClosed, membership,
                                                           reason="RE_PLACED")),
    ]
    forged = [(await _publish(infra, "organizations", message, county=county, service="organizations"), county,
               consumer) for county, consumer, message in cases]
    for event_id, county, consumer in forged:
        letter = await eventually(lambda event_id=event_id, consumer=consumer: insights_db.fetchrow(
            "SELECT tenant_id, error, deliveries FROM dead_letters WHERE event_id = $1 AND consumer = $2",
            event_id, consumer), timeout=20)
        # Filed under the county that published it, at the first delivery: a forged answer is never retried.
        assert letter["tenant_id"] == county and letter["deliveries"] == 1, dict(letter)
        assert "ForgedEvent" in letter["error"], dict(letter)
        assert f"答复来自 {county}" in letter["error"] and f"由 {DEST} 负责" in letter["error"], dict(letter)
        assert not await insights_db.fetchval("SELECT true FROM inbox WHERE event_id = $1::uuid", event_id)
    assert await _figures(platform, issuer, ORIGIN, industry) == county_before
    assert await _figures(platform, issuer, "41", industry) == province_before

    # The placing county's own check-in still counts.
    real = await _publish(infra, "organizations", answer(oe.CheckedIn, membership, **check_in), county=DEST,
                          service="organizations")
    await eventually(lambda: insights_db.fetchval("SELECT true FROM inbox WHERE event_id = $1::uuid", real),
                     timeout=20)
    assert (await _figures(platform, issuer, ORIGIN, industry))[1] == [(1, 1, 1, 0, 1.0, [])]
    assert not await insights_db.fetchval("SELECT true FROM dead_letters WHERE event_id = $1", real)
