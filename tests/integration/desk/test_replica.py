"""The desk's replica of the org tree, members and flows, learned only from registry's and organizations' events
(real PostgreSQL and JetStream): each lookup the other concepts use answers once the events have arrived."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import grpc
import pytest

from jinqiao.desk.replica import consumers, service
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit.broker import Delivery
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.registry.v1 import flows_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import member_request

K = pb.OrgKind
ORIGIN = "650450"
PLACING = "650451"
REDIRECTED = "650452"
SPARE = "650453"
TODAY = date.today().isoformat()


async def _root(orgs: Any, md: Any, name: str) -> str:
    try:
        return (await orgs.CreateOrg(pb.CreateOrgRequest(name=name, kind=K.ORG_KIND_COUNTY_COMMITTEE),
                                     metadata=md)).org.id
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        return (await orgs.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=md)).orgs[0].id


async def _add(orgs: Any, md: Any, parent: str, name: str, kind: int) -> str:
    return (await orgs.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=f"{name}-{uuid.uuid4().hex[:6]}",
                                                     kind=kind), metadata=md)).org.id


@pytest.fixture(scope="module")
def md(county_token: Callable[[str], str]) -> dict[str, Any]:
    return {code: bearer(county_token(code)) for code in (ORIGIN, PLACING, REDIRECTED, SPARE)}


@pytest.fixture(scope="module")
async def tree(platform: Any, md: dict[str, Any]) -> dict[str, str]:
    """The origin's home branch; in the placing and the redirected county a station with a 临时党支部 under it."""
    orgs = platform.organizations_stub
    ids: dict[str, str] = {}
    home_root = await _root(orgs, md[ORIGIN], "中共昌吉回族自治州甲县委员会")
    town = await _add(orgs, md[ORIGIN], home_root, "甲县城关镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE)
    ids["home_branch"] = await _add(orgs, md[ORIGIN], town, "甲县南关村党支部", K.ORG_KIND_VILLAGE_BRANCH)
    for county, key in ((PLACING, "placing"), (REDIRECTED, "redirected")):
        root = await _root(orgs, md[county], f"中共{county}县委员会")
        station = await _add(orgs, md[county], root, "驻城党建工作站", K.ORG_KIND_TOWN_STATION)
        ids[f"{key}_root"] = root
        ids[f"{key}_station"] = station
        ids[f"{key}_temp"] = await _add(orgs, md[county], station, "工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)
    return ids


async def _ask(platform: Any, tenant: str, lookup: Callable[..., Awaitable[Any]], **kw: Any) -> Any:
    """One replica lookup in the county's unit of work, through the desk's own pool."""
    async with platform.desk.db.unit_of_work(tenant=tenant) as uow:
        return await lookup(uow, **kw)


async def _handle(platform: Any, tenant: str, handler: Any, event: Any, *, publisher: str) -> None:
    """Run a consumer's handler as the broker would, in ``tenant``'s unit of work, with the verified publisher."""
    delivery = Delivery(event_id=str(uuid.uuid4()), tenant=publisher, subject="test", deliveries=1)
    async with platform.desk.db.unit_of_work(tenant=tenant) as uow:
        await handler(uow, event, delivery)
        await uow.commit()


async def _membership(platform: Any, md: dict[str, Any], county: str, flow_id: str) -> pb.Membership | None:
    page = await platform.organizations_stub.ListMemberships(pb.ListMembershipsRequest(page_size=200),
                                                            metadata=md[county])
    return next((m for m in page.memberships if m.flow_id == flow_id), None)


async def test_station_subtree_ancestors_and_nearest_station_follow_the_org_tree(platform, tree):
    temp, station, root = tree["placing_temp"], tree["placing_station"], tree["placing_root"]

    async def replicated() -> Any:
        return await _ask(platform, PLACING, service.nearest_station, org_id=temp)

    found = await eventually(replicated)
    assert found.id == station and found.kind == "TOWN_STATION" and found.is_station
    assert [o.id for o in await _ask(platform, PLACING, service.ancestors, org_id=temp)] == [station, root]
    assert await _ask(platform, PLACING, service.org_subtree, root_id=station) == frozenset({station, temp})
    assert station in {o.id for o in await _ask(platform, PLACING, service.stations)}
    # The county committee is no station and has none above it.
    assert await _ask(platform, PLACING, service.nearest_station, org_id=root) is None
    # Another county's organisation is not in this county's replica.
    assert await _ask(platform, ORIGIN, service.org, org_id=temp) is None
    assert await _ask(platform, ORIGIN, service.org_subtree, root_id=station) == frozenset()


async def test_a_moved_org_changes_its_station_and_a_dissolved_station_leaves_the_list(platform, md):
    orgs = platform.organizations_stub
    # A county of its own: a second 临时党支部 under the placing county's station would change its placements.
    root = await _root(orgs, md[SPARE], "中共丁县委员会")
    station = await _add(orgs, md[SPARE], root, "驻城党建工作站", K.ORG_KIND_TOWN_STATION)
    town = await _add(orgs, md[SPARE], root, "丁县新城街道党工委", K.ORG_KIND_TOWNSHIP_COMMITTEE)
    branch = await _add(orgs, md[SPARE], town, "新城临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)

    async def placed_under_town() -> Any:
        return [o.id for o in await _ask(platform, SPARE, service.ancestors, org_id=branch)] == [town, root]

    await eventually(placed_under_town)
    assert await _ask(platform, SPARE, service.nearest_station, org_id=branch) is None

    await orgs.MoveOrg(pb.MoveOrgRequest(id=branch, new_parent_id=station), metadata=md[SPARE])

    async def moved() -> Any:
        near = await _ask(platform, SPARE, service.nearest_station, org_id=branch)
        return near is not None and near.id == station

    await eventually(moved)
    assert branch in await _ask(platform, SPARE, service.org_subtree, root_id=station)
    assert branch not in await _ask(platform, SPARE, service.org_subtree, root_id=town)

    spare = await _add(orgs, md[SPARE], root, "服务中心", K.ORG_KIND_SERVICE_CENTER)
    await eventually(lambda: _ask(platform, SPARE, service.org, org_id=spare))
    assert spare in {o.id for o in await _ask(platform, SPARE, service.stations)}
    await orgs.DissolveOrg(pb.DissolveOrgRequest(id=spare, reason="机构调整"), metadata=md[SPARE])

    async def dissolved() -> Any:
        found = await _ask(platform, SPARE, service.org, org_id=spare)
        return found is not None and found.dissolved

    await eventually(dissolved)
    assert spare not in {o.id for o in await _ask(platform, SPARE, service.stations)}
    # A dissolved station keeps no queue: nothing (here) serves its organisation.
    assert await _ask(platform, SPARE, service.nearest_station, org_id=spare) is None


async def test_member_guest_and_placement_follow_the_flow_to_its_redirect_and_return(platform, tree, md):
    registry, orgs = platform.registry_stub, platform.organizations_stub
    member = (await registry.CreateMember(member_request(ORIGIN, name="马文华", township="城关镇",
                                                         home_branch_id=tree["home_branch"]),
                                          metadata=md[ORIGIN])).member

    async def registered() -> Any:
        return await _ask(platform, ORIGIN, service.home_member, member_id=member.id)

    home = await eventually(registered)
    assert (home.name, home.home_org_id, home.township, home.active) == ("马文华", tree["home_branch"], "城关镇", True)
    assert home.flow_id is None and home.placing_tenant_id == ""

    flow = (await registry.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=PLACING, address="乙县新城路 8 号", industry="装修",
        start_date=TODAY, expected_months=6), metadata=md[ORIGIN])).flow

    async def offered_guest() -> Any:
        found = await _ask(platform, PLACING, service.guest, origin_tenant_id=ORIGIN, member_id=member.id)
        return found if found is not None and found.status == "OFFERED" else None

    guest = await eventually(offered_guest)
    assert (guest.flow_id, guest.member_name, guest.org_id) == (flow.id, "马文华", tree["placing_temp"])
    assert guest.id_number_masked == member.id_number_masked and "*" in guest.id_number_masked
    near = await _ask(platform, PLACING, service.nearest_station, org_id=guest.org_id)
    assert near is not None and near.id == tree["placing_station"]

    async def placed_at_home() -> Any:
        found = await _ask(platform, ORIGIN, service.home_member, member_id=member.id)
        return found if found.placed_org_id == tree["placing_temp"] else None

    home = await eventually(placed_at_home)
    assert (home.flow_id, home.placing_tenant_id, home.destination_code) == (flow.id, PLACING, PLACING)
    assert home.placed_org_name == guest.org_name and home.placed_org_name
    # The origin's own replica holds no guest of its own member.
    assert await _ask(platform, ORIGIN, service.guest, origin_tenant_id=ORIGIN, member_id=member.id) is None

    held = await _membership(platform, md, PLACING, flow.id)
    assert held is not None
    await orgs.CheckInMembership(pb.CheckInMembershipRequest(id=held.id), metadata=md[PLACING])

    async def checked_in() -> Any:
        found = await _ask(platform, PLACING, service.guest, origin_tenant_id=ORIGIN, member_id=member.id)
        return found is not None and found.status == "CHECKED_IN"

    await eventually(checked_in)

    await registry.RedirectFlow(flows_pb2.RedirectFlowRequest(id=flow.id, destination_code=REDIRECTED),
                                metadata=md[ORIGIN])

    async def moved_on() -> Any:
        gone = await _ask(platform, PLACING, service.guest, origin_tenant_id=ORIGIN, member_id=member.id)
        there = await _ask(platform, REDIRECTED, service.guest, origin_tenant_id=ORIGIN, member_id=member.id)
        return there if gone is None and there is not None else None

    there = await eventually(moved_on)
    assert there.flow_id == flow.id and there.member_name == "马文华"

    async def redirected_at_home() -> Any:
        found = await _ask(platform, ORIGIN, service.home_member, member_id=member.id)
        return found if found.placing_tenant_id == REDIRECTED and found.placed_org_id == tree["redirected_temp"] \
            else None

    await eventually(redirected_at_home)

    await registry.ReturnFlow(flows_pb2.ReturnFlowRequest(id=flow.id), metadata=md[ORIGIN])

    async def returned() -> Any:
        found = await _ask(platform, ORIGIN, service.home_member, member_id=member.id)
        gone = await _ask(platform, REDIRECTED, service.guest, origin_tenant_id=ORIGIN, member_id=member.id)
        return found.flow_id is None and gone is None

    await eventually(returned)
    home = await _ask(platform, ORIGIN, service.home_member, member_id=member.id)
    assert (home.placing_tenant_id, home.destination_code, home.placed_org_id, home.placed_org_name) == (
        "", "", None, "")


async def test_an_offer_published_by_a_county_not_placing_the_member_changes_nothing_at_the_origin(platform, tree,
                                                                                                     md):
    member = (await platform.registry_stub.CreateMember(member_request(ORIGIN), metadata=md[ORIGIN])).member
    flow = (await platform.registry_stub.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=PLACING, address="乙县新城路 9 号", industry="物流",
        start_date=TODAY, expected_months=6), metadata=md[ORIGIN])).flow

    async def placed() -> Any:
        found = await _ask(platform, ORIGIN, service.home_member, member_id=member.id)
        return found if found is not None and found.placed_org_id == tree["placing_temp"] else None

    before = await eventually(placed)
    forged = org_events.TemporaryMembershipOffered(
        membership_id=str(uuid.uuid4()), flow_id=flow.id, origin_tenant_id=ORIGIN, member_id=member.id, attempt=1,
        org_id=tree["redirected_temp"], org_name="冒名的临时党支部")
    await _handle(platform, ORIGIN, consumers.on_member_offered, forged, publisher=REDIRECTED)
    checked = org_events.CheckedIn(membership_id=str(uuid.uuid4()), flow_id=flow.id, origin_tenant_id=ORIGIN,
                                   member_id=member.id, attempt=1, org_id=tree["redirected_temp"],
                                   org_name="冒名的临时党支部")
    await _handle(platform, ORIGIN, consumers.on_member_checked_in, checked, publisher=REDIRECTED)
    assert await _ask(platform, ORIGIN, service.home_member, member_id=member.id) == before

    # Nor may another county close, or take over, the guest the origin placed: the row keeps its origin.
    async def offered_guest() -> Any:
        found = await _ask(platform, PLACING, service.guest, origin_tenant_id=ORIGIN, member_id=member.id)
        return found if found is not None and found.status == "OFFERED" else None

    guest = await eventually(offered_guest)
    assert guest.flow_id == flow.id
    closed = registry_events.FlowClosed(flow_id=flow.id, member_id=member.id, placing_tenant_id=PLACING,
                                        reason="RETURNED")
    await _handle(platform, PLACING, consumers.on_guest_flow_closed, closed, publisher=REDIRECTED)
    stolen = registry_events.FlowRegistered(flow_id=flow.id, member_id=member.id, attempt=5)
    stolen.handover.placing_tenant_id = PLACING
    stolen.handover.member_name = "冒名者"
    await _handle(platform, PLACING, consumers.on_guest_flow, stolen, publisher=REDIRECTED)
    assert await _ask(platform, PLACING, service.guest, origin_tenant_id=ORIGIN, member_id=member.id) == guest
    assert await _ask(platform, PLACING, service.guest, origin_tenant_id=REDIRECTED, member_id=member.id) is None


