"""Officer appointments are dated by China's calendar, not UTC's (UTC runs eight hours behind every morning)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.errors import InvalidArgument
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.officers import service as officers
from jinqiao.organizations.orgs import service as orgs
from jinqiao.organizations.v1 import organizations_pb2 as pb

COUNTY = "421302"  # no other test writes here
# 07:30 on 2 December in Beijing, still 1 December in UTC.
MORNING = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
ADMIN = Principal(user="admin-421302", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)


@pytest.fixture
async def deps(settings_for):
    settings = settings_for("organizations")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    yield OrgDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: MORNING)
    await db.close()


async def test_an_appointment_dated_today_in_beijing_before_eight_is_accepted(deps):
    root = await orgs.create_org(deps=deps, principal=ADMIN, data=orgs.OrgInput(
        parent_id="", name="随县委员会", kind=pb.ORG_KIND_COUNTY_COMMITTEE, city_code="", founding_mode=0,
        industry=""))
    appointment = await officers.appoint_officer(
        deps=deps, principal=ADMIN, org_id=root.id, position=pb.OFFICER_POSITION_SECRETARY, officer_id="",
        name="王建国", phone="13700002222", start_date="2026-12-02")
    assert appointment.start_date.isoformat() == "2026-12-02"

    with pytest.raises(InvalidArgument) as caught:
        await officers.end_appointment(deps=deps, principal=ADMIN, appointment_id=appointment.id,
                                       end_date="2026-12-03")
    assert [v.field for v in caught.value.violations] == ["end_date"]
