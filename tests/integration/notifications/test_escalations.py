"""Escalations on real PostgreSQL (and the platform over NATS for the RPCs): an overdue 报到 climbs village →
township → county by the sweep or by the registry's levels, stops when acknowledged, skips an org with nobody; the
ticket SLA ladder; acknowledging is for the offices told; the county's list."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit.auth import Role
from jinqiao.notifications.escalations import service
from jinqiao.notifications.escalations.domain import EscalationState
from jinqiao.notifications.v1 import notifications_pb2 as pb
from tests.integration.conftest import bearer
from tests.integration.notifications.conftest import build_event
from tests.support import field_violations

# A time long past: the sweeps here climb only this file's escalations, never other tests' (theirs wait until now).
T0 = datetime(2011, 3, 7, 2, 0, tzinfo=UTC)
WAIT = timedelta(hours=24)
FACTS = {"member_name": "张三", "due_date": "2011-03-01", "destination": "福安市"}


@dataclass(frozen=True)
class Tree:
    """One county's orgs: the county committee, a township, a village branch under it and a station."""

    county: str
    committee: str
    township: str
    village: str
    station: str

    @property
    def village_seat(self) -> str:
        return f"seat:branch_secretary:{self.village}"

    @property
    def township_seat(self) -> str:
        return f"seat:township_officer:{self.township}"

    @property
    def station_seat(self) -> str:
        return f"seat:station_staff:{self.station}"

    @property
    def county_seat(self) -> str:
        return f"seat:county_admin:{self.county}"


async def _org(conn, county: str, kind: str, name: str, parent: str | None) -> str:
    org_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO dir_orgs (tenant_id, id, parent_id, kind, name) VALUES ($1, $2, $3, $4, $5)",
                       county, org_id, parent, kind, name)
    return org_id


async def _appoint(conn, county: str, org_id: str, position: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO dir_appointments (tenant_id, id, officer_id, org_id, position, officer_name, phone_masked)"
        " VALUES ($1, $2, $3, $4, $5, $6, '138****0000')", county, str(uuid.uuid4()), str(uuid.uuid4()), org_id,
        position, name)


async def _tree(conn, county: str, *, liaison: bool = True, township_officer: bool = True) -> Tree:
    """A fresh tree in ``county`` (new ids each time, so tests sharing a county never see each other's)."""
    committee = await _org(conn, county, "COUNTY_COMMITTEE", "县委", None)
    township = await _org(conn, county, "TOWNSHIP_COMMITTEE", "段集镇党委", committee)
    village = await _org(conn, county, "VILLAGE_BRANCH", "柳树村党支部", township)
    station = await _org(conn, county, "TOWN_STATION", "城南工作站", township)
    if liaison:
        await _appoint(conn, county, village, "LIAISON", "李联络")
    if township_officer:
        await _appoint(conn, county, township, "SECRETARY", "王书记")
    await _appoint(conn, county, station, "SECRETARY", "赵站长")
    return Tree(county, committee, township, village, station)


@pytest.fixture
async def conn(admin_conn_factory):
    return await admin_conn_factory("notifications")


async def _raise(deps, tree: Tree, subject: str, *, level: int = 1, kind: str = "check_in_overdue",
                 start: str | None = None, now: datetime = T0) -> None:
    async with deps.db.unit_of_work(tenant=tree.county) as uow:
        await service.raise_escalation(uow, deps=deps, kind=kind, subject_id=subject, member_id=str(uuid.uuid4()),
                                       start_org_id=start or tree.village, level=level, facts=FACTS,
                                       link="/alerts", event_id=str(uuid.uuid4()), now=now)
        await uow.commit()


async def _settle(deps, tree: Tree, subject: str, *, by: str, kind: str = "check_in_overdue") -> None:
    async with deps.db.unit_of_work(tenant=tree.county) as uow:
        await service.settle(uow, kind=kind, subject_id=subject, acknowledged_by=by, now=T0 + timedelta(hours=1))
        await uow.commit()


async def _row(conn, tree: Tree, subject: str, kind: str = "check_in_overdue"):
    return await conn.fetchrow("SELECT * FROM escalations WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3",
                               tree.county, kind, subject)