async def test_events_arriving_out_of_order_converge(platform):
    """A late OrgCreated never undoes an OrgMoved; a placement before its flow counts once the flow confirms it;
    a flow closed before its registration arrives leaves no guest."""
    parent, new_parent, child = (str(uuid.uuid4()) for _ in range(3))
    moved = org_events.OrgMoved(org_id=child, old_parent_id=parent, new_parent_id=new_parent)
    moved.meta.aggregate_version = 2
    created = org_events.OrgCreated(org_id=child, parent_id=parent, kind="ORG_KIND_SERVICE_CENTER", name="服务站")
    created.meta.aggregate_version = 1
    await _handle(platform, SPARE, consumers.on_org_moved, moved, publisher=SPARE)
    await _handle(platform, SPARE, consumers.on_org_created, created, publisher=SPARE)
    found = await _ask(platform, SPARE, service.org, org_id=child)
    assert (found.parent_id, found.kind, found.name, found.is_station) == (new_parent, "SERVICE_CENTER", "服务站", True)

    member, flow, org = (str(uuid.uuid4()) for _ in range(3))
    checked = org_events.CheckedIn(flow_id=flow, origin_tenant_id=SPARE, member_id=member, attempt=1, org_id=org,
                                   org_name="临时党支部")
    await _handle(platform, SPARE, consumers.on_member_checked_in, checked, publisher=PLACING)
    early = await _ask(platform, SPARE, service.home_member, member_id=member)
    assert early.flow_id is None and early.placed_org_id is None
    opened = registry_events.FlowRegistered(flow_id=flow, member_id=member, attempt=1)
    opened.handover.destination_code = PLACING
    opened.handover.placing_tenant_id = PLACING
    opened.handover.member_name = "李四"
    await _handle(platform, SPARE, consumers.on_flow_opened, opened, publisher=SPARE)
    registered = registry_events.MemberRegistered(member_id=member, name="李四", township="城关镇")
    await _handle(platform, SPARE, consumers.on_member_registered, registered, publisher=SPARE)
    home = await _ask(platform, SPARE, service.home_member, member_id=member)
    assert (home.name, home.flow_id, home.placing_tenant_id, home.placed_org_id) == ("李四", flow, PLACING, org)

    # At the placing county: the flow's closure overtakes its registration; the guest never opens.
    closed = registry_events.FlowClosed(flow_id=flow, member_id=member, placing_tenant_id=PLACING, reason="RETURNED")
    await _handle(platform, PLACING, consumers.on_guest_flow_closed, closed, publisher=SPARE)
    await _handle(platform, PLACING, consumers.on_guest_flow, opened, publisher=SPARE)
    await _handle(platform, PLACING, consumers.on_guest_checked_in, checked, publisher=PLACING)
    assert await _ask(platform, PLACING, service.guest, origin_tenant_id=SPARE, member_id=member) is None
    # A county is never asked to host a flow placed elsewhere.
    await _handle(platform, REDIRECTED, consumers.on_guest_flow, opened, publisher=SPARE)
    assert await _ask(platform, REDIRECTED, service.guest, origin_tenant_id=SPARE, member_id=member) is None

    transferred = registry_events.MemberTransferred(flow_id=flow, member_id=member, destination_tenant_id=PLACING)
    await _handle(platform, SPARE, consumers.on_member_transferred, transferred, publisher=SPARE)
    assert not (await _ask(platform, SPARE, service.home_member, member_id=member)).active


async def test_ids_that_are_not_uuids_name_nothing(platform):
    assert await _ask(platform, SPARE, service.home_member, member_id="county") is None
    assert await _ask(platform, SPARE, service.org, org_id="") is None
    assert await _ask(platform, SPARE, service.org_subtree, root_id="county") == frozenset()
    assert await _ask(platform, SPARE, service.ancestors, org_id="x") == []
    assert await _ask(platform, SPARE, service.nearest_station, org_id="county") is None
    assert await _ask(platform, SPARE, service.guest, origin_tenant_id=ORIGIN, member_id="nobody") is None
