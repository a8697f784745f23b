"""The wire form of a member: the birth date only for the reveal permission and the member themself."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from jinqiao.kit import pii
from jinqiao.kit.auth import Principal, Role
from jinqiao.registry.members import domain
from jinqiao.registry.members.api import member_to_proto

NUMBER = pii.make_id_number("411525", date(1985, 3, 9), 123)
MEMBER = domain.Member(
    id="7d0c5a52-8a8f-4a53-9a55-2f4f3f6d1c01", tenant_id="411525", name="张建国", gender=domain.Gender.MALE,
    birth_date=date(1985, 3, 9), id_number_masked=pii.mask_id_number(NUMBER), phone_masked="138****5678",
    membership_status=domain.MembershipStatus.FULL, township="城关镇", village="", occupation="",
    join_date=date(2008, 7, 1), created_at=datetime(2026, 1, 1, tzinfo=UTC), version=1,
)


def seen_by(role: Role, *, member: str | None = None) -> str:
    principal = Principal(user="u", role=role, scope="411525", tenant="411525", member=member)
    return member_to_proto(MEMBER, principal=principal).birth_date


def test_the_county_department_sees_the_birth_date():
    assert seen_by(Role.COUNTY_ADMIN) == "1985-03-09"


def test_the_member_sees_their_own_birth_date_and_nobody_elses():
    assert seen_by(Role.MEMBER, member=MEMBER.id) == "1985-03-09"
    assert seen_by(Role.MEMBER, member="another") == ""


@pytest.mark.parametrize("role", [Role.TOWNSHIP_OFFICER, Role.STATION_STAFF, Role.GUIDANCE_OFFICER,
                                  Role.BRANCH_SECRETARY, Role.SERVICE, Role.CITY_ANALYST])
def test_every_other_role_gets_an_empty_birth_date_beside_the_masked_number(role):
    assert seen_by(role) == ""
    assert member_to_proto(MEMBER, principal=Principal(user="u", role=role, scope="411525", tenant="411525")
                           ).id_number_masked == "4115**********1230"
