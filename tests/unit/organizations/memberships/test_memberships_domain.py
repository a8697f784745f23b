"""Temporary membership rules, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from jinqiao.kit import pii
from jinqiao.kit.clock import china_date
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from jinqiao.organizations.memberships import domain as memberships
from jinqiao.organizations.memberships.domain import Closure, Status
from jinqiao.organizations.orgs import domain

TODAY = date(2026, 11, 24)


def violated(call, **fields) -> set[str]:
    with pytest.raises(InvalidArgument) as caught:
        call(**fields)
    return {v.field for v in caught.value.violations}


def test_a_new_attempt_opens_once_and_a_closed_or_superseded_one_never():
    assert memberships.should_open(attempt=1, latest_attempt=None, closure=None)
    assert not memberships.should_open(attempt=1, latest_attempt=1, closure=None)
    assert not memberships.should_open(attempt=1, latest_attempt=2, closure=None)
    assert memberships.should_open(attempt=3, latest_attempt=2, closure=None)
    assert not memberships.should_open(attempt=5, latest_attempt=None, closure=Closure("RETURNED", 0))
    assert not memberships.should_open(attempt=1, latest_attempt=None, closure=Closure("", 2))
    assert memberships.should_open(attempt=2, latest_attempt=None, closure=Closure("", 2))


def test_check_in_moves_an_offer_and_leaves_a_checked_in_membership_alone():
    assert memberships.check_in_transition(Status.OFFERED) is True
    assert memberships.check_in_transition(Status.CHECKED_IN) is False
    for status in (Status.REFUSED, Status.CLOSED):
        with pytest.raises(FailedPrecondition):
            memberships.check_in_transition(status)


def test_only_an_offer_is_refused_and_only_with_a_reason():
    memberships.ensure_may_refuse(Status.OFFERED)
    with pytest.raises(FailedPrecondition):
        memberships.ensure_may_refuse(Status.CHECKED_IN)
    assert violated(memberships.clean_reason, value="  ") == {"reason"}
    assert violated(memberships.clean_reason, value="长" * 201) == {"reason"}
    assert memberships.clean_reason(" 本支部 已满员 ") == "本支部 已满员"


def test_an_activity_needs_a_past_date_and_a_short_title():
    ok = memberships.validate_activity(occurred_on="2026-11-01", title=" 主题党日 ", note="", today=TODAY)
    assert (ok.occurred_on, ok.title) == (date(2026, 11, 1), "主题党日")
    assert violated(memberships.validate_activity, occurred_on="2026-11-25", title="x", note="",
                    today=TODAY) == {"occurred_on"}
    assert violated(memberships.validate_activity, occurred_on="11/01/2026", title="", note="",
                    today=TODAY) == {"occurred_on", "title"}
    assert violated(memberships.validate_activity, occurred_on="2026-11-01", title="题" * 101, note="n" * 2001,
                    today=TODAY) == {"title", "note"}


def test_today_is_the_date_in_china():
    assert china_date(datetime(2026, 11, 24, 16, 30, tzinfo=UTC)) == date(2026, 11, 25)


def test_an_assessment_names_a_year_up_to_now_and_one_of_four_grades():
    result = memberships.validate_assessment(year=2026, grade="excellent", comment=" 表现突出 ", today=TODAY)
    assert (result.grade, result.comment) == ("EXCELLENT", "表现突出")
    assert violated(memberships.validate_assessment, year=2027, grade="GOOD", comment="",
                    today=TODAY) == {"year", "grade"}
    assert violated(memberships.validate_assessment, year=1999, grade="COMPETENT", comment="c" * 501,
                    today=TODAY) == {"year", "comment"}


def test_a_check_in_code_round_trips_and_anything_else_parses_to_nothing():
    org_id = str(uuid.uuid4())
    code = memberships.make_code(tenant="410105", org_id=org_id, secret="s" * 32)
    assert code.startswith("JQ1.410105.")
    assert memberships.parse_code(f" {code} ") == ("410105", org_id, "s" * 32)
    for bad in ("", "JQ1", f"JQ2.410105.{org_id}.{'s' * 32}", f"JQ1.41010.{org_id}.{'s' * 32}",
                f"JQ1.410105.not-a-uuid.{'s' * 32}", f"JQ1.410105.{org_id}.short", f"{code}.extra",
                f"JQ1.410105.{org_id}.{'s' * 31}!"):
        assert memberships.parse_code(bad) is None


def _org(kind: domain.OrgKind, status: domain.OrgStatus = domain.OrgStatus.ACTIVE) -> domain.Org:
    return domain.Org(id="x", tenant_id="410105", parent_id=None, name="n", kind=kind, city_code="",
                      founding_mode=None, industry="", status=status, depth=1, version=1,
                      created_at=datetime.now(UTC))


def test_codes_belong_to_organisations_that_take_members_in():
    for kind in (domain.OrgKind.TOWN_STATION, domain.OrgKind.TEMPORARY_BRANCH, domain.OrgKind.EXTERNAL_BRANCH,
                 domain.OrgKind.ONLINE_BRANCH, domain.OrgKind.ENTERPRISE_BRANCH):
        memberships.ensure_code_org(_org(kind))
    for kind in (domain.OrgKind.COUNTY_COMMITTEE, domain.OrgKind.TOWNSHIP_COMMITTEE,
                 domain.OrgKind.FUNCTIONAL_GROUP):
        with pytest.raises(FailedPrecondition):
            memberships.ensure_code_org(_org(kind))
    with pytest.raises(FailedPrecondition):
        memberships.ensure_code_org(_org(domain.OrgKind.TOWN_STATION, domain.OrgStatus.DISSOLVED))


def test_a_full_id_number_handed_over_is_masked_before_it_is_kept():
    number = pii.make_id_number("411525", date(1980, 5, 6), 123)
    assert memberships.masked_id(number) == pii.mask_id_number(number)
    assert memberships.masked_id("4115**********123X") == "4115**********123X"
    assert memberships.masked_id("") == ""


def test_staff_handle_memberships_and_analysts_and_members_do_not():
    for role in ("county_admin", "township_officer", "station_staff", "guidance_officer", "branch_secretary"):
        memberships.ensure_may_handle(role)
    for role in ("province_analyst", "city_analyst", "member", "service"):
        with pytest.raises(PermissionDenied):
            memberships.ensure_may_handle(role)
