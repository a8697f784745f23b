"""转办 between counties over gRPC, on real PostgreSQL and NATS: the saga completes, is declined and re-referred,
times out and is compensated; answers a county could not give are dead-lettered; foreign referrals are not found.

STATION (650440) is where a member of HOME (650441) works; THIRD (650442) has nothing to do with them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.referrals import timers
from jinqiao.desk.v1 import desk_pb2, referrals_pb2, tickets_pb2
from jinqiao.events.v1 import desk_events_pb2 as de
from jinqiao.kit import events as ev
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from tests.integration.conftest import bearer, eventually
from tests.support import field_violations

STATION, HOME, THIRD = "650440", "650441", "650442"
S = referrals_pb2.ReferralStatus
T = tickets_pb2.TicketStatus
TAG = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def md(county_token):
    return {code: bearer(county_token(code)) for code in (STATION, HOME, THIRD)}


@pytest.fixture(scope="module")
async def desk_db(admin_conn_factory):
    return await admin_conn_factory("desk")


_counter = iter(range(1, 10_000))


async def _ticket(db, county: str, *, home: str = HOME, description: str = "工地拖欠三个月工资，共 12000 元") -> str:
    """A ticket of ``county`` for a member of ``home``, in the county's own queue (written as the desk would)."""
    ticket_id = uuid.uuid4()
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO tickets (tenant_id, id, number, category, category_name, category_group, status, priority,"
        " channel, member_home_tenant_id, member_id, member_name, title, description, form, filed_by, created_at,"
        " updated_at) VALUES ($1, $2, $3, 'legal_wages', '讨薪', '法律援助', 2, 2, 2, $4, $5, '李建国', '讨要工资',"
        " $6, $7::jsonb, 'staff', $8, $8)",
        county, ticket_id, f"{county}-{TAG}-{next(_counter):04d}", home, uuid.uuid4(), description,
        json.dumps({"unpaid_amount": 1200000, "employer": "某建筑公司"}, ensure_ascii=False), now)
    return str(ticket_id)


async def _refer(platform, md, ticket_id: str, *, frm: str = STATION, to: str = HOME, request_id: str = "",
                 reason: str = "需户籍地协调劳动监察") -> referrals_pb2.Referral:
    return (await platform.desk_stub.ReferTicket(desk_pb2.ReferTicketRequest(
        id=ticket_id, to_tenant_id=to, reason=reason, request_id=request_id), metadata=md[frm])).referral


async def _get(platform, md, county: str, referral_id: str) -> referrals_pb2.Referral:
    return (await platform.desk_stub.GetReferral(desk_pb2.GetReferralRequest(referral_id=referral_id),
                                                 metadata=md[county])).referral


def _status(platform, md, county: str, referral_id: str, status: int):
    async def check():
        try:
            found = await _get(platform, md, county, referral_id)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return found if found.status == status else None

    return check


async def _ticket_status(db, county: str, ticket_id: str) -> int:
    return int(await db.fetchval("SELECT status FROM tickets WHERE tenant_id = $1 AND id = $2", county,
                                 uuid.UUID(ticket_id)))


async def _sweep(settings_for, county: str, now: datetime) -> int:
    settings = settings_for("desk")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        deps = DeskDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: now)
        return await timers.sweep_county(deps=deps, tenant=county, now=now)
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------------- the saga


