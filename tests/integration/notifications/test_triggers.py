"""The triggers on real NATS and PostgreSQL: every service's events, published as their relays would, become in-app
deliveries for the right address in the right county, once however often they arrive. Counties 650614–650619 are
this file's own, and 650680–650684 (650610–650613: the desk's TicketReplied test)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message

from jinqiao.events.v1 import desk_events_pb2 as desk
from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import loan_events_pb2 as loans
from jinqiao.events.v1 import organizations_events_pb2 as orgs
from jinqiao.events.v1 import registry_events_pb2 as registry
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.triggers import service as triggers
from tests.integration.conftest import eventually
from tests.integration.notifications.conftest import build_event

IN_APP = int(Channel.IN_APP)


def _id() -> str:
    return str(uuid.uuid4())


async def seed_org(conn, county: str, *, kind: str, name: str, parent: str | None = None) -> str:
    """An org in the directory (what OrgCreated would have written)."""
    org_id = _id()
    await conn.execute("INSERT INTO dir_orgs (tenant_id, id, parent_id, kind, name) VALUES ($1, $2, $3, $4, $5)",
                       county, org_id, parent, kind, name)
    return org_id


async def appoint(conn, county: str, org_id: str, position: str, name: str) -> None:
    """An officer at the org (what OfficerAppointed would have written), no phone."""
    await conn.execute("INSERT INTO dir_appointments (tenant_id, id, officer_id, org_id, position, officer_name)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", county, _id(), _id(), org_id, position, name)


async def seed_member(conn, county: str, *, name: str, home_org_id: str | None) -> str:
    """A member of the county in the directory (what MemberProfileChanged would have written)."""
    member_id = _id()
    await conn.execute("INSERT INTO dir_members (tenant_id, id, name, home_org_id, seen_at) VALUES ($1, $2, $3, $4,"
                       " now())", county, member_id, name, home_org_id)
    return member_id


async def seed_flow(conn, county: str, *, member_id: str, placing: str, flow_id: str | None = None) -> str:
    """An open flow of the county's member placed by ``placing`` (what FlowRegistered would have written)."""
    flow_id = flow_id or _id()
    await conn.execute("INSERT INTO dir_flows (tenant_id, id, member_id, placing_tenant_id, attempt, seen_at)"
                       " VALUES ($1, $2, $3, $4, 1, now())", county, flow_id, member_id, placing)
    return flow_id


async def dead_letter(conn, event_id: str) -> tuple[str, str]:
    """(county, error) of the dead letter an event became (waits for it)."""
    async def there() -> bool:
        return bool(await conn.fetchval("SELECT count(*) FROM dead_letters WHERE event_id = $1", event_id))

    await eventually(there, timeout=30)
    row = await conn.fetchrow("SELECT tenant_id, error FROM dead_letters WHERE event_id = $1 LIMIT 1", event_id)
    return row["tenant_id"], row["error"]


async def in_app(conn, county: str, event_id: str) -> list[tuple[str, str, str]]:
    """(recipient, kind, link) of the in-app deliveries an event made in a county."""
    rows = await conn.fetch("SELECT recipient, kind, link FROM deliveries WHERE tenant_id = $1 AND event_id = $2"
                            " AND channel = $3 ORDER BY recipient", county, event_id, IN_APP)
    return [(r["recipient"], r["kind"], r["link"]) for r in rows]


async def wait_in_app(conn, county: str, event_id: str, count: int = 1) -> list[tuple[str, str, str]]:
    """The event's in-app deliveries once there are ``count`` of them."""
    async def there() -> bool:
        return len(await in_app(conn, county, event_id)) >= count

    await eventually(there, timeout=30)
    return await in_app(conn, county, event_id)


