"""The desk's reading of registry's MemberProfileChanged fields (pure): what is trusted and what is kept unknown."""

from __future__ import annotations

from datetime import UTC, date, datetime

from jinqiao.desk.replica.domain import membership_status, profile_facts

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _facts(**overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = dict(
        member_id="m", name="王磊", home_org_id=None, township="城关镇", active=True,
        membership_status_name="MEMBERSHIP_STATUS_FULL", join_date="2015-07-01", birth_year=1985,
        latest_grade="EXCELLENT", latest_grade_year=2025, returned=True, at=AT)
    values.update(overrides)
    return profile_facts(**values)  # type: ignore[arg-type]


def test_membership_status_takes_the_proto_name_or_registrys_domain_name():
    assert membership_status("MEMBERSHIP_STATUS_FULL") == "MEMBERSHIP_STATUS_FULL"
    assert membership_status("PROBATIONARY") == "MEMBERSHIP_STATUS_PROBATIONARY"
    assert membership_status("") == membership_status("MEMBERSHIP_STATUS_UNSPECIFIED") == ""
    assert membership_status("full") == ""


def test_a_well_formed_profile_is_kept_as_sent():
    facts = _facts()
    assert (facts.membership_status, facts.join_date, facts.birth_year) == (
        "MEMBERSHIP_STATUS_FULL", date(2015, 7, 1), 1985)
    assert (facts.latest_grade, facts.latest_grade_year, facts.returned, facts.facts_at) == (
        "EXCELLENT", 2025, True, AT)


def test_an_unknown_grade_or_a_grade_without_a_year_is_no_grade():
    assert (_facts(latest_grade="GOOD").latest_grade, _facts(latest_grade="GOOD").latest_grade_year) == ("", 0)
    no_year = _facts(latest_grade_year=0)
    assert (no_year.latest_grade, no_year.latest_grade_year) == ("", 0)
    no_grade = _facts(latest_grade="")
    assert (no_grade.latest_grade, no_grade.latest_grade_year) == ("", 0)


def test_a_date_that_is_none_and_years_out_of_range_are_unknown():
    assert _facts(join_date="").join_date is None
    assert _facts(join_date="2015-02-30").join_date is None
    assert _facts(birth_year=0).birth_year == 0
    assert _facts(birth_year=1899).birth_year == 0
    assert _facts(birth_year=10000).birth_year == 0
