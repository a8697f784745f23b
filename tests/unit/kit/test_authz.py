"""The authorization table: one place that says which role may do what, and how far each grant reaches."""

from __future__ import annotations

import pytest

from jinqiao.kit import authz
from jinqiao.kit.auth import Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.errors import PermissionDenied


def test_every_permission_is_granted_to_someone_and_names_only_known_roles():
    for permission in Permission:
        assert authz.TABLE[permission], permission
        assert set(authz.TABLE[permission]) <= set(Role)


def test_analysts_never_hold_a_permission_over_persons():
    # The working-day calendar is no one's record: analysts read it, and the province enters a year's arrangement.
    calendar = {Permission.CALENDAR_READ, Permission.CALENDAR_MANAGE}
    person_permissions = set(Permission) - {Permission.INSIGHTS_READ, Permission.SESSION} - calendar
    for role in (Role.PROVINCE_ANALYST, Role.CITY_ANALYST):
        assert not [p for p in person_permissions if authz.allows(role, p)]
        assert all(authz.scope(role, p) in (None, Reach.AGGREGATE) for p in calendar)
        assert authz.reach(role) is Reach.AGGREGATE
        assert authz.scope(role, Permission.INSIGHTS_READ) is Reach.AGGREGATE


def test_only_the_county_department_reveals_an_id_number():
    assert [r for r in Role if authz.allows(r, Permission.MEMBERS_REVEAL)] == [Role.COUNTY_ADMIN]


def test_placement_rules_are_set_by_the_county_department_alone():
    assert [r for r in Role if authz.allows(r, Permission.PLACEMENT_WRITE)] == [Role.COUNTY_ADMIN]


def test_applicants_reach_each_office_only_as_far_as_its_own_organisation():
    assert authz.scope(Role.TOWNSHIP_OFFICER, Permission.DEVELOPMENT_WRITE) is Reach.TOWNSHIP
    assert authz.scope(Role.BRANCH_SECRETARY, Permission.DEVELOPMENT_READ) is Reach.OWN_ORG
    assert authz.scope(Role.GUIDANCE_OFFICER, Permission.DEVELOPMENT_READ) is Reach.ORG_SUBTREE
    assert authz.scope(Role.BRANCH_SECRETARY, Permission.DEVELOPMENT_WRITE) is None
    assert authz.scope(Role.STATION_STAFF, Permission.DEVELOPMENT_READ) is None


def test_a_member_reads_only_itself():
    assert authz.scope(Role.MEMBER, Permission.MEMBERS_READ) is Reach.SELF
    assert not authz.allows_beyond_self(Role.MEMBER, Permission.MEMBERS_READ)
    assert authz.allows_beyond_self(Role.COUNTY_ADMIN, Permission.MEMBERS_READ)


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


def test_the_grants_list_walks_the_whole_table_with_each_scope_rule():
    listed = authz.grants()
    assert len(listed) == sum(len(roles) for roles in authz.TABLE.values())
    assert all(authz.scope(g.role, g.permission) is g.reach for g in listed)


def test_a_method_without_a_declared_permission_is_refused_even_for_the_county():
    with pytest.raises(PermissionDenied):
        authz.require_method("/jinqiao.registry.v1.RegistryService/DropEverything", Role.COUNTY_ADMIN)


def test_a_method_refuses_a_role_without_a_grant_and_admits_one_with():
    method = "/jinqiao.organizations.v1.OrganizationsService/UpdatePlacementRules"
    with pytest.raises(PermissionDenied):
        authz.require_method(method, Role.TOWNSHIP_OFFICER)
    authz.require_method(method, Role.COUNTY_ADMIN)


@pytest.mark.parametrize(("rule", "own", "sibling"), [
    (Reach.COUNTY, True, True), (Reach.TOWNSHIP, True, False), (Reach.OWN_ORG, True, False),
    (Reach.SELF, True, False), (None, False, False),
])
def test_only_a_county_wide_grant_reaches_a_sibling_and_none_a_foreign_object(rule, own, sibling):
    assert authz.covers(rule, "own") is own
    assert authz.covers(rule, "sibling") is sibling
    assert authz.covers(rule, "foreign") is False