async def test_an_offer_reaches_the_station_seat_and_the_members_inbox(publish, admin_conn_factory):
    destination, origin = "650614", "650615"
    conn = await admin_conn_factory("notifications")
    station = await seed_org(conn, destination, kind="TOWN_STATION", name="城南驻城党建工作站")
    await appoint(conn, destination, station, "GRID_LEADER", "赵网格")
    branch = await seed_org(conn, destination, kind="TEMPORARY_BRANCH", name="城南临时党支部", parent=station)
    member = await seed_member(conn, origin, name="张三", home_org_id=None)
    flow = await seed_flow(conn, origin, member_id=member, placing=destination)
    event = build_event(orgs.TemporaryMembershipOffered(
        membership_id=_id(), flow_id=flow, origin_tenant_id=origin, member_id=member, attempt=1, org_id=branch,
        org_name="城南临时党支部", rule="STATION_TEMPORARY_BRANCH", destination_code=destination),
        service="organizations", tenant=destination, aggregate_id=_id())
    await publish([event])
    assert await wait_in_app(conn, destination, event.event_id) == [
        (f"seat:station_staff:{station}", "membership_offered", "/receive")]
    assert await wait_in_app(conn, origin, event.event_id) == [
        (f"member:{member}", "membership_offered_member", "/m/flows")]
    # The member's inbox names the org; the station's names the member's home county (never an ID number).
    body = await conn.fetchval("SELECT body FROM deliveries WHERE tenant_id = $1 AND event_id = $2 AND channel = $3",
                               origin, event.event_id, IN_APP)
    assert "城南临时党支部" in body


@dataclass(frozen=True)
class World:
    """One county's directory: a township committee, a village branch under it, a station, a member of the branch."""

    county: str
    township: str
    branch: str
    station: str
    member: str


@pytest.fixture
async def world(admin_conn_factory) -> World:
    county = "650616"
    conn = await admin_conn_factory("notifications")
    township = await seed_org(conn, county, kind="TOWNSHIP_COMMITTEE", name="段集镇党委")
    await appoint(conn, county, township, "SECRETARY", "钱书记")
    branch = await seed_org(conn, county, kind="VILLAGE_BRANCH", name="桥口村党支部", parent=township)
    await appoint(conn, county, branch, "SECRETARY", "孙书记")
    station = await seed_org(conn, county, kind="TOWN_STATION", name="城关驻城党建工作站", parent=township)
    await appoint(conn, county, station, "GUIDANCE_OFFICER", "李指导员")
    member = await seed_member(conn, county, name="周流动", home_org_id=branch)
    return World(county, township, branch, station, member)


