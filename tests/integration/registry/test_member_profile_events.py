"""registry's MemberProfileChanged (issue 14): the full current fact set of a member, queued in the same transaction
as the change that moved it (real PostgreSQL; read from registry's outbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from jinqiao.events.v1 import registry_events_pb2 as registry_events
from jinqiao.kit import events as ev
from jinqiao.kit import pii
from jinqiao.kit.crypto import FieldCipher
from jinqiao.registry.v1 import flows_pb2, registry_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import member_request

COUNTY = "650542"
ELSEWHERE = "650543"
TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
def md(county_token: Callable[[str], str]) -> Any:
    return bearer(county_token(COUNTY))


@pytest.fixture(scope="module")
def cipher(settings_for: Callable[[str], Any]) -> FieldCipher:
    return FieldCipher.from_settings(settings_for("registry"))


def _year(cipher: FieldCipher, profile: registry_events.MemberProfileChanged) -> int:
    """The sealed birth year, opened as the desk opens it (bound to the county and the member)."""
    return int(cipher.decrypt(profile.birth_year_sealed, tenant=profile.meta.tenant_id, table=pii.PROFILE_SEAL_TABLE,
                              column=pii.PROFILE_SEAL_COLUMN, row=profile.member_id))


async def _profiles(conn: Any, member_id: str) -> list[registry_events.MemberProfileChanged]:
    """The member's MemberProfileChanged events in the county's outbox, oldest first."""
    rows = await conn.fetch("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_type = $2", COUNTY,
                            ev.event_type(registry_events.MemberProfileChanged))
    found = [registry_events.MemberProfileChanged.FromString(r["payload"]) for r in rows]
    mine = [e for e in found if e.member_id == member_id]
    return sorted(mine, key=lambda e: e.meta.occur_time.ToDatetime())


async def test_a_created_member_publishes_facts_with_the_birth_year_sealed(platform, md, admin_conn_factory, cipher):
    conn = await admin_conn_factory("registry")
    request = member_request(COUNTY, name="阿依古丽", township="城关镇", join_date="2019-07-01",
                             membership_status=registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY)
    member = (await platform.registry_stub.CreateMember(request, metadata=md)).member
    [profile] = await _profiles(conn, member.id)
    assert (profile.name, profile.township, profile.membership_status, profile.join_date) == (
        "阿依古丽", "城关镇", "MEMBERSHIP_STATUS_PROBATIONARY", "2019-07-01")
    assert _year(cipher, profile) == int(request.id_number[6:10])
    assert (profile.latest_grade, profile.latest_grade_year, profile.returned, profile.active) == ("", 0, False, True)
    assert profile.meta.tenant_id == COUNTY and profile.meta.aggregate_id == member.id
    # Neither the full birth date, nor the year in the clear, nor the ID number travels.
    payload = profile.SerializeToString()
    assert request.id_number[6:10].encode() not in payload
    assert request.id_number[6:14].encode() not in payload and request.id_number.encode() not in payload
    assert member.id_number_masked.encode() not in payload


async def test_an_update_of_a_fact_publishes_the_full_set_and_other_fields_publish_nothing(platform, md,
                                                                                           admin_conn_factory,
                                                                                           cipher):
    conn = await admin_conn_factory("registry")
    registry = platform.registry_stub
    member = (await registry.CreateMember(member_request(
        COUNTY, membership_status=registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY, join_date="2020-06-30"),
        metadata=md)).member
    updated = (await registry.UpdateMember(registry_pb2.UpdateMemberRequest(
        id=member.id, version=member.version, update_mask=["membership_status"],
        membership_status=registry_pb2.MEMBERSHIP_STATUS_FULL), metadata=md)).member
    first, second = await _profiles(conn, member.id)
    assert (first.membership_status, second.membership_status) == (
        "MEMBERSHIP_STATUS_PROBATIONARY", "MEMBERSHIP_STATUS_FULL")
    assert second.meta.occur_time.ToDatetime() > first.meta.occur_time.ToDatetime()
    # The full set, not only what changed.
    assert (second.name, second.join_date, _year(cipher, second), second.active) == (
        first.name, "2020-06-30", _year(cipher, first), True)
    await registry.UpdateMember(registry_pb2.UpdateMemberRequest(
        id=member.id, version=updated.version, update_mask=["village"], village="东关村"), metadata=md)
    assert len(await _profiles(conn, member.id)) == 2


async def test_a_return_marks_the_member_returned_and_a_new_flow_clears_it(platform, md, admin_conn_factory):
    conn = await admin_conn_factory("registry")
    registry = platform.registry_stub
    member = (await registry.CreateMember(member_request(COUNTY), metadata=md)).member

    async def away() -> str:
        return (await registry.RegisterFlow(flows_pb2.RegisterFlowRequest(
            member_id=member.id, destination_code=ELSEWHERE, address="新城路 8 号", industry="物流",
            start_date=TODAY, expected_months=6), metadata=md)).flow.id

    flow = await away()
    # Away for the first time: nothing the facts say changed.
    assert [p.returned for p in await _profiles(conn, member.id)] == [False]
    await registry.ReturnFlow(flows_pb2.ReturnFlowRequest(id=flow, return_date=TODAY), metadata=md)
    assert [p.returned for p in await _profiles(conn, member.id)] == [False, True]
    await away()
    assert [p.returned for p in await _profiles(conn, member.id)] == [False, True, False]


async def test_a_home_assessment_alone_is_no_complete_evaluation(platform, md, admin_conn_factory):
    conn = await admin_conn_factory("registry")
    registry = platform.registry_stub
    member = (await registry.CreateMember(member_request(COUNTY), metadata=md)).member
    await registry.RecordHomeAssessment(flows_pb2.RecordHomeAssessmentRequest(
        member_id=member.id, year=date.today().year, grade=flows_pb2.GRADE_EXCELLENT), metadata=md)
    # One side of 双向评议 is provisional: the facts did not change, so nothing more is published.
    assert [(p.latest_grade, p.latest_grade_year) for p in await _profiles(conn, member.id)] == [("", 0)]


async def test_a_member_transferred_out_is_published_inactive_and_registered_with_facts_at_the_destination(
        platform, md, admin_conn_factory, cipher):
    conn = await admin_conn_factory("registry")
    registry = platform.registry_stub
    request = member_request(COUNTY, join_date="2008-07-01")
    member = (await registry.CreateMember(request, metadata=md)).member
    flow = (await registry.RegisterFlow(flows_pb2.RegisterFlowRequest(
        member_id=member.id, destination_code=ELSEWHERE, address="新城路 9 号", industry="装修",
        start_date=TODAY, expected_months=6), metadata=md)).flow
    await registry.TransferFlow(flows_pb2.TransferFlowRequest(id=flow.id, transfer_date=TODAY), metadata=md)
    assert [p.active for p in await _profiles(conn, member.id)] == [True, False]

    async def registered_there() -> list[registry_events.MemberProfileChanged]:
        rows = await conn.fetch("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_type = $2", ELSEWHERE,
                                ev.event_type(registry_events.MemberProfileChanged))
        found = [registry_events.MemberProfileChanged.FromString(r["payload"]) for r in rows]
        return [p for p in found if p.name == request.name and p.join_date == "2008-07-01"
                and _year(cipher, p) == int(request.id_number[6:10])]

    [there] = await eventually(registered_there)
    assert there.active and there.member_id != member.id and there.meta.tenant_id == ELSEWHERE
