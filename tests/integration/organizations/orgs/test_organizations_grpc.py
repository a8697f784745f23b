"""The organisation tree over gRPC on real PostgreSQL: founding, moving subtrees, dissolving, tenancy."""

from __future__ import annotations

import base64
import uuid

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.integration.conftest import bearer
from tests.support import field_violations

K = pb.OrgKind


@pytest.fixture(scope="module")
async def orgs(platform):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    yield organizations_pb2_grpc.OrganizationsServiceStub(channel)
    await channel.close()


class Tree:
    """Builds orgs in one county with its admin's token."""

    def __init__(self, stub, token: str) -> None:
        self.stub, self.md = stub, bearer(token)

    async def add(self, name: str, kind: int, parent: str = "", **extra: object) -> pb.Org:
        reply = await self.stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind, **extra),
                                          metadata=self.md)
        return reply.org


@pytest.fixture(scope="module")
async def county(orgs, county_token):
    """A small tree in 411526: 县委 → two townships → villages; an external branch in Beijing."""
    tree = Tree(orgs, county_token("411526"))
    root = await tree.add("中共潢川县委员会", K.ORG_KIND_COUNTY_COMMITTEE)
    east = await tree.add("春申街道党工委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root.id)
    west = await tree.add("双柳树镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root.id)
    village = await tree.add("李店村党支部", K.ORG_KIND_VILLAGE_BRANCH, east.id)
    group = await tree.add("电商功能党小组", K.ORG_KIND_FUNCTIONAL_GROUP, village.id)
    beijing = await tree.add("潢川县驻北京流动党员党支部", K.ORG_KIND_EXTERNAL_BRANCH, root.id, city_code="110000",
                             founding_mode=pb.FOUNDING_MODE_HOSTED)
    return tree, {"root": root, "east": east, "west": west, "village": village, "group": group, "beijing": beijing}


async def test_subtree_lists_every_descendant_after_its_parent(county):
    tree, o = county
    reply = await tree.stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["root"].id, page_size=2),
                                            metadata=tree.md)
    seen = [org.id for org in reply.orgs]
    token = reply.next_page_token
    while token:
        page = await tree.stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["root"].id, page_size=2,
                                                                         page_token=token), metadata=tree.md)
        seen += [org.id for org in page.orgs]
        token = page.next_page_token
    assert set(seen) == {org.id for org in o.values()}
    assert seen.index(o["village"].id) < seen.index(o["group"].id)
    assert o["beijing"].city_code == "110000" and o["group"].depth == 4


async def test_moving_a_subtree_keeps_the_tree_consistent(county):
    tree, o = county
    reply = await tree.stub.MoveOrg(pb.MoveOrgRequest(id=o["village"].id, new_parent_id=o["west"].id),
                                    metadata=tree.md)
    assert reply.moved == 2 and reply.org.parent_id == o["west"].id
    ancestors = await tree.stub.ListAncestorOrgs(pb.ListAncestorOrgsRequest(id=o["group"].id), metadata=tree.md)
    assert [a.id for a in ancestors.orgs] == [o["root"].id, o["west"].id, o["village"].id]
    east = await tree.stub.ListChildOrgs(pb.ListChildOrgsRequest(parent_id=o["east"].id), metadata=tree.md)
    assert o["village"].id not in {c.id for c in east.orgs}
    west = await tree.stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["west"].id), metadata=tree.md)
    assert {c.id for c in west.orgs} == {o["west"].id, o["village"].id, o["group"].id}


async def test_an_organisation_cannot_move_under_its_own_descendant(county):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.MoveOrg(pb.MoveOrgRequest(id=o["village"].id, new_parent_id=o["group"].id),
                                metadata=tree.md)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "new_parent_id" in field_violations(caught.value)


async def test_dissolving_a_non_empty_organisation_is_refused_with_a_clear_error(county):
    tree, o = county
    # The west township holds the village moved there above: refused, saying what is left inside.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.DissolveOrg(pb.DissolveOrgRequest(id=o["west"].id, reason="撤并"), metadata=tree.md)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "1 个下级组织" in caught.value.details()
    still = await tree.stub.GetOrg(pb.GetOrgRequest(id=o["west"].id), metadata=tree.md)
    assert still.org.status == pb.ORG_STATUS_ACTIVE


async def test_dissolving_needs_a_reason(county):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.DissolveOrg(pb.DissolveOrgRequest(id=o["east"].id, reason="  "), metadata=tree.md)
    assert "reason" in field_violations(caught.value)