def _cases(w: World) -> list[tuple[str, str, Message, str, str, str]]:
    """(label, service, event, expected recipient, kind, link): one event per trigger kind."""
    flow, ticket, loan = _id(), _id(), _id()
    branch_seat = f"seat:branch_secretary:{w.branch}"
    station_seat = f"seat:station_staff:{w.station}"
    member = f"member:{w.member}"
    county_seat = f"seat:county_admin:{w.county}"
    return [
        ("certificate", "registry", registry.PolicyTimerFired(
            flow_id=flow, member_id=w.member, timer="CERTIFICATE_EXPIRED", level=1, due_date="2026-12-31"),
         member, "certificate_expiring", "/m/flows"),
        ("report back", "registry", registry.PolicyTimerFired(
            flow_id=flow, member_id=w.member, timer="REPORT_BACK_DUE", level=1, due_date="2026-12-31"),
         member, "report_back_due", "/m/flows"),
        ("transfer", "registry", registry.PolicyTimerFired(
            flow_id=flow, member_id=w.member, timer="TRANSFER_DUE", level=1, due_date="2026-12-01",
            destination_code="350981"),
         branch_seat, "transfer_due", f"/flows/{flow}"),
        ("check-in overdue", "registry", registry.PolicyTimerFired(
            flow_id=_id(), member_id=w.member, timer="CHECK_IN_OVERDUE", level=1, due_date="2026-11-20"),
         branch_seat, "check_in_overdue", "/alerts"),
        ("meeting", "organizations", orgs.MeetingScheduled(
            meeting_id=_id(), org_id=w.branch, type="THEME_DAY", title="十二月主题党日",
            start_time="2026-12-10T11:30:00+00:00"),
         member, "meeting_scheduled", "/m"),
        ("ticket at a station", "desk", desk.TicketOpened(
            ticket_id=ticket, category="legal_wages", serving_org_id=w.station, member_home_tenant_id=w.county,
            priority="HIGH"),
         station_seat, "ticket_opened", f"/tickets/{ticket}"),
        ("ticket at the county", "desk", desk.TicketOpened(
            ticket_id=ticket, category="other", serving_org_id="", member_home_tenant_id=w.county, priority="NORMAL"),
         county_seat, "ticket_opened", f"/tickets/{ticket}"),
        ("reply", "desk", desk.TicketReplied(
            ticket_id=ticket, category="legal_wages", serving_org_id=w.station, member_id=w.member,
            member_home_tenant_id=w.county, kind="COMMENT", title="追讨工资"),
         member, "ticket_replied", f"/m/tickets/{ticket}"),
        ("sla warned", "desk", desk.TicketSlaWarned(
            ticket_id=ticket, category="legal_wages", serving_org_id=w.station, clock="RESOLUTION",
            due_at="2026-12-02T09:30:00+00:00", assignee="wangli-650616"),
         "user:wangli-650616", "ticket_sla_warned", f"/tickets/{ticket}"),
        ("sla breached", "desk", desk.TicketSlaBreached(
            ticket_id=_id(), category="legal_wages", serving_org_id=w.station, clock="FIRST_RESPONSE",
            due_at="2026-12-02T09:30:00+00:00"),
         station_seat, "ticket_sla_breached", ""),
        ("loan applied", "desk", loans.LoanApplied(
            loan_id=loan, programme_id=_id(), product="PIONEER", member_id=w.member, amount_fen=5_000_000,
            term_months=12, pending_tier="BRANCH", step_due_at="2026-12-08T09:30:00+00:00"),
         branch_seat, "loan_review_pending", f"/loans/{loan}"),
        ("loan to the township", "desk", loans.LoanReviewed(
            loan_id=loan, programme_id=_id(), member_id=w.member, tier="BRANCH", pending_tier="TOWNSHIP",
            amount_fen=5_000_000),
         f"seat:township_officer:{w.township}", "loan_review_pending", f"/loans/{loan}"),
        ("loan to the county", "desk", loans.LoanReviewed(
            loan_id=loan, programme_id=_id(), member_id=w.member, tier="TOWNSHIP", pending_tier="COUNTY",
            amount_fen=5_000_000),
         county_seat, "loan_review_pending", f"/loans/{loan}"),
        ("loan to the bank", "desk", loans.LoanReviewed(
            loan_id=loan, programme_id=_id(), member_id=w.member, tier="COUNTY", pending_tier="BANK",
            amount_fen=5_000_000, quota_committed=True, bank_code="gsrcb650616"),
         "seat:bank_officer:gsrcb650616", "loan_review_pending", f"/loans/{loan}"),
        ("loan step overdue", "desk", loans.LoanStepOverdue(
            loan_id=_id(), programme_id=_id(), tier="BRANCH", step_due_at="2026-12-08T09:30:00+00:00",
            home_org_id=w.branch),
         branch_seat, "loan_step_overdue", ""),
        ("instalment", "desk", loans.LoanInstalmentDue(
            loan_id=loan, member_id=w.member, seq=3, due_date="2026-12-20", due_fen=145833, days_before=3,
            bank_name="固始农商银行"),
         member, "loan_instalment_due", f"/m/loans/{loan}"),
        ("loan overdue", "desk", loans.LoanOverdue(
            loan_id=loan, programme_id=_id(), member_id=w.member, days_past_due=7, overdue_fen=145833,
            since="2026-11-20", bank_name="固始农商银行"),
         member, "loan_overdue", f"/m/loans/{loan}"),
    ]


async def test_every_trigger_kind_makes_its_in_app_delivery_for_the_right_address(publish, admin_conn_factory,
                                                                                  world):
    conn = await admin_conn_factory("notifications")
    cases = _cases(world)
    built = [(label, build_event(message, service=service, tenant=world.county, aggregate_id=_id()), recipient,
              kind, link) for label, service, message, recipient, kind, link in cases]
    await publish([event for _, event, *_ in built])
    for label, event, recipient, kind, link in built:
        rows = await wait_in_app(conn, world.county, event.event_id)
        assert [(r, k) for r, k, _ in rows] == [(recipient, kind)], label
        if link:
            assert rows[0][2] == link, label
    # Money reads as yuan in the text the member gets.
    instalment = next(e for label, e, *_ in built if label == "instalment")
    body = await conn.fetchval("SELECT body FROM deliveries WHERE tenant_id = $1 AND event_id = $2 AND channel = $3",
                               world.county, instalment.event_id, IN_APP)
    assert "1,458.33" in body


