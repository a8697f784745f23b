"""预警 cases over real PostgreSQL: the fired levels of a timer group into one case per flow, an office acknowledges
and closes it (audited), a later escalation re-opens it, a township officer handles its own township's members only,
and the member reads their own 证明信, dated by the Beijing calendar day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jinqiao.events.v1 import organizations_events_pb2 as oe
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.broker import Delivery
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import consumers, repo, timers
from jinqiao.registry.flows import service as flow_service
from jinqiao.registry.flows.domain import AlertState, ReturneeFacts
from jinqiao.registry.members import service
from tests.support import id_number

ORIGIN, OTHER = "650333", "650334"  # this helper's counties: 650331–650339
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal(user="admin-650333", role=Role.COUNTY_ADMIN, scope=ORIGIN, tenant=ORIGIN)
OTHER_ADMIN = Principal(user="admin-650334", role=Role.COUNTY_ADMIN, scope=OTHER, tenant=OTHER)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def deps(settings_for):
    settings = settings_for("registry")
    db = await Database.connect(settings.database_url, min_size=1, max_size=3)
    yield RegistryDeps(db=db, cipher=FieldCipher.from_settings(settings),
                       blind_index=BlindIndex.from_settings(settings), clock=Clock(START))
    await db.close()


async def _tree(deps: RegistryDeps) -> dict[str, str]:
    """A township committee with one village branch under it, and another township, in the registry's replica."""
    ids = {k: str(uuid.uuid4()) for k in ("township", "village", "elsewhere")}
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        await service.mirror_org(uow=uow, org_id=ids["township"], name="城关镇党委", kind="TOWNSHIP_COMMITTEE")
        await service.mirror_org(uow=uow, org_id=ids["village"], name="东关村党支部", kind="VILLAGE_BRANCH")
        await service.mirror_org(uow=uow, org_id=ids["elsewhere"], name="河口乡党委", kind="TOWNSHIP_COMMITTEE")
        await service.mirror_org_parent(uow=uow, org_id=ids["village"], parent_id=ids["township"], version=1)
        await uow.commit()
    return ids


async def away(deps: RegistryDeps, *, tenant: str = ORIGIN, home: str = "", name: str = "周志强",
               start: datetime = START) -> tuple[str, str]:
    """A member who left on ``start`` for a city outside the province; returns (member id, flow id)."""
    admin = ADMIN if tenant == ORIGIN else OTHER_ADMIN
    deps.clock.now = start  # type: ignore[attr-defined]
    member = await service.create_member(deps=deps, principal=admin, request_id="", data=service.MemberInput(
        name=name, id_number=id_number(tenant), phone="13700001111", membership_status=2, township="城关镇",
        village="", occupation="", join_date="", home_branch_id=home))
    flow, _ = await flow_service.register_flow(deps=deps, principal=admin, member_id=member.id, data=(
        flow_service.OutflowInput(destination_code="420100", address="武汉市江汉区", employer="", industry="物流",
                                  start_date=start.date().isoformat(), expected_months=6, contact_phone="")))
    return member.id, flow.id


async def sweep_at(deps: RegistryDeps, when: datetime, tenant: str = ORIGIN) -> None:
    deps.clock.now = when  # type: ignore[attr-defined]
    await timers.sweep_county(deps=deps, tenant=tenant, now=when)


async def cases(deps: RegistryDeps, principal: Principal = ADMIN, *, states: list[int] | None = None,
                timer: str = "", level: int = 0, page_size: int = 200):
    found, total = await flow_service.list_alert_cases(deps=deps, principal=principal, states=states or [],
                                                       timer=timer, level=level, page=1, page_size=page_size)
    return found, total


async def case_of(deps: RegistryDeps, flow_id: str, principal: Principal = ADMIN, states: list[int] | None = None):
    found, _ = await cases(deps, principal, states=states or [1, 2, 3])
    mine = [c for c in found if c.flow_id == flow_id]
    assert len(mine) <= 1
    return mine[0] if mine else None


async def test_each_escalation_level_raises_one_case_instead_of_adding_rows(deps):
    _, flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=30))
    first = await case_of(deps, flow)
    assert first is not None and first.timer == "CHECK_IN_OVERDUE" and first.level == 1
    assert first.state is AlertState.OPEN and [lv for lv, _ in first.levels] == [1]
    await sweep_at(deps, START + timedelta(days=45))
    await sweep_at(deps, START + timedelta(days=60))
    case = await case_of(deps, flow)
    assert case.id == first.id and case.level == 3
    assert [lv for lv, _ in case.levels] == [1, 2, 3]
    assert case.first_fired_at == START + timedelta(days=30) and case.last_fired_at == START + timedelta(days=60)
    assert await cases(deps, level=3, timer="check_in_overdue") != ([], 0)
    assert first.id not in {c.id for c in (await cases(deps, level=2))[0]}