def _facts(row) -> dict[str, str]:
    return json.loads(row["facts"]) if isinstance(row["facts"], str) else dict(row["facts"])


async def _told(conn, tree: Tree, subject: str, kind: str = "check_in_overdue") -> list[tuple[int, str]]:
    """Who was told in the inbox, level by level."""
    rows = await conn.fetch(
        "SELECT d.level, d.recipient FROM deliveries d JOIN escalations e"
        " ON e.tenant_id = d.tenant_id AND e.id = d.escalation_id"
        " WHERE e.tenant_id = $1 AND e.kind = $2 AND e.subject_id = $3 AND d.channel = 1 ORDER BY d.level",
        tree.county, kind, subject)
    return [(r["level"], r["recipient"]) for r in rows]


async def _all_deliveries(conn, escalation_id) -> int:
    return await conn.fetchval("SELECT count(*) FROM deliveries WHERE escalation_id = $1", escalation_id)


async def test_overdue_check_in_climbs_village_township_county_by_the_sweep(make_deps, conn):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650660")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat)]
    row = await _row(conn, tree, flow)
    assert row["state"] == EscalationState.OPEN and row["level"] == 1 and str(row["org_id"]) == tree.village
    assert row["next_escalation_at"] == T0 + WAIT
    assert _facts(row)["level_label"] and _facts(row)["org_name"] == "柳树村党支部"

    await service.climb_due_all_tenants(deps=deps, now=T0 + WAIT - timedelta(seconds=1))
    assert await _told(conn, tree, flow) == [(1, tree.village_seat)]

    await service.climb_due_all_tenants(deps=deps, now=T0 + WAIT)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat), (2, tree.township_seat)]
    await service.climb_due_all_tenants(deps=deps, now=T0 + WAIT)
    assert len(await _told(conn, tree, flow)) == 2

    await service.climb_due_all_tenants(deps=deps, now=T0 + 2 * WAIT)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat), (2, tree.township_seat), (3, tree.county_seat)]
    row = await _row(conn, tree, flow)
    assert row["level"] == 3 and row["org_id"] is None and row["next_escalation_at"] is None
    assert _facts(row)["level"] == "3"

    # The county department is told once: nobody above it.
    await service.climb_due_all_tenants(deps=deps, now=T0 + 10 * WAIT)
    assert len(await _told(conn, tree, flow)) == 3
    assert (await _row(conn, tree, flow))["state"] == EscalationState.OPEN


async def test_registry_levels_climb_at_once_and_stop_when_the_alert_is_acknowledged(make_deps, conn):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650661")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow, level=1)
    await _raise(deps, tree, flow, level=1)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat)]

    await _raise(deps, tree, flow, level=2, now=T0 + timedelta(hours=2))
    await _raise(deps, tree, flow, level=2, now=T0 + timedelta(hours=2))
    assert await _told(conn, tree, flow) == [(1, tree.village_seat), (2, tree.township_seat)]
    row = await _row(conn, tree, flow)
    assert row["level"] == 2 and str(row["org_id"]) == tree.township
    # The wait starts again from the climb.
    assert row["next_escalation_at"] == T0 + timedelta(hours=2) + WAIT

    # The registry's 预警 case was acknowledged there (AlertAcknowledged → settle).
    await _settle(deps, tree, flow, by="zhang-township")
    row = await _row(conn, tree, flow)
    assert row["state"] == EscalationState.ACKNOWLEDGED and row["acknowledged_by"] == "zhang-township"
    assert row["next_escalation_at"] is None
    before = await _all_deliveries(conn, row["id"])

    await _raise(deps, tree, flow, level=3, now=T0 + 3 * WAIT)
    await service.climb_due_all_tenants(deps=deps, now=T0 + 5 * WAIT)
    assert await _all_deliveries(conn, row["id"]) == before
    row = await _row(conn, tree, flow)
    assert row["state"] == EscalationState.ACKNOWLEDGED and row["level"] == 2


async def test_registry_level_three_first_tells_only_the_county(make_deps, conn):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650661")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow, level=3)
    assert await _told(conn, tree, flow) == [(3, tree.county_seat)]
    row = await _row(conn, tree, flow)
    assert row["org_id"] is None and row["next_escalation_at"] is None