async def test_an_empty_organisation_is_dissolved_and_hidden_from_children(county):
    tree, o = county
    extra = await tree.add("临时党支部（待撤销）", K.ORG_KIND_TEMPORARY_BRANCH, o["root"].id)
    reply = await tree.stub.DissolveOrg(pb.DissolveOrgRequest(id=extra.id, reason="任务完成"), metadata=tree.md)
    assert reply.org.status == pb.ORG_STATUS_DISSOLVED
    children = await tree.stub.ListChildOrgs(pb.ListChildOrgsRequest(parent_id=o["root"].id), metadata=tree.md)
    assert extra.id not in {c.id for c in children.orgs}


async def test_a_kind_under_the_wrong_parent_names_parent_id(county):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.add("错误的村支部", K.ORG_KIND_VILLAGE_BRANCH, o["root"].id)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parent_id" in field_violations(caught.value)


async def test_two_county_committees_in_one_county_are_refused(county):
    tree, _ = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.add("第二个县委", K.ORG_KIND_COUNTY_COMMITTEE)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_foreign_county_org_is_not_found(county, county_token):
    tree, o = county
    other = bearer(county_token("411527"))
    for call in (
        tree.stub.GetOrg(pb.GetOrgRequest(id=o["root"].id), metadata=other),
        tree.stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["root"].id), metadata=other),
        tree.stub.RenameOrg(pb.RenameOrgRequest(id=o["root"].id, name="x"), metadata=other),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.CreateOrg(
            pb.CreateOrgRequest(parent_id=o["root"].id, name="渗透", kind=K.ORG_KIND_ONLINE_BRANCH), metadata=other
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # the parent does not exist for that county


async def test_analysts_cannot_shape_the_tree(county, issuer):
    tree, o = county
    token, _ = issuer.issue(user="p", role=Role.PROVINCE_ANALYST, scope="41")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.RenameOrg(pb.RenameOrgRequest(id=o["root"].id, name="x"), metadata=bearer(token))
    assert caught.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


async def test_a_forged_subtree_page_token_is_invalid_argument(county):
    tree, o = county
    forged = base64.urlsafe_b64encode(b'["not a path;drop"]').decode().rstrip("=")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["root"].id, page_token=forged),
                                        metadata=tree.md)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_seven_haves_checklist_counts_completeness(county):
    tree, o = county
    branch = o["beijing"].id
    empty = await tree.stub.GetChecklist(pb.GetChecklistRequest(org_id=branch), metadata=tree.md)
    assert len(empty.entries) == 7 and empty.completeness_percent == 0
    for item in (pb.CHECKLIST_ITEM_ACTIVITY_ROOM, pb.CHECKLIST_ITEM_SIGN_AND_FLAG, pb.CHECKLIST_ITEM_RULES):
        reply = await tree.stub.UpdateChecklistItem(pb.UpdateChecklistItemRequest(
            org_id=branch, item=item, done=True, evidence="2026年11月实地查看，有照片"), metadata=tree.md)
    assert reply.completeness_percent == 43
    room = next(e for e in reply.entries if e.item == pb.CHECKLIST_ITEM_ACTIVITY_ROOM)
    assert room.label == "有活动室" and room.done and "照片" in room.evidence


async def test_the_checklist_is_only_for_external_branches_and_checks_its_item(county, county_token):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.GetChecklist(pb.GetChecklistRequest(org_id=o["west"].id), metadata=tree.md)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.UpdateChecklistItem(pb.UpdateChecklistItemRequest(org_id=o["beijing"].id, item=42),
                                            metadata=tree.md)
    assert "item" in field_violations(caught.value)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.GetChecklist(pb.GetChecklistRequest(org_id=o["beijing"].id),
                                     metadata=bearer(county_token("411527")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# --- officers and appointments

P = pb.OfficerPosition


async def test_appointments_keep_history_and_one_sitting_secretary(county, admin_conn_factory):
    tree, o = county
    first = (await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
        org_id=o["west"].id, position=P.OFFICER_POSITION_SECRETARY, name="王建国", phone="13812345678",
        start_date="2021-03-01"), metadata=tree.md)).appointment
    assert first.phone_masked == "138****5678" and first.org_name == "双柳树镇党委"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
            org_id=o["west"].id, position=P.OFFICER_POSITION_SECRETARY, name="李红", phone="13912345678",
            start_date="2024-01-01"), metadata=tree.md)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    ended = await tree.stub.EndAppointment(pb.EndAppointmentRequest(appointment_id=first.id, end_date="2024-01-01"),
                                           metadata=tree.md)
    assert ended.appointment.end_date == "2024-01-01"
    second = (await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
        org_id=o["west"].id, position=P.OFFICER_POSITION_SECRETARY, name="李红", phone="13912345678",
        start_date="2024-01-01"), metadata=tree.md)).appointment
    current = await tree.stub.ListAppointments(pb.ListAppointmentsRequest(org_id=o["west"].id), metadata=tree.md)
    history = await tree.stub.ListAppointments(pb.ListAppointmentsRequest(org_id=o["west"].id, include_history=True),
                                               metadata=tree.md)
    assert [a.id for a in current.appointments] == [second.id]
    assert [a.id for a in history.appointments] == [second.id, first.id]
    conn = await admin_conn_factory("organizations")
    stored = await conn.fetchrow("SELECT phone_enc, phone_masked FROM officers WHERE id = $1::uuid",
                                 first.officer_id)
    assert b"13812345678" not in bytes(stored["phone_enc"]) and stored["phone_masked"] == "138****5678"