async def test_a_referral_is_accepted_resolved_there_and_resolves_the_origin_ticket(platform, md, desk_db):
    ticket_id = await _ticket(desk_db, STATION)
    referral = await _refer(platform, md, ticket_id, request_id=f"refer-{ticket_id}")
    assert referral.status == S.REFERRAL_STATUS_PENDING and referral.attempt == 1 and not referral.incoming
    assert referral.direction == referrals_pb2.REFERRAL_DIRECTION_TO_HOME and referral.to_tenant_id == HOME
    assert referral.summary.startswith("工地拖欠") and json.loads(referral.form_json)["unpaid_amount"] == 1200000
    assert referral.respond_by.ToDatetime(tzinfo=UTC) > datetime.now(UTC) + timedelta(days=2)
    # The same request again is the same referral, not a second one.
    again = await _refer(platform, md, ticket_id, request_id=f"refer-{ticket_id}")
    assert again.id == referral.id
    # While it waits for an answer, the ticket cannot be referred once more.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _refer(platform, md, ticket_id, request_id=f"refer-again-{ticket_id}")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    received = await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    assert received.incoming and received.from_tenant_id == STATION and received.member_name == "李建国"
    assert received.ticket_id == ticket_id and received.reason == "需户籍地协调劳动监察"
    page = await platform.desk_stub.ListReferrals(desk_pb2.ListReferralsRequest(
        incoming=True, statuses=[S.REFERRAL_STATUS_PENDING], page_size=200), metadata=md[HOME])
    assert referral.id in {r.id for r in page.referrals} and page.total >= 1

    accepted = await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                       metadata=md[HOME])
    assert accepted.referral.status == S.REFERRAL_STATUS_ACCEPTED and accepted.ticket.id
    assert accepted.ticket.tenant_id == HOME and accepted.ticket.incoming_referral_id == referral.id
    twice = await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                    metadata=md[HOME])
    assert twice.ticket.id == accepted.ticket.id

    at_origin = await eventually(_status(platform, md, STATION, referral.id, S.REFERRAL_STATUS_ACCEPTED), timeout=20)
    assert at_origin.remote_ticket_id == accepted.ticket.id
    assert await _ticket_status(desk_db, STATION, ticket_id) in (T.TICKET_STATUS_ACCEPTED, T.TICKET_STATUS_IN_PROGRESS)
    history = await desk_db.fetch("SELECT action FROM ticket_history WHERE tenant_id = $1 AND ticket_id = $2",
                                  STATION, uuid.UUID(ticket_id))
    assert {"referred", "referral_accepted"} <= {h["action"] for h in history}

    # The home county resolves its ticket: the station's ticket is resolved with the same outcome.
    remote = accepted.ticket
    step = await platform.desk_stub.AcceptTicket(desk_pb2.AcceptTicketRequest(id=remote.id, version=remote.version),
                                                 metadata=md[HOME])
    await platform.desk_stub.ResolveTicket(desk_pb2.ResolveTicketRequest(
        id=remote.id, resolution="已协调企业支付欠薪", version=step.ticket.version), metadata=md[HOME])
    done = await eventually(_status(platform, md, STATION, referral.id, S.REFERRAL_STATUS_RESOLVED), timeout=20)
    assert done.resolution == "已协调企业支付欠薪"
    assert await eventually(lambda: _is(desk_db, STATION, ticket_id, T.TICKET_STATUS_RESOLVED), timeout=20)
    resolution = await desk_db.fetchval("SELECT resolution FROM tickets WHERE tenant_id = $1 AND id = $2", STATION,
                                        uuid.UUID(ticket_id))
    assert resolution.startswith("（转办办结）") and "已协调企业支付欠薪" in resolution


async def _is(db, county: str, ticket_id: str, status: int) -> bool:
    return await _ticket_status(db, county, ticket_id) == status