async def test_a_check_in_tells_the_home_branch_in_the_origin_county_and_stops_the_overdue_escalation(
        publish, admin_conn_factory, world):
    conn = await admin_conn_factory("notifications")
    flow = await seed_flow(conn, world.county, member_id=world.member, placing="650617")
    overdue = build_event(registry.PolicyTimerFired(flow_id=flow, member_id=world.member, timer="CHECK_IN_OVERDUE",
                                                    level=1, due_date="2026-11-20"),
                          service="registry", tenant=world.county, aggregate_id=flow)
    await publish([overdue])
    await wait_in_app(conn, world.county, overdue.event_id)
    checked = build_event(orgs.CheckedIn(membership_id=_id(), flow_id=flow, origin_tenant_id=world.county,
                                         member_id=world.member, attempt=1, org_id=_id(), org_name="福安城南临时党支部",
                                         method="QR", checked_in_at="2026-12-01T01:30:00+00:00"),
                          service="organizations", tenant="650617", aggregate_id=_id())
    await publish([checked])
    assert await wait_in_app(conn, world.county, checked.event_id) == [
        (f"seat:branch_secretary:{world.branch}", "checked_in", f"/flows/{flow}")]

    async def settled() -> bool:
        state = await conn.fetchval("SELECT state FROM escalations WHERE tenant_id = $1 AND kind = $2"
                                    " AND subject_id = $3", world.county, "check_in_overdue", flow)
        return state is not None and state != 1

    await eventually(settled, timeout=30)


async def test_a_meeting_tells_a_guest_in_another_county_by_inbox_and_mail_never_sms(publish, admin_conn_factory):
    county, home = "650618", "650619"
    conn = await admin_conn_factory("notifications")
    branch = await seed_org(conn, county, kind="TEMPORARY_BRANCH", name="城北临时党支部")
    own = await seed_member(conn, county, name="吴本地", home_org_id=branch)
    guest = _id()
    await seed_flow(conn, home, member_id=guest, placing=county)
    await conn.execute("INSERT INTO dir_guests (tenant_id, membership_id, member_id, origin_tenant_id, org_id, state,"
                       " seen_at) VALUES ($1, $2, $3, $4, $5, 'checked_in', now())", county, _id(), guest, home,
                       branch)
    event = build_event(orgs.MeetingScheduled(meeting_id=_id(), org_id=branch, type="GENERAL_MEETING",
                                              title="支部党员大会", start_time="2026-12-10T11:30:00+00:00"),
                        service="organizations", tenant=county, aggregate_id=_id())
    # Delivered three times: published twice (the second with a new message id, past the stream's de-duplication),
    # then replayed once more.
    await publish([event], twice=True)
    await publish([event], twice=True)
    assert await wait_in_app(conn, county, event.event_id) == [(f"member:{own}", "meeting_scheduled", "/m")]
    assert await wait_in_app(conn, home, event.event_id) == [(f"member:{guest}", "meeting_scheduled", "/m")]
    sms = await conn.fetchval("SELECT count(*) FROM deliveries WHERE event_id = $1 AND channel = $2",
                              event.event_id, int(Channel.SMS))
    assert sms == 0


async def test_an_event_handled_three_times_makes_one_delivery_per_recipient_and_channel(
        publish, admin_conn_factory, make_deps, world):
    conn = await admin_conn_factory("notifications")
    ticket = _id()
    message = desk.TicketOpened(ticket_id=ticket, category="legal_wages", serving_org_id=world.station,
                                member_home_tenant_id=world.county, priority="NORMAL")
    event = build_event(message, service="desk", tenant=world.county, aggregate_id=ticket)
    await publish([event], twice=True)
    first = await wait_in_app(conn, world.county, event.event_id)
    # A consumer that ran the handler again (e.g. its inbox row lost) adds nothing: the idempotency keys hold.
    deps = make_deps(clock=lambda: datetime.now(UTC))
    async with deps.db.unit_of_work(tenant=world.county) as uow:
        made = await triggers.ticket_opened(uow, deps=deps, event=message, event_id=event.event_id)
        await uow.commit()
    assert made == 0
    assert await in_app(conn, world.county, event.event_id) == first == [
        (f"seat:station_staff:{world.station}", "ticket_opened", f"/tickets/{ticket}")]
    per_channel = await conn.fetch("SELECT recipient, channel, count(*) AS n FROM deliveries WHERE tenant_id = $1"
                                   " AND event_id = $2 GROUP BY recipient, channel", world.county, event.event_id)
    assert per_channel and all(r["n"] == 1 for r in per_channel)


async def _escalation(conn, county: str, kind: str, subject_id: str):
    return await conn.fetchrow("SELECT state, acknowledged_by, start_org_id FROM escalations WHERE tenant_id = $1"
                               " AND kind = $2 AND subject_id = $3", county, kind, subject_id)