async def test_a_branch_with_nobody_escalates_to_its_township_at_once(make_deps, conn):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650662", liaison=False)
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    assert await _told(conn, tree, flow) == [(1, tree.township_seat)]
    assert str((await _row(conn, tree, flow))["org_id"]) == tree.township

    # The registry's level 2 names the township committee, told already: nobody is told twice.
    await _raise(deps, tree, flow, level=2, now=T0 + timedelta(hours=1))
    assert await _told(conn, tree, flow) == [(1, tree.township_seat)]
    assert (await _row(conn, tree, flow))["level"] == 2

    # The sweep still climbs from the township to the county.
    await service.climb_due_all_tenants(deps=deps, now=T0 + timedelta(hours=1) + WAIT)
    assert await _told(conn, tree, flow) == [(1, tree.township_seat), (3, tree.county_seat)]


async def test_nobody_below_the_county_tells_the_county_department_at_once(make_deps, conn):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650662", liaison=False, township_officer=False)
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    assert await _told(conn, tree, flow) == [(1, tree.county_seat)]
    row = await _row(conn, tree, flow)
    assert row["org_id"] is None and row["next_escalation_at"] is None


async def test_ticket_sla_ladder_goes_from_the_station_to_its_township_and_the_county(make_deps, conn):
    deps = make_deps(escalate_after=timedelta(hours=4))
    tree = await _tree(conn, "650663")
    ticket = str(uuid.uuid4())
    kind = "ticket_sla_breached"
    await _raise(deps, tree, ticket, kind=kind, start=tree.station)
    assert await _told(conn, tree, ticket, kind) == [(1, tree.station_seat)]
    row = await _row(conn, tree, ticket, kind)
    assert row["subject_type"] == "ticket" and _facts(row)["link"] == "/alerts"
    await service.climb_due_all_tenants(deps=deps, now=T0 + timedelta(hours=4))
    await service.climb_due_all_tenants(deps=deps, now=T0 + timedelta(hours=8))
    assert await _told(conn, tree, ticket, kind) == [(1, tree.station_seat), (2, tree.township_seat),
                                                     (3, tree.county_seat)]


async def test_a_resolved_matter_tells_nobody_and_cannot_be_acknowledged(make_deps, conn, platform, issuer):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650664")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    await _settle(deps, tree, flow, by="")
    row = await _row(conn, tree, flow)
    assert row["state"] == EscalationState.RESOLVED and row["resolved_at"] is not None
    await _raise(deps, tree, flow, level=2, now=T0 + WAIT)
    await service.climb_due_all_tenants(deps=deps, now=T0 + 3 * WAIT)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat)]

    token = issuer.issue(user="admin-650664", role=Role.COUNTY_ADMIN, scope=tree.county)[0]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await platform.notifications_stub.AcknowledgeEscalation(
            pb.AcknowledgeEscalationRequest(escalation_id=str(row["id"])), metadata=bearer(token))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_the_township_told_acknowledges_in_its_inbox_and_the_sweep_stops(make_deps, conn, platform, issuer):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650665")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    await service.climb_due_all_tenants(deps=deps, now=T0 + WAIT)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat), (2, tree.township_seat)]
    escalation_id = str((await _row(conn, tree, flow))["id"])

    officer = issuer.issue(user="wang-township", role=Role.TOWNSHIP_OFFICER, scope=tree.county, org=tree.township)[0]
    answer = await platform.notifications_stub.AcknowledgeEscalation(
        pb.AcknowledgeEscalationRequest(escalation_id=escalation_id, note="已电话联系，本周内报到"),
        metadata=bearer(officer))
    assert answer.escalation.state == pb.ESCALATION_STATE_ACKNOWLEDGED
    assert answer.escalation.acknowledged_by == "wang-township" and answer.escalation.level == 2
    assert answer.escalation.note == "已电话联系，本周内报到"
    assert answer.escalation.org_name == "段集镇党委" and answer.escalation.next_escalation_at == ""
    assert await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'escalation.acknowledge'"
        " AND object_id = $2", tree.county, escalation_id) == 1

    before = await _all_deliveries(conn, uuid.UUID(escalation_id))
    await service.climb_due_all_tenants(deps=deps, now=T0 + 5 * WAIT)
    assert await _all_deliveries(conn, uuid.UUID(escalation_id)) == before

    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await platform.notifications_stub.AcknowledgeEscalation(
            pb.AcknowledgeEscalationRequest(escalation_id=escalation_id), metadata=bearer(officer))
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "已确认" in twice.value.details()