async def test_a_declined_referral_is_referred_again_as_attempt_2_and_accepted(platform, md, desk_db):
    ticket_id = await _ticket(desk_db, STATION)
    first = await _refer(platform, md, ticket_id)
    await eventually(_status(platform, md, HOME, first.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.DeclineReferral(desk_pb2.DeclineReferralRequest(referral_id=first.id, reason=" "),
                                                 metadata=md[HOME])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(err.value)
    declined = await platform.desk_stub.DeclineReferral(desk_pb2.DeclineReferralRequest(
        referral_id=first.id, reason="材料不全，请补充劳动合同"), metadata=md[HOME])
    assert declined.referral.status == S.REFERRAL_STATUS_DECLINED
    back = await eventually(_status(platform, md, STATION, first.id, S.REFERRAL_STATUS_DECLINED), timeout=20)
    assert back.decline_reason == "材料不全，请补充劳动合同"
    assert await _ticket_status(desk_db, STATION, ticket_id) == T.TICKET_STATUS_ACCEPTED  # stays with the station
    # An accept after the decline is refused: the referral was answered.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=first.id),
                                                metadata=md[HOME])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    second = await _refer(platform, md, ticket_id, reason="已补充劳动合同，请协调")
    assert second.attempt == 2 and second.id != first.id
    await eventually(_status(platform, md, HOME, second.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=second.id),
                                            metadata=md[HOME])
    await eventually(_status(platform, md, STATION, second.id, S.REFERRAL_STATUS_ACCEPTED), timeout=20)
    history = await desk_db.fetch("SELECT action, body FROM ticket_history WHERE tenant_id = $1 AND ticket_id = $2",
                                  STATION, uuid.UUID(ticket_id))
    assert any(h["action"] == "referral_declined" and "劳动合同" in h["body"] for h in history)


async def test_an_unanswered_referral_is_withdrawn_at_both_ends_and_cannot_be_accepted(platform, md, desk_db,
                                                                                      settings_for):
    ticket_id = await _ticket(desk_db, STATION)
    referral = await _refer(platform, md, ticket_id)
    await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    # Before the respond-by time nothing is withdrawn.
    assert await _sweep(settings_for, STATION, datetime.now(UTC)) == 0
    late = referral.respond_by.ToDatetime(tzinfo=UTC) + timedelta(minutes=1)
    assert await _sweep(settings_for, STATION, late) >= 1
    gone = await _get(platform, md, STATION, referral.id)
    assert gone.status == S.REFERRAL_STATUS_WITHDRAWN
    assert await _ticket_status(desk_db, STATION, ticket_id) == T.TICKET_STATUS_ACCEPTED  # the station keeps it
    await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_WITHDRAWN), timeout=20)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                metadata=md[HOME])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The sweep fires once.
    assert await _sweep(settings_for, STATION, late) == 0


async def test_an_accept_that_crossed_the_withdrawal_is_compensated_by_closing_the_ticket_it_opened(
        platform, md, desk_db, settings_for):
    ticket_id = await _ticket(desk_db, STATION)
    referral = await _refer(platform, md, ticket_id)
    await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    # The station's sweep runs first: withdrawn there, while its ReferralWithdrawn is still on its way, the home
    # county accepts (its row is still pending until the withdrawal is delivered).
    await desk_db.execute("UPDATE ticket_referrals SET respond_by = now() - interval '1 minute'"
                          " WHERE tenant_id = $1 AND id = $2", STATION, uuid.UUID(referral.id))
    accepted = await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                       metadata=md[HOME])
    # The acceptance may or may not have reached the station yet; simulate the crossing: the station did not see it.
    await eventually(_status(platform, md, STATION, referral.id, S.REFERRAL_STATUS_ACCEPTED), timeout=20)
    await desk_db.execute("UPDATE ticket_referrals SET status = 1, remote_ticket_id = NULL WHERE tenant_id = $1"
                          " AND id = $2", STATION, uuid.UUID(referral.id))
    assert await _sweep(settings_for, STATION, datetime.now(UTC)) >= 1
    assert (await _get(platform, md, STATION, referral.id)).status == S.REFERRAL_STATUS_WITHDRAWN
    await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_WITHDRAWN), timeout=20)
    assert await eventually(lambda: _is(desk_db, HOME, accepted.ticket.id, T.TICKET_STATUS_CLOSED), timeout=20)
    # The acceptance, delivered again after the withdrawal, changes nothing at the station.
    await _republish(desk_db, HOME, "ReferralAccepted", referral.id)
    await _quiet(platform, md, STATION, referral.id, S.REFERRAL_STATUS_WITHDRAWN)


async def _republish(db, county: str, event_name: str, referral_id: str) -> None:
    """Put a copy of an event the county published back in its outbox under a new id (a late duplicate)."""
    rows = await db.fetch("SELECT * FROM outbox WHERE tenant_id = $1 AND event_type LIKE $2", county,
                          f"%{event_name}")
    message_type = getattr(de, event_name)
    for row in rows:
        event = message_type.FromString(row["payload"])
        if event.referral_id == referral_id:
            copy = ev.new_event(event, service="desk", tenant=county, aggregate_id=referral_id,
                                aggregate_version=99, traceparent=row["traceparent"] or None)
            await _insert_outbox(db, copy)
            return
    raise AssertionError(f"no {event_name} of {referral_id} in {county}'s outbox")


async def _insert_outbox(db, pending) -> None:
    await db.execute(
        "INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload, traceparent)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)", pending.tenant_id, pending.event_id, pending.subject,
        pending.event_type, pending.event_version, pending.payload, pending.traceparent)


