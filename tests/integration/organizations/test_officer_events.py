"""Appointing an officer and ending the appointment publish OfficerAppointed / OfficerAppointmentEnded; the phone
travels sealed to the county and the appointment, never in the clear."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.crypto import DecryptionError, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.pii import OFFICER_SEAL_COLUMN, OFFICER_SEAL_TABLE
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.officers import service as officers
from jinqiao.organizations.orgs import service as orgs
from jinqiao.organizations.v1 import organizations_pb2 as pb

COUNTY = "650601"  # the directory helper's county: no other test writes here
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
ADMIN = Principal(user="admin-650601", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)


@pytest.fixture
async def deps(settings_for):
    settings = settings_for("organizations")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    yield OrgDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: NOW)
    await db.close()


async def _events(conn, kind: type, appointment_id: str) -> list:
    """The queued events of ``kind`` about the appointment."""
    rows = await conn.fetch("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_type LIKE $2", COUNTY,
                            f"%{kind.__name__}")
    found = [kind.FromString(bytes(r["payload"])) for r in rows]
    return [e for e in found if e.appointment_id == appointment_id]


async def test_an_appointment_and_its_end_are_published_with_the_phone_sealed(deps, admin_conn_factory):
    root = await orgs.create_org(deps=deps, principal=ADMIN, data=orgs.OrgInput(
        parent_id="", name="某县委员会", kind=pb.ORG_KIND_COUNTY_COMMITTEE, city_code="", founding_mode=0,
        industry=""))
    town = await orgs.create_org(deps=deps, principal=ADMIN, data=orgs.OrgInput(
        parent_id=root.id, name="石河镇党委", kind=pb.ORG_KIND_TOWNSHIP_COMMITTEE, city_code="", founding_mode=0,
        industry=""))
    appointment = await officers.appoint_officer(
        deps=deps, principal=ADMIN, org_id=town.id, position=pb.OFFICER_POSITION_ORGANIZATION_COMMITTEE_MEMBER,
        officer_id="", name="马组织", phone="13912340601", start_date="2026-05-01")
    conn = await admin_conn_factory("organizations")

    [appointed] = await _events(conn, events.OfficerAppointed, appointment.id)
    assert (appointed.org_id, appointed.officer_id, appointed.position) == (
        town.id, appointment.officer_id, "ORGANIZATION_COMMITTEE_MEMBER")
    assert (appointed.officer_name, appointed.phone_masked, appointed.start_date) == (
        "马组织", "139****0601", "2026-05-01")
    assert appointed.meta.tenant_id == COUNTY
    # Sealed, not plain: nowhere in the payload, and it opens only with the county and this appointment.
    raw = await conn.fetchval("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_id = $2::uuid", COUNTY,
                              appointed.meta.event_id)
    assert b"13912340601" not in bytes(raw)
    assert deps.cipher.decrypt(appointed.phone_sealed, tenant=COUNTY, table=OFFICER_SEAL_TABLE,
                               column=OFFICER_SEAL_COLUMN, row=appointment.id) == "13912340601"
    with pytest.raises(DecryptionError):
        deps.cipher.decrypt(appointed.phone_sealed, tenant="650602", table=OFFICER_SEAL_TABLE,
                            column=OFFICER_SEAL_COLUMN, row=appointment.id)

    # A person on record appointed again: their stored phone is opened and sealed to the new appointment.
    again = await officers.appoint_officer(
        deps=deps, principal=ADMIN, org_id=root.id, position=pb.OFFICER_POSITION_DEPUTY_SECRETARY,
        officer_id=appointment.officer_id, name="", phone="", start_date="2026-05-02")
    [second] = await _events(conn, events.OfficerAppointed, again.id)
    assert deps.cipher.decrypt(second.phone_sealed, tenant=COUNTY, table=OFFICER_SEAL_TABLE,
                               column=OFFICER_SEAL_COLUMN, row=again.id) == "13912340601"
    assert second.position == "DEPUTY_SECRETARY" and second.officer_name == "马组织"

    await officers.end_appointment(deps=deps, principal=ADMIN, appointment_id=appointment.id, end_date="2026-05-20")
    [ended] = await _events(conn, events.OfficerAppointmentEnded, appointment.id)
    assert (ended.org_id, ended.officer_id, ended.position, ended.end_date) == (
        town.id, appointment.officer_id, "ORGANIZATION_COMMITTEE_MEMBER", "2026-05-20")