async def test_acknowledge_then_close_with_a_note_is_audited_and_leaves_the_active_list(deps, admin_conn_factory):
    _, flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=30))
    case = await case_of(deps, flow)
    deps.clock.now = START + timedelta(days=31)  # type: ignore[attr-defined]
    seen = await flow_service.acknowledge_alert(deps=deps, principal=ADMIN, case_id=case.id, note="已电话联系本人")
    assert seen.state is AlertState.ACKNOWLEDGED and seen.acknowledged_by == ADMIN.user
    assert seen.acknowledged_at == START + timedelta(days=31) and seen.note == "已电话联系本人"
    with pytest.raises(FailedPrecondition):
        await flow_service.acknowledge_alert(deps=deps, principal=ADMIN, case_id=case.id, note="")
    assert case.id in {c.id for c in (await cases(deps))[0]}
    with pytest.raises(InvalidArgument) as caught:
        await flow_service.close_alert(deps=deps, principal=ADMIN, case_id=case.id, note="   ")
    assert [v.field for v in caught.value.violations] == ["note"]
    closed = await flow_service.close_alert(deps=deps, principal=ADMIN, case_id=case.id, note="本人已到流入地报到")
    assert closed.state is AlertState.CLOSED and closed.closed_by == ADMIN.user and closed.note == "本人已到流入地报到"
    with pytest.raises(FailedPrecondition):
        await flow_service.close_alert(deps=deps, principal=ADMIN, case_id=case.id, note="再次办结")
    assert case.id not in {c.id for c in (await cases(deps))[0]}
    assert case.id in {c.id for c in (await cases(deps, states=[3]))[0]}
    conn = await admin_conn_factory("registry")
    acts = await conn.fetch("SELECT action, actor, reason FROM audit_log WHERE tenant_id = $1 AND object_id = $2"
                            " ORDER BY seq", ORIGIN, case.id)
    assert [(a["action"], a["actor"], a["reason"]) for a in acts] == [
        ("alert.acknowledge", ADMIN.user, "已电话联系本人"), ("alert.close", ADMIN.user, "本人已到流入地报到")]


async def test_a_later_escalation_reopens_a_closed_case_with_the_level_raised(deps):
    _, flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=30))
    case = await case_of(deps, flow)
    await flow_service.close_alert(deps=deps, principal=ADMIN, case_id=case.id, note="村里已提醒")
    await sweep_at(deps, START + timedelta(days=44))
    assert (await case_of(deps, flow)).state is AlertState.CLOSED
    await sweep_at(deps, START + timedelta(days=45))
    reopened = await case_of(deps, flow)
    assert reopened.id == case.id and reopened.state is AlertState.OPEN and reopened.level == 2
    assert reopened.closed_at is None and reopened.closed_by == ""


async def test_a_township_officer_handles_only_its_townships_members(deps):
    tree = await _tree(deps)
    _, mine = await away(deps, home=tree["village"], name="本镇党员")
    _, theirs = await away(deps, home=tree["elsewhere"], name="外乡党员")
    await sweep_at(deps, START + timedelta(days=30))
    officer = Principal(user="township-650333", role=Role.TOWNSHIP_OFFICER, scope=ORIGIN, tenant=ORIGIN,
                        org=tree["township"])
    seen = {c.flow_id: c for c in (await cases(deps, officer))[0]}
    assert mine in seen and theirs not in seen
    assert seen[mine].township_name == "城关镇党委" and seen[mine].member_name == "本镇党员"
    other_case = await case_of(deps, theirs)
    with pytest.raises(NotFound):
        await flow_service.acknowledge_alert(deps=deps, principal=officer, case_id=other_case.id, note="")
    with pytest.raises(NotFound):
        await flow_service.close_alert(deps=deps, principal=officer, case_id=other_case.id, note="越权办结")
    done = await flow_service.close_alert(deps=deps, principal=officer, case_id=seen[mine].id, note="已联系")
    assert done.closed_by == officer.user
    unbound = Principal(user="township-x", role=Role.TOWNSHIP_OFFICER, scope=ORIGIN, tenant=ORIGIN)
    with pytest.raises(PermissionDenied):
        await cases(deps, unbound)
    station = Principal(user="station-x", role=Role.STATION_STAFF, scope=ORIGIN, tenant=ORIGIN, org=tree["village"])
    with pytest.raises(PermissionDenied):
        await cases(deps, station)


async def test_another_countys_case_is_not_found(deps):
    _, flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=30))
    case = await case_of(deps, flow)
    with pytest.raises(NotFound):
        await flow_service.close_alert(deps=deps, principal=OTHER_ADMIN, case_id=case.id, note="越界办结")
    with pytest.raises(NotFound):
        await flow_service.acknowledge_alert(deps=deps, principal=OTHER_ADMIN, case_id=case.id, note="")
    assert case.id not in {c.id for c in (await cases(deps, OTHER_ADMIN, states=[1, 2, 3]))[0]}
    assert (await case_of(deps, flow)).state is AlertState.OPEN


async def test_page_size_zero_counts_without_rows(deps):
    _, flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=30))
    rows, total = await cases(deps, page_size=0)
    everything, counted = await cases(deps)
    assert rows == [] and total == counted == len(everything) and total >= 1