async def _quiet(platform, md, county: str, referral_id: str, status: int) -> None:
    """The referral keeps its status while the desk drains its stream (checked a few times)."""
    import asyncio

    for _ in range(20):
        assert (await _get(platform, md, county, referral_id)).status == status
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------------------------- forged answers


async def test_an_answer_published_by_a_third_county_is_dead_lettered_and_changes_nothing(platform, md, desk_db):
    ticket_id = await _ticket(desk_db, STATION)
    referral = await _refer(platform, md, ticket_id)
    await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    forged = [
        ev.new_event(de.ReferralAccepted(referral_id=referral.id, origin_tenant_id=STATION, ticket_id=str(uuid.uuid4()),
                                         serving_org_name="冒名站点", attempt=1),
                     service="desk", tenant=THIRD, aggregate_id=referral.id, aggregate_version=1, traceparent=None),
        ev.new_event(de.ReferralResolved(referral_id=referral.id, origin_tenant_id=STATION, resolution="冒名办结"),
                     service="desk", tenant=THIRD, aggregate_id=referral.id, aggregate_version=1, traceparent=None),
        # A referral addressed to the very county that publishes it.
        ev.new_event(de.TicketReferred(referral_id=str(uuid.uuid4()), ticket_id=str(uuid.uuid4()),
                                       to_tenant_id=THIRD, direction="TO_HOME", category="legal_wages",
                                       member_home_tenant_id=THIRD, member_id=str(uuid.uuid4()), title="自转",
                                       respond_by=datetime.now(UTC).isoformat(), attempt=1),
                     service="desk", tenant=THIRD, aggregate_id=referral.id, aggregate_version=1, traceparent=None),
    ]
    for pending in forged:
        await _insert_outbox(desk_db, pending)
    for pending in forged:
        letter = await eventually(lambda pending=pending: desk_db.fetchrow(
            "SELECT tenant_id, error, deliveries FROM dead_letters WHERE event_id = $1", pending.event_id),
            timeout=20)
        assert letter["tenant_id"] == THIRD and "ForgedEvent" in letter["error"] and letter["deliveries"] == 1
    still = await _get(platform, md, STATION, referral.id)
    assert still.status == S.REFERRAL_STATUS_PENDING and not still.remote_ticket_id and not still.resolution
    assert await _ticket_status(desk_db, STATION, ticket_id) == T.TICKET_STATUS_ACCEPTED


# ---------------------------------------------------------------------------------------- bad input, foreign


async def test_bad_referrals_name_the_field(platform, md, desk_db):
    ticket_id = await _ticket(desk_db, STATION)
    cases = [
        ({"to_tenant_id": "65044"}, "to_tenant_id"),
        ({"to_tenant_id": STATION}, "to_tenant_id"),
        # Neither the member's home county nor (from it) the county where the member is placed.
        ({"to_tenant_id": THIRD}, "to_tenant_id"),
        ({"to_tenant_id": HOME, "reason": "转"}, "reason"),
        ({"to_tenant_id": HOME, "to_org_id": "not-an-id"}, "to_org_id"),
    ]
    for overrides, field in cases:
        request = desk_pb2.ReferTicketRequest(id=ticket_id, reason="需户籍地协调")
        for key, value in overrides.items():
            setattr(request, key, value)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.desk_stub.ReferTicket(request, metadata=md[STATION])
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, overrides
        assert field in field_violations(err.value), (overrides, field_violations(err.value))
    # The home county refers its member only to where the replica shows them placed.
    home_ticket = await _ticket(desk_db, HOME, home=HOME)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _refer(platform, md, home_ticket, frm=HOME, to=STATION)
    assert "该党员不在该县（区）" in field_violations(err.value)["to_tenant_id"]


