"""The directory: organizations' and registry's events kept per county (in any order, any number of times), and the
office a notice reaches, walking up the org tree while an org has nobody in the counted positions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from jinqiao.events.v1 import organizations_events_pb2 as oe
from jinqiao.events.v1 import registry_events_pb2 as re_
from jinqiao.kit.crypto import DecryptionError
from jinqiao.kit.pii import OFFICER_SEAL_COLUMN, OFFICER_SEAL_TABLE
from jinqiao.notifications.directory import service as directory
from jinqiao.notifications.directory.domain import Audience
from jinqiao.notifications.directory.models import officer_from_record
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.integration.conftest import bearer, eventually
from tests.integration.notifications.conftest import build_event

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


def _id() -> str:
    return str(uuid.uuid4())


def org_created(tenant: str, org_id: str, parent_id: str, kind: str, name: str, at: datetime = T0):
    """OrgCreated as organizations publishes it."""
    return build_event(oe.OrgCreated(org_id=org_id, parent_id=parent_id, kind=kind, name=name),
                       service="organizations", tenant=tenant, aggregate_id=org_id, at=at)


def appointed(deps, tenant: str, appointment_id: str, org_id: str, position: str, *, name: str = "干部",
              phone: str = "13800000000", at: datetime = T0, officer_id: str | None = None):
    """OfficerAppointed with the phone sealed as organizations seals it (the county and the appointment)."""
    sealed = deps.cipher.encrypt(phone, tenant=tenant, table=OFFICER_SEAL_TABLE, column=OFFICER_SEAL_COLUMN,
                                 row=appointment_id)
    return build_event(oe.OfficerAppointed(appointment_id=appointment_id, officer_id=officer_id or _id(),
                                           org_id=org_id, position=position, officer_name=name, phone_sealed=sealed,
                                           phone_masked=f"{phone[:3]}****{phone[-4:]}", start_date="2026-01-01"),
                       service="organizations", tenant=tenant, aggregate_id=appointment_id, at=at)


def ended(tenant: str, appointment_id: str, org_id: str, position: str, *, officer_id: str,
          at: datetime = T0 + timedelta(days=1)):
    """OfficerAppointmentEnded."""
    return build_event(oe.OfficerAppointmentEnded(appointment_id=appointment_id, officer_id=officer_id,
                                                  org_id=org_id, position=position, end_date="2026-03-02"),
                       service="organizations", tenant=tenant, aggregate_id=appointment_id, at=at, version=2)


async def _resolve(deps, tenant: str, org_id: str | None, audience: Audience):
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        return await directory.resolve(uow, org_id=org_id, audience=audience)


async def test_an_overdue_walk_climbs_from_the_liaison_to_the_township_to_the_county(publish, make_deps):
    county = "650600"
    deps = make_deps()
    root, town, village = _id(), _id(), _id()
    liaison, secretary = _id(), _id()
    liaison_officer, secretary_officer = _id(), _id()
    await publish([org_created(county, root, "", "COUNTY_COMMITTEE", "某县委员会"),
                   org_created(county, town, root, "TOWNSHIP_COMMITTEE", "段集镇党委"),
                   org_created(county, village, town, "VILLAGE_BRANCH", "段集镇某村党支部")])
    await publish([appointed(deps, county, liaison, village, "LIAISON", name="刘联络", officer_id=liaison_officer),
                   appointed(deps, county, secretary, town, "SECRETARY", name="张书记",
                             officer_id=secretary_officer)])

    recipient, steps = await _resolve(deps, county, village, Audience.CONTACT)
    assert (recipient.address, recipient.tenant, steps) == (f"seat:branch_secretary:{village}", county, 0)
    assert recipient.label == "段集镇某村党支部联络员" and recipient.org_id == village
    assert [(o.name, o.position) for o in recipient.officers] == [("刘联络", "LIAISON")]

    # The liaison leaves: the branch has nobody, so its township committee hears of it.
    await publish([ended(county, liaison, village, "LIAISON", officer_id=liaison_officer)])
    recipient, steps = await _resolve(deps, county, village, Audience.CONTACT)
    assert (recipient.address, recipient.label, steps) == (f"seat:township_officer:{town}", "段集镇党委", 1)
    assert [o.name for o in recipient.officers] == ["张书记"]

    # The township's secretary leaves too: the county department, two steps up.
    await publish([ended(county, secretary, town, "SECRETARY", officer_id=secretary_officer)])
    recipient, steps = await _resolve(deps, county, village, Audience.CONTACT)
    assert (recipient.address, recipient.label, recipient.org_id, steps) == (
        f"seat:county_admin:{county}", "县委组织部", "", 2)

    async with deps.db.unit_of_work(tenant=county) as uow:
        assert await directory.resolve_above(uow, org_id=village) == (recipient, None)
        assert (await directory.org(uow, org_id=town)).name == "段集镇党委"


async def test_resolve_above_names_the_next_office_with_somebody(publish, make_deps):
    county = "650607"
    deps = make_deps()
    root, town, village = _id(), _id(), _id()
    await publish([org_created(county, root, "", "COUNTY_COMMITTEE", "某县委员会"),
                   org_created(county, town, root, "TOWNSHIP_COMMITTEE", "石桥镇党委"),
                   org_created(county, village, town, "VILLAGE_BRANCH", "石桥镇某村党支部")])
    await publish([appointed(deps, county, _id(), town, "ORGANIZATION_COMMITTEE_MEMBER"),
                   appointed(deps, county, _id(), village, "SECRETARY")])
    async with deps.db.unit_of_work(tenant=county) as uow:
        above, org_id = await directory.resolve_above(uow, org_id=village)
        assert (above.address, org_id) == (f"seat:township_officer:{town}", town)
        top, org_id = await directory.resolve_above(uow, org_id=town)
        assert (top.address, org_id) == (f"seat:county_admin:{county}", None)
        assert (await directory.resolve_above(uow, org_id=None))[1] is None


async def test_an_unknown_org_and_another_countys_org_reach_the_county_seat(publish, make_deps):
    deps = make_deps()
    village = _id()
    await publish([org_created("650606", village, "", "VILLAGE_BRANCH", "某村党支部")])
    await publish([appointed(deps, "650606", _id(), village, "SECRETARY")])
    assert (await _resolve(deps, "650606", village, Audience.BRANCH))[0].address == f"seat:branch_secretary:{village}"
    # The same org seen from another county is not there (tenancy): that county's own department.
    recipient, steps = await _resolve(deps, "650608", village, Audience.BRANCH)
    assert (recipient.address, recipient.tenant, steps) == ("seat:county_admin:650608", "650608", 1)
    assert (await _resolve(deps, "650606", None, Audience.CONTACT)) == (recipient.__class__(
        address="seat:county_admin:650606", tenant="650606", label="县委组织部"), 0)
    assert (await _resolve(deps, "650606", "not-an-org", Audience.STATION))[0].address == "seat:county_admin:650606"
    async with deps.db.unit_of_work(tenant="650608") as uow:
        assert await directory.org(uow, org_id=village) is None


async def test_events_out_of_order_or_twice_converge(publish, make_deps):
    county = "650602"
    deps = make_deps()
    root, old_town, new_town, village = _id(), _id(), _id(), _id()
    await publish([org_created(county, root, "", "COUNTY_COMMITTEE", "某县委员会"),
                   org_created(county, old_town, root, "TOWNSHIP_COMMITTEE", "旧镇党委"),
                   org_created(county, new_town, root, "TOWNSHIP_COMMITTEE", "新镇党委")], twice=True)
    # The move (later) is handled before the creation (earlier): the creation must not undo it.
    await publish([build_event(oe.OrgMoved(org_id=village, old_parent_id=old_town, new_parent_id=new_town),
                               service="organizations", tenant=county, aggregate_id=village,
                               at=T0 + timedelta(hours=2), version=2)])
    await publish([org_created(county, village, old_town, "VILLAGE_BRANCH", "某村党支部", at=T0 + timedelta(hours=1))],
                  twice=True)
    await publish([build_event(oe.OrgRenamed(org_id=village, name="某村第一党支部"), service="organizations",
                               tenant=county, aggregate_id=village, at=T0 + timedelta(hours=3), version=3)])
    async with deps.db.unit_of_work(tenant=county) as uow:
        entry = await directory.org(uow, org_id=village)
    assert (entry.parent_id, entry.kind, entry.name, entry.dissolved) == (
        new_town, "VILLAGE_BRANCH", "某村第一党支部", False)

    # An appointment whose end arrives first stays ended; both delivered twice.
    gone, officer = _id(), _id()
    await publish([ended(county, gone, new_town, "SECRETARY", officer_id=officer)], twice=True)
    await publish([appointed(deps, county, gone, new_town, "SECRETARY", name="已离任", officer_id=officer)],
                  twice=True)
    await publish([appointed(deps, county, _id(), old_town, "SECRETARY", name="旧镇书记")])
    recipient, steps = await _resolve(deps, county, village, Audience.CONTACT)
    assert (recipient.address, steps) == (f"seat:county_admin:{county}", 2)
    conn_rows = await _appointment(deps, county, gone)
    assert (conn_rows["ended"], conn_rows["officer_name"]) == (True, "已离任")

    # A dissolved org's office is skipped.
    await publish([build_event(oe.OrgDissolved(org_id=new_town, reason="撤并"), service="organizations",
                               tenant=county, aggregate_id=new_town, at=T0 + timedelta(days=2), version=4)],
                  twice=True)
    await publish([appointed(deps, county, _id(), new_town, "SECRETARY", name="新镇书记")])
    assert (await _resolve(deps, county, village, Audience.TOWNSHIP))[0].address == f"seat:county_admin:{county}"


async def _appointment(deps, tenant: str, appointment_id: str):
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        return await uow.conn.fetchrow("SELECT * FROM dir_appointments WHERE id = $1", appointment_id)


async def test_the_officers_phone_is_sealed_again_for_the_directory(publish, make_deps):
    county = "650603"
    deps = make_deps()
    branch, appointment, garbled = _id(), _id(), _id()
    await publish([org_created(county, branch, "", "EXTERNAL_BRANCH", "驻苏州党支部")])
    bad = build_event(oe.OfficerAppointed(appointment_id=garbled, officer_id=_id(), org_id=branch,
                                          position="SECRETARY", officer_name="王书记", phone_sealed=b"\x01garbled",
                                          phone_masked="137****0603"),
                      service="organizations", tenant=county, aggregate_id=garbled, at=T0)
    await publish([appointed(deps, county, appointment, branch, "GUIDANCE_OFFICER", name="赵指导",
                             phone="13912340603"), bad])

    row = await _appointment(deps, county, appointment)
    stored = bytes(row["phone_enc"])
    assert b"13912340603" not in stored and row["phone_masked"] == "139****0603"
    assert deps.cipher.decrypt(stored, tenant=county, table="dir_appointments", column="phone_enc",
                               row=appointment) == "13912340603"
    with pytest.raises(DecryptionError):  # not the event's seal copied over
        deps.cipher.decrypt(stored, tenant=county, table=OFFICER_SEAL_TABLE, column=OFFICER_SEAL_COLUMN,
                            row=appointment)
    # A seal that will not open leaves no phone, only the masked one.
    row = await _appointment(deps, county, garbled)
    assert row["phone_enc"] is None and row["phone_masked"] == "137****0603"

    recipient, _ = await _resolve(deps, county, branch, Audience.BRANCH)
    assert recipient.address == f"seat:guidance_officer:{branch}"
    assert [o.name for o in recipient.officers] == ["王书记"]
    async with deps.db.unit_of_work(tenant=county) as uow:
        station, _ = await directory.resolve(uow, org_id=branch, audience=Audience.CONTACT)
    assert station.address == f"seat:guidance_officer:{branch}"
    officers = {o.appointment_id: o for o in
                (await _resolve(deps, county, branch, Audience.STATION))[0].officers}
    assert officers == {}  # no station above: the county seat, whose officers the directory does not list
    async with deps.db.unit_of_work(tenant=county) as uow:
        rows = await uow.conn.fetch("SELECT * FROM dir_appointments WHERE org_id = $1", branch)
    opened = {r["officer_name"]: directory.officer_phone(deps.cipher, tenant=county, officer=officer_from_record(r))
              for r in rows}
    assert opened == {"赵指导": "13912340603", "王书记": None}


async def test_attendees_are_home_members_and_open_guests_of_any_county(publish, make_deps):
    county, guest_home = "650604", "650605"
    deps = make_deps()
    branch, other = _id(), _id()
    alice, bob, moved, carol, dave, erin = (_id() for _ in range(6))
    await publish([org_created(county, branch, "", "TEMPORARY_BRANCH", "驻城临时党支部"),
                   org_created(county, other, "", "VILLAGE_BRANCH", "别的村党支部")])

    def profile(member_id: str, name: str, home: str, *, active: bool = True, at: datetime = T0):
        return build_event(re_.MemberProfileChanged(member_id=member_id, name=name, home_org_id=home,
                                                    township="城关镇", active=active),
                           service="registry", tenant=county, aggregate_id=member_id, at=at)

    # The newer profile moves a member away; the older one, arriving after, changes nothing.
    await publish([profile(alice, "王一", branch), profile(bob, "李二", branch, active=False),
                   profile(moved, "赵三", other, at=T0 + timedelta(days=1))])
    await publish([profile(moved, "赵三", branch, at=T0)])

    def guest(kind, membership: str, member: str, *, at: datetime = T0, **extra):
        return build_event(kind(membership_id=membership, flow_id=_id(), origin_tenant_id=guest_home,
                                member_id=member, attempt=1, **extra),
                           service="organizations", tenant=county, aggregate_id=membership, at=at)

    carol_m, dave_m, erin_m = _id(), _id(), _id()
    # carol: checked in (the check-in handled before the offer); dave: offered; erin: closed before the offer came.
    await publish([guest(oe.CheckedIn, carol_m, carol, org_id=branch, at=T0 + timedelta(hours=1)),
                   guest(oe.TemporaryMembershipClosed, erin_m, erin, at=T0 + timedelta(hours=2))])
    await publish([guest(oe.TemporaryMembershipOffered, carol_m, carol, org_id=branch),
                   guest(oe.TemporaryMembershipOffered, dave_m, dave, org_id=branch),
                   guest(oe.TemporaryMembershipOffered, erin_m, erin, org_id=branch)], twice=True)

    async with deps.db.unit_of_work(tenant=county) as uow:
        found = await directory.attendees(uow, org_id=branch)
        states = dict(await uow.conn.fetch("SELECT member_id::text, state FROM dir_guests WHERE org_id = $1",
                                           branch))
        assert (await directory.member(uow, member_id=moved)).home_org_id == other
        assert (await directory.member(uow, member_id=bob)).active is False
        assert await directory.attendees(uow, org_id="nonsense") == []
    assert states == {carol: "checked_in", dave: "offered", erin: "closed"}
    assert {(r.address, r.tenant, r.label) for r in found} == {
        (f"member:{alice}", county, "王一"), (f"member:{carol}", guest_home, ""), (f"member:{dave}", guest_home, "")}
    assert len(found) == 3
    # Another county sees none of them.
    async with deps.db.unit_of_work(tenant="650609") as uow:
        assert await directory.attendees(uow, org_id=branch) == []
        assert await directory.member(uow, member_id=alice) is None


async def test_organizations_appointments_reach_the_directory_end_to_end(platform, county_token, make_deps):
    """Orgs and officers made through organizations' API arrive in the directory over the bus, the phone resealed."""
    county = "650609"
    deps = make_deps()
    md = bearer(county_token(county))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    try:
        async def add(name: str, kind: int, parent: str = "") -> str:
            reply = await stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind), metadata=md)
            return reply.org.id

        root = await add("某县委员会", pb.ORG_KIND_COUNTY_COMMITTEE)
        town = await add("柳林镇党委", pb.ORG_KIND_TOWNSHIP_COMMITTEE, root)
        village = await add("柳林镇某村党支部", pb.ORG_KIND_VILLAGE_BRANCH, town)
        made = (await stub.AppointOfficer(pb.AppointOfficerRequest(
            org_id=town, position=pb.OFFICER_POSITION_SECRETARY, name="柳书记", phone="13612340609",
            start_date="2026-01-05"), metadata=md)).appointment
    finally:
        await channel.close()

    async def reached():
        recipient, steps = await _resolve(deps, county, village, Audience.CONTACT)
        return (recipient, steps) if recipient.officers else None

    recipient, steps = await eventually(reached, timeout=30)
    assert (recipient.address, recipient.label, steps) == (f"seat:township_officer:{town}", "柳林镇党委", 1)
    [officer] = recipient.officers
    assert (officer.appointment_id, officer.name, officer.position, officer.phone_masked) == (
        made.id, "柳书记", "SECRETARY", "136****0609")
    assert directory.officer_phone(deps.cipher, tenant=county, officer=officer) == "13612340609"
