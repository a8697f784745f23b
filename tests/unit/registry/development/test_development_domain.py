"""发展党员 domain rules: applications, stages in order with their intervals, mentors, 双向考察. No I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from jinqiao.kit import pii
from jinqiao.kit.clock import china_date
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from jinqiao.registry.development import domain as dev

TODAY = date(2026, 6, 1)
HOME = ("王建华", "13900001111", "HOME", "陈淋子镇新庄村党支部")
THERE = ("刘志强", "13700002222", "DESTINATION", "固始县驻上海流动党员党支部")


def application(**overrides: object) -> dict[str, object]:
    """A valid application of a man born 1995-03-08 working in Shanghai."""
    fields: dict[str, object] = {
        "name": "陈小军", "id_number": pii.make_id_number("411525", date(1995, 3, 8), 131), "phone": "13812345678",
        "township": "陈淋子镇", "village": "新庄村", "destination_code": "310000", "employer": "上海建工",
        "application_date": "2022-03-01", "mentors": [HOME, THERE], "delegated": False, "delegated_org_name": "",
        "home_code": "411525", "today": TODAY,
    }
    fields.update(overrides)
    return fields


def violations(call, **kwargs) -> dict[str, str]:
    """The field violations a call raises, by field."""
    with pytest.raises(InvalidArgument) as caught:
        call(**kwargs)
    return {v.field: v.description for v in caught.value.violations}


def applicant(stage: dev.Stage = dev.Stage.APPLICANT, *, away: bool = True,
              stages: dict[dev.Stage, date] | None = None,
              inspections: list[tuple[dev.Side, date]] | None = None) -> dev.Applicant:
    """A stored applicant at a stage, with the dates it reached each stage."""
    reached = stages or {dev.Stage.APPLICANT: date(2022, 3, 1)}
    return dev.Applicant(
        id="a", tenant_id="411525", name="陈小军", id_number_masked="4115**********1234", phone_masked="",
        gender="male", birth_date=date(1995, 3, 8), township="", village="", destination_code="310000" if away else "",
        employer="", stage=stage, stages=tuple(sorted(reached.items())), mentors=(),
        inspections=tuple(dev.Inspection(id=str(i), side=s, inspected_on=on, inspector="x", summary="y")
                          for i, (s, on) in enumerate(inspections or [])),
        delegated=False, delegated_org_name="", version=1, created_at=datetime(2022, 3, 1, tzinfo=UTC),
    )


def test_a_valid_application_is_normalised_with_gender_and_birth_date_from_the_id_number():
    checked = dev.validate_new_applicant(**application(name="  陈  小军 ", phone="+86 138-1234-5678"))
    assert checked.name == "陈 小军"
    assert checked.phone == "13812345678"
    assert (checked.gender, checked.birth_date) == ("male", date(1995, 3, 8))
    assert checked.application_date == date(2022, 3, 1)
    assert [m.side for m in checked.mentors] == [dev.Side.HOME, dev.Side.DESTINATION]


def test_every_bad_field_of_an_application_is_reported_at_once():
    found = violations(dev.validate_new_applicant, **application(
        name=" ", id_number="411525199503081310", phone="12345", destination_code="31", application_date="2022/03/01",
        mentors=[("", "1", "ELSEWHERE", "")],
    ))
    assert {"name", "id_number", "phone", "destination_code", "application_date", "mentors[0].name",
            "mentors[0].phone", "mentors[0].side", "mentors"} <= set(found)


def test_an_applicant_must_be_eighteen_on_the_day_of_application():
    born = date(2005, 6, 15)
    number = pii.make_id_number("411525", born, 7)
    found = violations(dev.validate_new_applicant, **application(id_number=number, application_date="2023-06-14"))
    assert "18" in found["application_date"]
    ok = dev.validate_new_applicant(**application(id_number=number, application_date="2023-06-15"))
    assert ok.gender == "male" and ok.birth_date == born


def test_the_application_date_cannot_lie_in_the_future():
    assert "今天" in violations(dev.validate_new_applicant, **application(application_date="2026-06-02"))[
        "application_date"]


@pytest.mark.parametrize(("code", "why"), [("411525", "本县"), ("31000", "6位"), ("9x0000", "6位")])
def test_the_destination_is_a_division_code_other_than_home(code, why):
    assert why in violations(dev.validate_new_applicant, **application(destination_code=code))["destination_code"]


@pytest.mark.parametrize(("mentors", "away", "why"), [
    ([THERE], True, "流出地"),
    ([HOME, HOME, HOME], True, "最多2名"),
    ([HOME, THERE, THERE, THERE], True, "最多2名"),
    ([HOME, THERE], False, "未外出"),
])
def test_one_or_two_mentors_per_side(mentors, away, why):
    found = violations(dev.validate_new_applicant,
                       **application(mentors=mentors, destination_code="310000" if away else ""))
    assert why in found["mentors"]


def test_two_mentors_on_each_side_are_allowed():
    checked = dev.validate_new_applicant(**application(mentors=[HOME, HOME, THERE, THERE]))
    assert len(checked.mentors) == 4


def test_delegated_training_needs_a_destination_and_a_destination_mentor_or_organisation():
    assert "delegated" in violations(dev.validate_new_applicant,
                                     **application(delegated=True, destination_code="", mentors=[HOME]))
    found = violations(dev.validate_new_applicant, **application(delegated=True, mentors=[HOME]))
    assert "委托" in found["delegated_org_name"]
    by_org = dev.validate_new_applicant(**application(delegated=True, mentors=[HOME],
                                                      delegated_org_name="上海建工党委"))
    assert by_org.delegated_org_name == "上海建工党委"
    assert dev.validate_new_applicant(**application(delegated=True, mentors=[HOME, THERE])).delegated


def test_a_delegated_organisation_without_delegation_is_refused():
    assert "delegated_org_name" in violations(dev.validate_new_applicant,
                                              **application(delegated_org_name="上海建工党委"))


def test_advancing_goes_exactly_one_stage_forward():
    found = violations(dev.check_advance, applicant=applicant(), target=dev.Stage.CANDIDATE, on=date(2023, 1, 1))
    assert "逐级" in found["stage"]
    back = violations(dev.check_advance, applicant=applicant(dev.Stage.ACTIVIST, stages={
        dev.Stage.APPLICANT: date(2022, 3, 1), dev.Stage.ACTIVIST: date(2022, 9, 1)}),
        target=dev.Stage.APPLICANT, on=date(2023, 1, 1))
    assert "stage" in back


def test_a_full_member_cannot_advance():
    full = applicant(dev.Stage.FULL, stages={s: date(2020 + s, 1, 1) for s in dev.Stage})
    assert "正式党员" in violations(dev.check_advance, applicant=full, target=dev.Stage.FULL,
                                   on=date(2026, 1, 1))["stage"]


def test_a_stage_date_cannot_precede_the_previous_stage():
    found = violations(dev.check_advance, applicant=applicant(), target=dev.Stage.ACTIVIST, on=date(2022, 2, 28))
    assert "2022-03-01" in found["date"]
    dev.check_advance(applicant(), target=dev.Stage.ACTIVIST, on=date(2022, 3, 1))


def test_an_activist_is_trained_a_full_year_before_becoming_a_candidate():
    activist = applicant(dev.Stage.ACTIVIST, stages={dev.Stage.APPLICANT: date(2022, 3, 1),
                                                     dev.Stage.ACTIVIST: date(2022, 9, 1)},
                         inspections=[(dev.Side.HOME, date(2023, 5, 1)), (dev.Side.DESTINATION, date(2023, 6, 1))])
    found = violations(dev.check_advance, applicant=activist, target=dev.Stage.CANDIDATE, on=date(2023, 8, 31))
    assert "2023-09-01" in found["date"]
    dev.check_advance(activist, target=dev.Stage.CANDIDATE, on=date(2023, 9, 1))


def test_probation_lasts_a_year():
    probationary = applicant(dev.Stage.PROBATIONARY, stages={
        dev.Stage.APPLICANT: date(2021, 1, 4), dev.Stage.ACTIVIST: date(2021, 3, 1),
        dev.Stage.CANDIDATE: date(2022, 3, 1), dev.Stage.PROBATIONARY: date(2022, 7, 1)})
    assert "2023-07-01" in violations(dev.check_advance, applicant=probationary, target=dev.Stage.FULL,
                                      on=date(2023, 6, 30))["date"]
    dev.check_advance(probationary, target=dev.Stage.FULL, on=date(2023, 7, 1))


def test_a_year_from_the_29th_of_february_ends_on_the_1st_of_march():
    assert dev.add_years(date(2024, 2, 29), 1) == date(2025, 3, 1)
    assert dev.add_years(date(2023, 3, 1), 1) == date(2024, 3, 1)


def test_a_migrant_becomes_a_candidate_only_after_inspections_from_both_sides():
    stages = {dev.Stage.APPLICANT: date(2022, 3, 1), dev.Stage.ACTIVIST: date(2022, 4, 1)}
    on = date(2023, 5, 1)
    none = violations(dev.check_advance, applicant=applicant(dev.Stage.ACTIVIST, stages=stages),
                      target=dev.Stage.CANDIDATE, on=on)
    assert "流出地" in none["inspections"] and "流入地" in none["inspections"]
    home_only = applicant(dev.Stage.ACTIVIST, stages=stages, inspections=[(dev.Side.HOME, date(2023, 4, 1))])
    found = violations(dev.check_advance, applicant=home_only, target=dev.Stage.CANDIDATE, on=on)
    assert "流入地" in found["inspections"] and "流出地" not in found["inspections"]
    # A report written after the decision cannot have supported it.
    late = applicant(dev.Stage.ACTIVIST, stages=stages,
                     inspections=[(dev.Side.HOME, date(2023, 4, 1)), (dev.Side.DESTINATION, date(2023, 5, 2))])
    assert "inspections" in violations(dev.check_advance, applicant=late, target=dev.Stage.CANDIDATE, on=on)
    both = applicant(dev.Stage.ACTIVIST, stages=stages,
                     inspections=[(dev.Side.HOME, date(2023, 4, 1)), (dev.Side.DESTINATION, date(2023, 5, 1))])
    dev.check_advance(both, target=dev.Stage.CANDIDATE, on=on)


def test_someone_who_stayed_home_needs_no_destination_inspection():
    stages = {dev.Stage.APPLICANT: date(2022, 3, 1), dev.Stage.ACTIVIST: date(2022, 4, 1)}
    dev.check_advance(applicant(dev.Stage.ACTIVIST, away=False, stages=stages), target=dev.Stage.CANDIDATE,
                      on=date(2023, 5, 1))


def test_an_advance_request_is_checked_whole_before_the_row_is_read():
    found = violations(dev.parse_advance, stage=9, when="2026-06-02", version=0, today=TODAY)
    assert set(found) == {"stage", "date", "version"}
    assert dev.parse_advance(stage=2, when="2026-06-01", version=3, today=TODAY) == (dev.Stage.ACTIVIST, TODAY)


def test_inspection_rules():
    stayed = applicant(away=False)
    found = violations(dev.validate_inspection, side="DESTINATION", inspected_on="2022-02-01", inspector=" ",
                       summary="", applicant=stayed, today=TODAY)
    assert set(found) == {"side", "inspected_on", "inspector", "summary"}
    assert "side" in violations(dev.validate_inspection, side="abroad", inspected_on="2023-01-01", inspector="李",
                                summary="表现良好", applicant=applicant(), today=TODAY)
    ok = dev.validate_inspection(side="destination", inspected_on="2023-01-01", inspector="李", summary="表现良好",
                                 applicant=applicant(), today=TODAY)
    assert ok.side is dev.Side.DESTINATION
    full = replace(applicant(), stage=dev.Stage.FULL)
    with pytest.raises(FailedPrecondition):
        dev.validate_inspection(side="HOME", inspected_on="2023-01-01", inspector="李", summary="表现良好",
                                applicant=full, today=TODAY)


def test_roles():
    for role in ("county_admin", "township_officer"):
        dev.ensure_may_write(role)
        dev.ensure_may_read(role)
    for role in ("branch_secretary", "guidance_officer"):
        dev.ensure_may_read(role)
        with pytest.raises(PermissionDenied):
            dev.ensure_may_write(role)
    for role in ("province_analyst", "city_analyst", "member", "station_staff"):
        with pytest.raises(PermissionDenied):
            dev.ensure_may_read(role)


def test_today_is_the_date_in_china():
    assert china_date(datetime(2026, 5, 31, 16, 30, tzinfo=UTC)) == date(2026, 6, 1)