async def test_a_guidance_officer_is_dispatched_to_an_external_branch_not_a_village(county):
    tree, o = county
    sent = await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
        org_id=o["beijing"].id, position=P.OFFICER_POSITION_GUIDANCE_OFFICER, name="赵指导",
        phone="15012345678", start_date="2025-05-01"), metadata=tree.md)
    assert sent.appointment.city_code == "110000"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
            org_id=o["village"].id, position=P.OFFICER_POSITION_GUIDANCE_OFFICER,
            officer_id=sent.appointment.officer_id, start_date="2025-05-01"), metadata=tree.md)
    assert "position" in field_violations(caught.value)
    county_wide = await tree.stub.ListAppointments(pb.ListAppointmentsRequest(
        positions=[P.OFFICER_POSITION_GUIDANCE_OFFICER]), metadata=tree.md)
    assert sent.appointment.id in {a.id for a in county_wide.appointments}


async def test_bad_officer_input_names_every_field(county):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
            org_id=o["west"].id, position=P.OFFICER_POSITION_LIAISON, name="", phone="123",
            start_date="2025-01-01"), metadata=tree.md)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"name", "phone"} <= set(field_violations(caught.value))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
            org_id=o["west"].id, position=P.OFFICER_POSITION_DEPUTY_SECRETARY, name="张三", phone="13812345678",
            start_date="2999-01-01"), metadata=tree.md)
    assert "start_date" in field_violations(caught.value)