async def test_the_members_own_flows_carry_the_letter_dated_by_the_beijing_day(deps):
    # 16:30 UTC on 1 March is 00:30 on 2 March in Beijing: the letter is dated the 2nd.
    late = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    member_id, flow_id = await away(deps, start=late - timedelta(days=1))
    # The flow was registered the day before; register another member exactly at the late instant.
    deps.clock.now = late  # type: ignore[attr-defined]
    member = await service.create_member(deps=deps, principal=ADMIN, request_id="", data=service.MemberInput(
        name="午夜登记", id_number=id_number(ORIGIN), phone="13700002222", membership_status=2, township="城关镇",
        village="", occupation="", join_date=""))
    _, letter = await flow_service.register_flow(deps=deps, principal=ADMIN, member_id=member.id, data=(
        flow_service.OutflowInput(destination_code="420100", address="武汉市江汉区", employer="", industry="物流",
                                  start_date="2026-03-01", expected_months=6, contact_phone="")))
    assert letter.endswith("2026-03-02") and "2026-03-01\n" not in letter.splitlines()[-1]
    own = Principal(user="member-self", role=Role.MEMBER, scope=ORIGIN, tenant=ORIGIN, member=member.id)
    listed, _, _ = await flow_service.list_flows(deps=deps, principal=own, member_id=member.id, statuses=[],
                                                 destination_code="", page_size=10, page_token="")
    assert len(listed) == 1 and listed[0][1] == letter
    flow, fetched = await flow_service.get_flow(deps=deps, principal=own, flow_id=listed[0][0].id)
    assert fetched == letter and member.id_number_masked in letter
    # The county's list carries the same letter; another member of the county cannot list this member's flows.
    by_admin, _, _ = await flow_service.list_flows(deps=deps, principal=ADMIN, member_id=member.id, statuses=[],
                                                   destination_code="", page_size=10, page_token="")
    assert by_admin[0][1] == letter
    stranger = Principal(user="member-other", role=Role.MEMBER, scope=ORIGIN, tenant=ORIGIN, member=member_id)
    with pytest.raises(NotFound):
        await flow_service.list_flows(deps=deps, principal=stranger, member_id=member.id, statuses=[],
                                      destination_code="", page_size=10, page_token="")
    assert flow_id


async def test_flows_page_by_number_with_a_name_filter_and_total(deps):
    tag = uuid.uuid4().hex[:6]
    for i in range(3):
        await away(deps, name=f"翻页{tag}{i}")
    first, token, total = await flow_service.list_flows(deps=deps, principal=ADMIN, member_id="", statuses=[],
                                                        destination_code="", page_size=2, page_token="",
                                                        member_name=f"翻页{tag}", page=1)
    second, _, total2 = await flow_service.list_flows(deps=deps, principal=ADMIN, member_id="", statuses=[],
                                                      destination_code="", page_size=2, page_token="",
                                                      member_name=f"翻页{tag}", page=2)
    assert total == total2 == 3 and token == ""
    assert len(first) == 2 and len(second) == 1
    assert {f.id for f, _ in first}.isdisjoint({f.id for f, _ in second})
    beyond, _, total3 = await flow_service.list_flows(deps=deps, principal=ADMIN, member_id="", statuses=[],
                                                      destination_code="", page_size=2, page_token="",
                                                      member_name=f"翻页{tag}", page=5)
    assert beyond == [] and total3 == 3


async def test_a_check_in_closes_the_overdue_case_and_coming_home_closes_the_rest(deps):
    _, flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=200))
    open_timers = {c.timer for c in (await cases(deps))[0] if c.flow_id == flow}
    assert {"CHECK_IN_OVERDUE", "CERTIFICATE_EXPIRED"} <= open_timers
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        row, _ = await repo.get_flow(uow, flow_id=flow)
        event = oe.CheckedIn(flow_id=flow, origin_tenant_id=ORIGIN, member_id=row.member_id, attempt=row.attempt,
                             # A running platform's destination may have offered a place: name that one.
                             membership_id=row.membership_id or str(uuid.uuid4()),
                             org_id=row.org_id or str(uuid.uuid4()), org_name="驻武汉党支部",
                             method="STAFF", checked_in_at=(START + timedelta(days=201)).isoformat())
        await consumers.on_checked_in(uow, event, Delivery(event_id="e", tenant=row.placing_tenant_id, subject="s",
                                                           deliveries=1))
        await uow.commit()
    after_check_in = {c.timer: c for c in (await cases(deps, states=[1, 2, 3]))[0] if c.flow_id == flow}
    assert after_check_in["CHECK_IN_OVERDUE"].state is AlertState.CLOSED
    assert after_check_in["CHECK_IN_OVERDUE"].closed_by == "系统"
    assert after_check_in["CERTIFICATE_EXPIRED"].state is AlertState.OPEN
    deps.clock.now = START + timedelta(days=210)  # type: ignore[attr-defined]
    await flow_service.return_flow(deps=deps, principal=ADMIN, flow_id=flow, return_date="",
                                   facts=ReturneeFacts(started_business=False, business_name="",
                                                       joined_reserve_pool=False, elected_village_committee=False,
                                                       village_post="", note=""))
    assert not [c for c in (await cases(deps))[0] if c.flow_id == flow]