async def test_acknowledgements_and_endings_elsewhere_stop_each_escalation(publish, admin_conn_factory, world):
    conn = await admin_conn_factory("notifications")
    flow, ticket, loan = _id(), _id(), _id()
    opened = [
        build_event(registry.PolicyTimerFired(flow_id=flow, member_id=world.member, timer="CHECK_IN_OVERDUE",
                                              level=1, due_date="2026-11-20"),
                    service="registry", tenant=world.county, aggregate_id=flow),
        build_event(desk.TicketSlaBreached(ticket_id=ticket, category="other", serving_org_id=world.station,
                                           clock="RESOLUTION", due_at="2026-12-02T09:30:00+00:00"),
                    service="desk", tenant=world.county, aggregate_id=ticket),
        # A township tier past its limit starts at the township committee above the member's branch.
        build_event(loans.LoanStepOverdue(loan_id=loan, programme_id=_id(), tier="TOWNSHIP",
                                          step_due_at="2026-12-08T09:30:00+00:00", home_org_id=world.branch,
                                          township="段集镇"),
                    service="desk", tenant=world.county, aggregate_id=loan),
    ]
    await publish(opened)
    for event in opened:
        await wait_in_app(conn, world.county, event.event_id)
    late_township = await _escalation(conn, world.county, "loan_step_overdue", f"{loan}:TOWNSHIP")
    assert late_township["start_org_id"] == uuid.UUID(world.township)
    assert await in_app(conn, world.county, opened[2].event_id) == [
        (f"seat:township_officer:{world.township}", "loan_step_overdue", f"/loans/{loan}")]
    # An unrelated alert (another timer) settles nothing.
    await publish([build_event(registry.AlertAcknowledged(case_id=_id(), flow_id=flow, member_id=world.member,
                                                          timer="TRANSFER_DUE", level=1, acknowledged_by="x"),
                               service="registry", tenant=world.county, aggregate_id=_id())])
    assert (await _escalation(conn, world.county, "check_in_overdue", flow))["state"] == 1
    await publish([
        build_event(registry.AlertAcknowledged(case_id=_id(), flow_id=flow, member_id=world.member,
                                               timer="CHECK_IN_OVERDUE", level=1, acknowledged_by="liu-650616"),
                    service="registry", tenant=world.county, aggregate_id=_id()),
        build_event(desk.TicketResolved(ticket_id=ticket, category="other", serving_org_id=world.station),
                    service="desk", tenant=world.county, aggregate_id=ticket),
        build_event(loans.LoanRefused(loan_id=loan, programme_id=_id(), member_id=world.member, tier="TOWNSHIP",
                                      reason="材料不全"),
                    service="desk", tenant=world.county, aggregate_id=loan),
    ])
    check_in = await _escalation(conn, world.county, "check_in_overdue", flow)
    assert check_in["state"] != 1 and check_in["acknowledged_by"] == "liu-650616"
    assert (await _escalation(conn, world.county, "ticket_sla_breached", ticket))["state"] != 1
    assert (await _escalation(conn, world.county, "loan_step_overdue", f"{loan}:TOWNSHIP"))["state"] != 1


async def test_a_member_the_county_does_not_know_yet_is_still_told(publish, admin_conn_factory):
    county = "650615"
    conn = await admin_conn_factory("notifications")
    stranger = _id()
    event = build_event(registry.PolicyTimerFired(flow_id=_id(), member_id=stranger, timer="REPORT_BACK_DUE",
                                                  level=1, due_date="2026-12-31"),
                        service="registry", tenant=county, aggregate_id=_id())
    await publish([event])
    assert await wait_in_app(conn, county, event.event_id) == [(f"member:{stranger}", "report_back_due", "/m/flows")]