async def test_acknowledging_is_only_for_offices_told_of_it(make_deps, conn, platform, issuer):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650666")
    other = await _tree(conn, "650666")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    escalation_id = str((await _row(conn, tree, flow))["id"])
    request = pb.AcknowledgeEscalationRequest(escalation_id=escalation_id)

    # Another township of the same county, never told: as if absent.
    stranger = issuer.issue(user="li-other", role=Role.TOWNSHIP_OFFICER, scope=tree.county, org=other.township)[0]
    # The township above the village, not told yet (the escalation is still at the village).
    township = issuer.issue(user="wang-township", role=Role.TOWNSHIP_OFFICER, scope=tree.county,
                            org=tree.township)[0]
    # Another county's department.
    foreign = issuer.issue(user="admin-650667", role=Role.COUNTY_ADMIN, scope="650667")[0]
    member = issuer.issue(user="m-1", role=Role.MEMBER, scope=tree.county, member=str(uuid.uuid4()))[0]
    for token in (stranger, township, foreign, member):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await platform.notifications_stub.AcknowledgeEscalation(request, metadata=bearer(token))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await _row(conn, tree, flow))["state"] == EscalationState.OPEN

    # A malformed id names nothing; a note too long is the caller's mistake.
    secretary = issuer.issue(user="li-village", role=Role.BRANCH_SECRETARY, scope=tree.county, org=tree.village)[0]
    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await platform.notifications_stub.AcknowledgeEscalation(
            pb.AcknowledgeEscalationRequest(escalation_id="nope"), metadata=bearer(secretary))
    assert malformed.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as too_long:
        await platform.notifications_stub.AcknowledgeEscalation(
            pb.AcknowledgeEscalationRequest(escalation_id=escalation_id, note="备" * 501), metadata=bearer(secretary))
    assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "note" in field_violations(too_long.value)

    # The village office told of it acknowledges it.
    answer = await platform.notifications_stub.AcknowledgeEscalation(request, metadata=bearer(secretary))
    assert answer.escalation.state == pb.ESCALATION_STATE_ACKNOWLEDGED


async def test_the_county_department_may_acknowledge_any_of_its_escalations(make_deps, conn, platform, issuer):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650667")
    flow = str(uuid.uuid4())
    await _raise(deps, tree, flow)
    admin = issuer.issue(user="admin-650667", role=Role.COUNTY_ADMIN, scope=tree.county)[0]
    answer = await platform.notifications_stub.AcknowledgeEscalation(
        pb.AcknowledgeEscalationRequest(escalation_id=str((await _row(conn, tree, flow))["id"])),
        metadata=bearer(admin))
    assert answer.escalation.state == pb.ESCALATION_STATE_ACKNOWLEDGED


