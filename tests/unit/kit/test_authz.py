"""The authorization table: one place that says which role may do what, and how far it reaches."""

from __future__ import annotations

import pytest

from jinqiao.kit import authz
from jinqiao.kit.auth import Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.errors import PermissionDenied


def test_every_permission_is_granted_to_someone_and_names_only_known_roles():
    for permission in Permission:
        assert authz.TABLE[permission], permission
        assert authz.TABLE[permission] <= set(Role)


def test_analysts_never_hold_a_permission_over_persons():
    person_permissions = set(Permission) - {Permission.INSIGHTS_READ}
    for role in (Role.PROVINCE_ANALYST, Role.CITY_ANALYST):
        assert not [p for p in person_permissions if authz.allows(role, p)]
        assert authz.reach(role) is Reach.AGGREGATE


def test_only_the_county_department_reveals_an_id_number():
    assert [r for r in Role if authz.allows(r, Permission.MEMBERS_REVEAL)] == [Role.COUNTY_ADMIN]


def test_a_refusal_carries_the_message_given():
    with pytest.raises(PermissionDenied) as caught:
        authz.require(Role.MEMBER, Permission.ORGS_WRITE, "当前角色无权调整党组织设置")
    assert caught.value.message == "当前角色无权调整党组织设置"


def test_an_unknown_role_holds_nothing_and_reaches_only_itself():
    assert not any(authz.allows("root", p) for p in Permission)
    assert authz.reach("root") is Reach.SELF


def test_confined_roles_are_the_org_bound_staff():
    assert {r for r in Role if authz.confined_to_org(r)} == {
        Role.TOWNSHIP_OFFICER, Role.STATION_STAFF, Role.GUIDANCE_OFFICER, Role.BRANCH_SECRETARY}


def test_the_grants_list_walks_the_whole_table():
    assert len(authz.grants()) == sum(len(roles) for roles in authz.TABLE.values())