async def test_another_countys_word_about_a_member_is_believed_only_from_the_county_placing_them(
        publish, admin_conn_factory):
    origin, placing, stranger = "650680", "650681", "650682"
    conn = await admin_conn_factory("notifications")
    township = await seed_org(conn, origin, kind="TOWNSHIP_COMMITTEE", name="往流镇党委")
    await appoint(conn, origin, township, "SECRETARY", "郑书记")
    branch = await seed_org(conn, origin, kind="VILLAGE_BRANCH", name="郭店村党支部", parent=township)
    await appoint(conn, origin, branch, "LIAISON", "冯联络员")
    member = await seed_member(conn, origin, name="陈外出", home_org_id=branch)
    flow = await seed_flow(conn, origin, member_id=member, placing=placing)
    overdue = build_event(registry.PolicyTimerFired(flow_id=flow, member_id=member, timer="CHECK_IN_OVERDUE",
                                                    level=1, due_date="2026-11-20"),
                          service="registry", tenant=origin, aggregate_id=flow)
    await publish([overdue])
    await wait_in_app(conn, origin, overdue.event_id)

    # A county that does not place the flow claims an offer and a 报到: dead letters, nobody told, still overdue.
    offer = build_event(orgs.TemporaryMembershipOffered(
        membership_id=_id(), flow_id=flow, origin_tenant_id=origin, member_id=member, attempt=1, org_id=_id(),
        org_name="冒充的临时党支部", rule="STATION_TEMPORARY_BRANCH", destination_code=stranger),
        service="organizations", tenant=stranger, aggregate_id=_id())
    checked = build_event(orgs.CheckedIn(membership_id=_id(), flow_id=flow, origin_tenant_id=origin,
                                         member_id=member, attempt=1, org_id=_id(), org_name="冒充的临时党支部",
                                         method="QR", checked_in_at="2026-12-01T01:30:00+00:00"),
                          service="organizations", tenant=stranger, aggregate_id=_id())
    reply = build_event(desk.TicketReplied(ticket_id=_id(), category="legal_wages", serving_org_id=_id(),
                                           member_id=member, member_home_tenant_id=origin, kind="COMMENT",
                                           title="冒充的答复"),
                        service="desk", tenant=stranger, aggregate_id=_id())
    await publish([offer, checked, reply])
    for forged in (offer, checked):
        county, error = await dead_letter(conn, forged.event_id)
        assert "安置县" in error, (county, error)
    assert await in_app(conn, origin, offer.event_id) == []
    assert await in_app(conn, origin, checked.event_id) == []
    assert await in_app(conn, origin, reply.event_id) == []
    state = await conn.fetchval("SELECT state FROM escalations WHERE tenant_id = $1 AND kind = 'check_in_overdue'"
                                " AND subject_id = $2", origin, flow)
    assert state == 1

    # The placing county's reply is told; a meeting there tells its guest only while placed there.
    told = build_event(desk.TicketReplied(ticket_id=_id(), category="legal_wages", serving_org_id=_id(),
                                          member_id=member, member_home_tenant_id=origin, kind="COMMENT",
                                          title="追讨工资"),
                       service="desk", tenant=placing, aggregate_id=_id())
    await publish([told])
    assert [r[0] for r in await wait_in_app(conn, origin, told.event_id)] == [f"member:{member}"]
    for county in (placing, stranger):
        temporary = await seed_org(conn, county, kind="TEMPORARY_BRANCH", name="城东临时党支部")
        await conn.execute("INSERT INTO dir_guests (tenant_id, membership_id, member_id, origin_tenant_id, org_id,"
                           " state, seen_at) VALUES ($1, $2, $3, $4, $5, 'checked_in', now())", county, _id(),
                           member, origin, temporary)
        meeting = build_event(orgs.MeetingScheduled(meeting_id=_id(), org_id=temporary, type="GENERAL_MEETING",
                                                    title="支部党员大会", start_time="2026-12-10T11:30:00+00:00"),
                              service="organizations", tenant=county, aggregate_id=_id())
        await publish([meeting])
        if county == placing:
            assert [r[0] for r in await wait_in_app(conn, origin, meeting.event_id)] == [f"member:{member}"]
        else:
            assert await in_app(conn, origin, meeting.event_id) == []


async def test_an_offer_arriving_before_its_flow_is_told_once_the_registration_arrives(publish, admin_conn_factory):
    origin, destination = "650683", "650684"
    conn = await admin_conn_factory("notifications")
    member = await seed_member(conn, origin, name="何先到", home_org_id=None)
    flow = _id()
    offer = build_event(orgs.TemporaryMembershipOffered(
        membership_id=_id(), flow_id=flow, origin_tenant_id=origin, member_id=member, attempt=1, org_id=_id(),
        org_name="城南临时党支部", rule="STATION_TEMPORARY_BRANCH", destination_code=destination),
        service="organizations", tenant=destination, aggregate_id=_id())
    await publish([offer])
    assert await in_app(conn, origin, offer.event_id) == []  # retried, not dropped
    registered = build_event(registry.FlowRegistered(
        flow_id=flow, member_id=member, attempt=1, start_date="2026-11-01", expected_months=12,
        handover=handover_pb2.Handover(destination_code=destination, placing_tenant_id=destination)),
        service="registry", tenant=origin, aggregate_id=flow)
    await publish([registered])
    assert await wait_in_app(conn, origin, offer.event_id) == [
        (f"member:{member}", "membership_offered_member", "/m/flows")]
