"""The desk's member facts (issue 14), learned only from registry's MemberProfileChanged (real PostgreSQL and
JetStream): created, promoted 预备→正式, 双向评议 completed on both sides, 回归; older events never win."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.replica import consumers, service
from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit import pii
from jinqiao.kit.broker import Delivery
from jinqiao.kit.crypto import FieldCipher
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.registry.v1 import flows_pb2, registry_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import member_request

K = pb.OrgKind
ORIGIN = "650540"
PLACING = "650541"
OTHER = "650544"
TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
def md(county_token: Callable[[str], str]) -> dict[str, Any]:
    return {code: bearer(county_token(code)) for code in (ORIGIN, PLACING, OTHER)}


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
async def tree(platform: Any, md: dict[str, Any]) -> dict[str, str]:
    """The origin's home branch; in the placing county a station with a 临时党支部 that takes the flow."""
    orgs = platform.organizations_stub
    home_root = await _root(orgs, md[ORIGIN], "中共戊县委员会")
    town = await _add(orgs, md[ORIGIN], home_root, "戊县城关镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE)
    root = await _root(orgs, md[PLACING], "中共己县委员会")
    station = await _add(orgs, md[PLACING], root, "驻城党建工作站", K.ORG_KIND_TOWN_STATION)
    return {"home_branch": await _add(orgs, md[ORIGIN], town, "戊县北关村党支部", K.ORG_KIND_VILLAGE_BRANCH),
            "placing_temp": await _add(orgs, md[PLACING], station, "工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH)}


async def _facts(platform: Any, member_id: str, tenant: str = ORIGIN) -> Any:
    async with platform.desk.db.unit_of_work(tenant=tenant) as uow:
        return await service.member_facts(uow, member_id=member_id)


async def _handle(platform: Any, handler: Any, event: Any, *, tenant: str = ORIGIN, publisher: str = ORIGIN) -> None:
    """Run a consumer's handler as the broker would, in ``tenant``'s unit of work, with the verified publisher."""
    delivery = Delivery(event_id=str(uuid.uuid4()), tenant=publisher, subject="test", deliveries=1)
    async with platform.desk.db.unit_of_work(tenant=tenant) as uow:
        await handler(uow, event, delivery)
        await uow.commit()


@pytest.fixture(scope="module")
def cipher(settings_for: Callable[[str], Any]) -> FieldCipher:
    return FieldCipher.from_settings(settings_for("desk"))


@pytest.fixture(scope="module")
def on_profile(platform: Any, cipher: FieldCipher) -> Any:
    """The desk's MemberProfileChanged handler, with the keyring that opens the sealed birth year."""
    return consumers.on_member_profile_changed(DeskDeps(db=platform.desk.db, cipher=cipher))


def _profile(member_id: str, *, at: datetime, cipher: FieldCipher, tenant: str = ORIGIN, birth_year: object = 1980,
             sealed_for: str | None = None, **fields: Any) -> registry_events.MemberProfileChanged:
    """The event as registry publishes it: the birth year sealed for ``sealed_for`` (default: this member)."""
    values: dict[str, Any] = {"name": "赵红梅", "township": "城关镇", "membership_status": "MEMBERSHIP_STATUS_FULL",
                              "join_date": "2011-07-01", "active": True}
    values.update(fields)
    event = registry_events.MemberProfileChanged(member_id=member_id, **values)
    event.birth_year_sealed = cipher.encrypt(str(birth_year), tenant=tenant, table=pii.PROFILE_SEAL_TABLE,
                                             column=pii.PROFILE_SEAL_COLUMN, row=sealed_for or member_id)
    event.meta.tenant_id = tenant
    event.meta.occur_time.FromDatetime(at)
    return event


async def test_member_facts_follow_creation_promotion_evaluation_and_return(platform, tree, md, admin_conn_factory):
    registry, orgs = platform.registry_stub, platform.organizations_stub
    request = member_request(ORIGIN, name="古丽娜", township="城关镇", join_date="2021-07-01",
                             home_branch_id=tree["home_branch"],
                             membership_status=registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY)
    member = (await registry.CreateMember(request, metadata=md[ORIGIN])).member

    async def learned() -> Any:
        facts = await _facts(platform, member.id)
        return facts if facts is not None and facts.facts_at is not None else None

    facts = await eventually(learned)
    assert (facts.name, facts.home_org_id, facts.township, facts.active) == (
        "古丽娜", tree["home_branch"], "城关镇", True)
    assert (facts.membership_status, facts.join_date, facts.birth_year) == (
        "MEMBERSHIP_STATUS_PROBATIONARY", date(2021, 7, 1), int(request.id_number[6:10]))
    assert (facts.latest_grade, facts.latest_grade_year, facts.returned) == ("", 0, False)
    # The desk holds a birth year, never a birth date.
    conn = await admin_conn_factory("desk")
    columns = {r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'desk_members'")}
    assert "birth_year" in columns and not {c for c in columns if "birth_date" in c or "id_number" in c}

    # 预备 → 正式 (转正).
    await registry.UpdateMember(registry_pb2.UpdateMemberRequest(
        id=member.id, version=member.version, update_mask=["membership_status"],
        membership_status=registry_pb2.MEMBERSHIP_STATUS_FULL), metadata=md[ORIGIN])

    async def promoted() -> Any:
        found = await _facts(platform, member.id)
        return found if found.membership_status == "MEMBERSHIP_STATUS_FULL" else None

    assert (await eventually(promoted)).facts_at > facts.facts_at

    # 双向评议: the placing county's side (after 报到) and the home branch's side; the lower grade is the merged one.
    flow = (await registry.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=PLACING, address="己县新城路 18 号", industry="餐饮",
        start_date=TODAY, expected_months=12), metadata=md[ORIGIN])).flow

    async def offered() -> Any:
        page = await orgs.ListMemberships(pb.ListMembershipsRequest(page_size=200), metadata=md[PLACING])
        return next((m for m in page.memberships if m.flow_id == flow.id), None)

    held = await eventually(offered)
    await orgs.CheckInMembership(pb.CheckInMembershipRequest(id=held.id), metadata=md[PLACING])
    year = date.today().year
    await orgs.AssessMembership(pb.AssessMembershipRequest(membership_id=held.id, year=year, grade="COMPETENT",
                                                           comment="积极参加组织生活"), metadata=md[PLACING])

    async def destination_side_in() -> Any:
        evaluations = (await registry.ListEvaluations(flows_pb2.ListEvaluationsRequest(member_id=member.id),
                                                      metadata=md[ORIGIN])).evaluations
        return any(e.year == year and e.destination_grade for e in evaluations)

    await eventually(destination_side_in)
    assert (await _facts(platform, member.id)).latest_grade == ""
    await registry.RecordHomeAssessment(flows_pb2.RecordHomeAssessmentRequest(
        member_id=member.id, year=year, grade=flows_pb2.GRADE_EXCELLENT), metadata=md[ORIGIN])

    async def graded() -> Any:
        found = await _facts(platform, member.id)
        return found if found.latest_grade else None

    assert ((g := await eventually(graded)).latest_grade, g.latest_grade_year) == ("COMPETENT", year)
    assert not g.returned

    # 回归.
    await registry.ReturnFlow(flows_pb2.ReturnFlowRequest(id=flow.id, return_date=TODAY), metadata=md[ORIGIN])

    async def home() -> Any:
        found = await _facts(platform, member.id)
        return found if found.returned else None

    back = await eventually(home)
    assert (back.latest_grade, back.membership_status, back.active) == ("COMPETENT", "MEMBERSHIP_STATUS_FULL", True)


async def test_an_older_profile_replayed_after_a_newer_one_changes_nothing(platform, cipher, on_profile):
    member_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    newer = _profile(member_id, cipher=cipher, at=now, latest_grade="EXCELLENT", latest_grade_year=2025,
                     returned=True)
    older = _profile(member_id, cipher=cipher, at=now - timedelta(hours=1),
                     membership_status="MEMBERSHIP_STATUS_PROBATIONARY", name="旧名字")
    # A member the replica does not know yet gets a row from the profile alone.
    await _handle(platform, on_profile, newer)
    first = await _facts(platform, member_id)
    assert first is not None and (first.name, first.latest_grade, first.returned) == ("赵红梅", "EXCELLENT", True)
    await _handle(platform, on_profile, older)
    await _handle(platform, on_profile, newer)
    assert await _facts(platform, member_id) == first
    # A MemberRegistered arriving late wipes neither the facts nor the newer name.
    late = registry_events.MemberRegistered(member_id=member_id, name="旧名字", township="旧镇",
                                            membership_status="PROBATIONARY")
    await _handle(platform, consumers.on_member_registered, late)
    assert await _facts(platform, member_id) == first


async def test_a_transferred_member_stays_inactive_whatever_profile_arrives_later(platform, cipher, on_profile):
    member_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await _handle(platform, on_profile, _profile(member_id, cipher=cipher, at=now - timedelta(minutes=5)))
    await _handle(platform, consumers.on_member_transferred,
                  registry_events.MemberTransferred(member_id=member_id, flow_id=str(uuid.uuid4())))
    await _handle(platform, on_profile, _profile(member_id, cipher=cipher, at=now, name="新名字"))
    found = await _facts(platform, member_id)
    assert found is not None and (found.name, found.active) == ("新名字", False)


async def test_a_profile_about_another_county_or_from_another_publisher_changes_nothing(platform, cipher, on_profile):
    member_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    # Published by another county (the verified subject), or claiming another county in its meta: both skipped.
    await _handle(platform, on_profile, _profile(member_id, cipher=cipher, at=now), publisher=OTHER)
    await _handle(platform, on_profile, _profile(member_id, cipher=cipher, at=now, tenant=OTHER))
    assert await _facts(platform, member_id) is None
    assert await _facts(platform, member_id, tenant=OTHER) is None


async def test_unknown_status_grade_and_dates_are_kept_as_unknown(platform, cipher, on_profile):
    member_id = str(uuid.uuid4())
    event = _profile(member_id, cipher=cipher, at=datetime.now(UTC), membership_status="ALMOST", join_date="2020-13-40",
                     birth_year=-5, latest_grade="SUPERB", latest_grade_year=2024, home_org_id="not-a-uuid")
    await _handle(platform, on_profile, event)
    found = await _facts(platform, member_id)
    assert found is not None
    assert (found.membership_status, found.join_date, found.birth_year, found.latest_grade,
            found.latest_grade_year, found.home_org_id) == ("", None, 0, "", 0, None)


async def test_a_birth_year_sealed_for_another_member_does_not_open_and_stays_unknown(platform, cipher, on_profile):
    member_id = str(uuid.uuid4())
    await _handle(platform, on_profile, _profile(member_id, cipher=cipher, at=datetime.now(UTC),
                                                 sealed_for=str(uuid.uuid4())))
    found = await _facts(platform, member_id)
    assert found is not None and found.birth_year == 0 and found.name == "赵红梅"