async def test_another_countys_ticket_and_referral_are_not_found(platform, md, desk_db):
    ticket_id = await _ticket(desk_db, STATION)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _refer(platform, md, ticket_id, frm=THIRD, to=HOME)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    referral = await _refer(platform, md, ticket_id)
    await eventually(_status(platform, md, HOME, referral.id, S.REFERRAL_STATUS_PENDING), timeout=20)
    for call, request in (
        (platform.desk_stub.GetReferral, desk_pb2.GetReferralRequest(referral_id=referral.id)),
        (platform.desk_stub.AcceptReferral, desk_pb2.AcceptReferralRequest(referral_id=referral.id)),
        (platform.desk_stub.DeclineReferral, desk_pb2.DeclineReferralRequest(referral_id=referral.id,
                                                                             reason="不是本县的")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(request, metadata=md[THIRD])
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # The sender cannot answer its own referral: its row is the outgoing one.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                metadata=md[STATION])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await platform.desk_stub.ListReferrals(desk_pb2.ListReferralsRequest(incoming=True, page_size=200),
                                                    metadata=md[THIRD])
    assert referral.id not in {r.id for r in listed.referrals}


# ------------------------------------------------------------------------- the home county to the member's station

HOME2, WORK = "650446", "650447"


async def _station(db, county: str, name: str, kind: str = "TOWN_STATION") -> str:
    org_id = uuid.uuid4()
    await db.execute("INSERT INTO desk_orgs (tenant_id, id, name, kind) VALUES ($1, $2, $3, $4)", county, org_id,
                     name, kind)
    return str(org_id)


async def test_the_home_county_refers_to_the_station_where_the_member_is_placed_and_the_station_accepts(
        platform, desk_db, county_token, issuer):
    from jinqiao.kit.auth import Role

    md = {code: bearer(county_token(code)) for code in (HOME2, WORK)}
    station = await _station(desk_db, WORK, f"金水驻城党建工作站{TAG}")
    other_station = await _station(desk_db, WORK, f"二七驻城党建工作站{TAG}")
    branch = await _station(desk_db, WORK, f"某公司党支部{TAG}", kind="ENTERPRISE_BRANCH")
    staff = bearer(issuer.issue(user=f"zhang-{TAG}", role=Role.STATION_STAFF, scope=WORK, org=station)[0])
    stranger = bearer(issuer.issue(user=f"li-{TAG}", role=Role.STATION_STAFF, scope=WORK, org=other_station)[0])
    member_id = uuid.uuid4()
    # The replica knows the member is away, placed in WORK.
    await desk_db.execute(
        "INSERT INTO desk_members (tenant_id, id, name, flow_id, destination_code, placing_tenant_id)"
        " VALUES ($1, $2, '赵春梅', $3, $4, $4)", HOME2, member_id, uuid.uuid4(), WORK)
    ticket_id = await _ticket(desk_db, HOME2, home=HOME2)
    await desk_db.execute("UPDATE tickets SET member_id = $3, member_name = '赵春梅' WHERE tenant_id = $1"
                          " AND id = $2", HOME2, uuid.UUID(ticket_id), member_id)
    referral = (await platform.desk_stub.ReferTicket(desk_pb2.ReferTicketRequest(
        id=ticket_id, to_tenant_id=WORK, to_org_id=station, reason="请流入地站点就近协调"),
        metadata=md[HOME2])).referral
    assert referral.direction == referrals_pb2.REFERRAL_DIRECTION_TO_STATION and referral.to_org_id == station

    async def at_station():
        page = await platform.desk_stub.ListReferrals(desk_pb2.ListReferralsRequest(incoming=True, page_size=200),
                                                      metadata=staff)
        return next((r for r in page.referrals if r.id == referral.id), None)

    await eventually(at_station, timeout=20)
    # Another station of the county neither sees it nor may accept it.
    listed = await platform.desk_stub.ListReferrals(desk_pb2.ListReferralsRequest(incoming=True, page_size=200),
                                                    metadata=stranger)
    assert referral.id not in {r.id for r in listed.referrals}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                metadata=stranger)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # A branch is no queue: the county cannot serve the referral there.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(
            referral_id=referral.id, serving_org_id=branch), metadata=md[WORK])
    assert "serving_org_id" in field_violations(err.value)
    accepted = await platform.desk_stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral.id),
                                                       metadata=staff)
    assert accepted.ticket.serving_org_id == station and accepted.ticket.member_name == "赵春梅"
    back = await eventually(_status(platform, {HOME2: md[HOME2]}, HOME2, referral.id, S.REFERRAL_STATUS_ACCEPTED),
                            timeout=20)
    assert back.remote_org_name == f"金水驻城党建工作站{TAG}" and back.remote_ticket_id == accepted.ticket.id