async def test_another_countys_officers_are_not_found(county, county_token):
    tree, o = county
    other = bearer(county_token("411527"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.ListAppointments(pb.ListAppointmentsRequest(org_id=o["west"].id), metadata=other)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    mine = await tree.stub.ListAppointments(pb.ListAppointmentsRequest(include_history=True), metadata=other)
    assert all(a.org_id != o["west"].id for a in mine.appointments)



# --- grids

async def test_a_station_draws_grids_led_by_an_officer(county, county_token, admin_conn_factory):
    tree, o = county
    station = await tree.add("潢川县驻城党建工作站", K.ORG_KIND_TOWN_STATION, o["root"].id)
    leader = (await tree.stub.AppointOfficer(pb.AppointOfficerRequest(
        org_id=station.id, position=P.OFFICER_POSITION_GRID_LEADER, name="刘网格", phone="13700001111",
        start_date="2025-01-01"), metadata=tree.md)).appointment
    member = "6f1d1c8e-8a51-4f0e-9d7e-0d9b1c2a3b4c"
    # A member the county holds (as the registry's MemberRegistered told it).
    await (await admin_conn_factory("organizations")).execute(
        "INSERT INTO county_members (tenant_id, member_id) VALUES ('411526', $1) ON CONFLICT DO NOTHING",
        uuid.UUID(member))
    grid = (await tree.stub.CreateGrid(pb.CreateGridRequest(
        org_id=station.id, name="第一网格", leader_officer_id=leader.officer_id,
        addresses=["春申路", "龙湖小区", "春申路"], member_ids=[member]), metadata=tree.md)).grid
    assert (grid.leader_name, grid.leader_phone_masked) == ("刘网格", "137****1111")
    assert list(grid.addresses) == ["春申路", "龙湖小区"] and list(grid.member_ids) == [member]
    listed = await tree.stub.ListGrids(pb.ListGridsRequest(org_id=station.id), metadata=tree.md)
    assert [g.name for g in listed.grids] == ["第一网格"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.ListGrids(pb.ListGridsRequest(org_id=station.id), metadata=bearer(county_token("411527")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_grids_only_under_stations_and_townships_with_valid_members(county):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.CreateGrid(pb.CreateGridRequest(org_id=o["village"].id, name="村网格", member_ids=["nope"]),
                                   metadata=tree.md)
    assert {"org_id", "member_ids"} <= set(field_violations(caught.value))



# --- 三会一课 and 主题党日

async def test_a_theme_day_with_a_mobile_guest_is_recorded_and_announced(county, admin_conn_factory):
    from datetime import UTC, datetime

    from google.protobuf.timestamp_pb2 import Timestamp

    tree, o = county
    start = Timestamp()
    start.FromDatetime(datetime(2026, 7, 1, 9, 30, tzinfo=UTC))
    meeting = (await tree.stub.ScheduleMeeting(pb.ScheduleMeetingRequest(
        org_id=o["beijing"].id, type=pb.MEETING_TYPE_THEME_DAY, title="七一主题党日", start_time=start,
        place="北京市朝阳区流动党员活动室", agenda="重温入党誓词"), metadata=tree.md)).meeting
    own, guest = "0b6c6a3e-1a57-4e3b-8d1f-3a2b1c0d9e8f", "5d2f7c1a-9e4b-4f6a-b3c8-2e1d0a9b8c7d"
    conn = await admin_conn_factory("organizations")
    # The county holds its own member (the registry announced them) and the guest is placed at the branch.
    await conn.execute("INSERT INTO county_members (tenant_id, member_id) VALUES ('411526', $1)"
                       " ON CONFLICT DO NOTHING", uuid.UUID(own))
    await conn.execute(
        "INSERT INTO memberships (tenant_id, id, origin_tenant_id, flow_id, member_id, attempt, member_name,"
        " destination_code, org_id, status) VALUES ('411526', $1, '411525', $2, $3, 1, '流动党员', '110000', $4, 2)"
        " ON CONFLICT DO NOTHING", uuid.uuid4(), uuid.uuid4(), uuid.UUID(guest), uuid.UUID(o["beijing"].id))
    reply = await tree.stub.RecordAttendance(pb.RecordAttendanceRequest(meeting_id=meeting.id, entries=[
        pb.AttendanceEntry(member_id=own, home_tenant_id="411526", status=pb.ATTENDANCE_STATUS_PRESENT),
        pb.AttendanceEntry(member_id=guest, home_tenant_id="411525", status=pb.ATTENDANCE_STATUS_PRESENT),
    ]), metadata=tree.md)
    assert (reply.meeting.present, reply.meeting.guests) == (2, 1)
    mine = await tree.stub.ListMemberAttendance(pb.ListMemberAttendanceRequest(member_id=guest), metadata=tree.md)
    assert [(a.meeting.id, a.guest) for a in mine.attendance] == [(meeting.id, True)]
    subjects = await conn.fetch("SELECT subject FROM outbox WHERE tenant_id = '411526' AND event_type LIKE"
                                " 'jinqiao.events.v1.%' AND subject LIKE '%attendance_recorded' ORDER BY id DESC"
                                " LIMIT 2")
    assert [r["subject"] for r in subjects] == ["jinqiao.411526.organizations.attendance_recorded"] * 2
    listed = await tree.stub.ListMeetings(pb.ListMeetingsRequest(org_id=o["beijing"].id), metadata=tree.md)
    assert meeting.id in {m.id for m in listed.meetings}


async def test_a_meeting_needs_a_place_or_an_https_link(county):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.ScheduleMeeting(pb.ScheduleMeetingRequest(org_id=o["beijing"].id, type=7, title=""),
                                        metadata=tree.md)
    assert {"type", "title", "start_time", "place"} <= set(field_violations(caught.value))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.ScheduleMeeting(pb.ScheduleMeetingRequest(
            org_id=o["beijing"].id, type=pb.MEETING_TYPE_PARTY_LECTURE, title="党课",
            online_link="http://insecure.example/x"), metadata=tree.md)
    assert "online_link" in field_violations(caught.value)


async def test_attendance_for_another_countys_meeting_is_not_found(county, county_token):
    tree, o = county
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tree.stub.ListMeetings(pb.ListMeetingsRequest(org_id=o["beijing"].id),
                                     metadata=bearer(county_token("411527")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