async def test_county_list_pages_newest_first_filters_and_names_orgs(make_deps, conn, platform, issuer):
    deps = make_deps(escalate_after=WAIT)
    county = "650668"
    tree = await _tree(conn, county)
    flows = [str(uuid.uuid4()) for _ in range(3)]
    for i, flow in enumerate(flows):
        await _raise(deps, tree, flow, now=T0 + timedelta(minutes=i))
    await _settle(deps, tree, flows[0], by="someone")
    admin = issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0]
    stub = platform.notifications_stub

    seen: list[str] = []
    token = ""
    while True:
        page = await stub.ListEscalations(pb.ListEscalationsRequest(page_size=2, page_token=token,
                                                                    kind="check_in_overdue"), metadata=bearer(admin))
        seen += [e.subject_id for e in page.escalations]
        token = page.next_page_token
        if not token:
            break
    assert [s for s in seen if s in flows] == list(reversed(flows))

    open_only = await stub.ListEscalations(pb.ListEscalationsRequest(state=pb.ESCALATION_STATE_OPEN),
                                           metadata=bearer(admin))
    mine = {e.subject_id: e for e in open_only.escalations if e.subject_id in flows}
    assert set(mine) == set(flows[1:])
    assert mine[flows[1]].org_name == "柳树村党支部" and mine[flows[1]].level == 1
    assert all(e.state == pb.ESCALATION_STATE_OPEN for e in open_only.escalations)
    top = str(uuid.uuid4())
    await _raise(deps, tree, top, level=3, now=T0 + timedelta(minutes=9))
    listed = await stub.ListEscalations(pb.ListEscalationsRequest(page_size=200), metadata=bearer(admin))
    at_county = next(e for e in listed.escalations if e.subject_id == top)
    assert at_county.org_id == "" and at_county.org_name == "县委组织部" and at_county.level == 3

    # Another county's department sees none of them.
    foreign = issuer.issue(user="admin-650669", role=Role.COUNTY_ADMIN, scope="650669")[0]
    theirs = await stub.ListEscalations(pb.ListEscalationsRequest(), metadata=bearer(foreign))
    assert not {e.subject_id for e in theirs.escalations} & set(flows)

    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.ListEscalations(pb.ListEscalationsRequest(state=9, kind="nope"), metadata=bearer(admin))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(bad.value)) == {"state", "kind"}


async def test_a_ticket_raised_at_level_three_walks_two_offices_up_and_tells_only_the_last(make_deps, conn):
    deps = make_deps(escalate_after=WAIT)
    tree = await _tree(conn, "650663")
    ticket = str(uuid.uuid4())
    kind = "ticket_sla_breached"
    await _raise(deps, tree, ticket, kind=kind, start=tree.station)
    await _raise(deps, tree, ticket, kind=kind, start=tree.station, level=2, now=T0 + timedelta(hours=1))
    assert await _told(conn, tree, ticket, kind) == [(1, tree.station_seat), (2, tree.township_seat)]
    # Level 5 wants three more steps: the walk reaches the county seat after one and stays there.
    await _raise(deps, tree, ticket, kind=kind, start=tree.station, level=5, now=T0 + timedelta(hours=2))
    assert await _told(conn, tree, ticket, kind) == [(1, tree.station_seat), (2, tree.township_seat),
                                                     (5, tree.county_seat)]
    row = await _row(conn, tree, ticket, kind)
    assert row["level"] == 5 and row["org_id"] is None and row["next_escalation_at"] is None


async def test_registry_events_climb_the_levels_and_its_acknowledgement_stops_them(conn, publish):
    county = "650669"
    tree = await _tree(conn, county)
    member, flow = str(uuid.uuid4()), str(uuid.uuid4())
    await conn.execute("INSERT INTO dir_members (tenant_id, id, name, home_org_id, township, seen_at)"
                       " VALUES ($1, $2, '张三', $3, '段集镇', now())", county, member, tree.village)

    def timer(level: int):
        return build_event(registry_events_pb2.PolicyTimerFired(
            flow_id=flow, member_id=member, timer="CHECK_IN_OVERDUE", level=level, due_date="2026-11-20",
            destination_code="350981"), service="registry", tenant=county, aggregate_id=flow)

    await publish([timer(1)], twice=True)
    assert await _told(conn, tree, flow) == [(1, tree.village_seat)]
    await publish([timer(2)])
    assert await _told(conn, tree, flow) == [(1, tree.village_seat), (2, tree.township_seat)]
    body = await conn.fetchval("SELECT body FROM deliveries WHERE escalation_id = (SELECT id FROM escalations"
                               " WHERE tenant_id = $1 AND subject_id = $2) AND level = 2 AND channel = 1",
                               county, flow)
    assert "张三" in body

    await publish([build_event(registry_events_pb2.AlertAcknowledged(
        case_id=str(uuid.uuid4()), flow_id=flow, member_id=member, timer="CHECK_IN_OVERDUE", level=2,
        acknowledged_by="wang-township"), service="registry", tenant=county, aggregate_id=flow)])
    row = await _row(conn, tree, flow)
    assert row["state"] == EscalationState.ACKNOWLEDGED and row["acknowledged_by"] == "wang-township"

    await publish([timer(3)])
    assert await _told(conn, tree, flow) == [(1, tree.village_seat), (2, tree.township_seat)]
