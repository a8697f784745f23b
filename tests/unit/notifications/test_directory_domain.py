"""The directory's pure rules: which office an audience names, and the walk up the tree when an org has nobody."""

from __future__ import annotations

from jinqiao.notifications.directory.domain import (
    Audience,
    Officer,
    OrgEntry,
    choose,
    choose_above,
    county_seat,
    seat_role,
)

COUNTY = "650600"
ROOT = OrgEntry(id="root", parent_id=None, kind="COUNTY_COMMITTEE", name="某县委", dissolved=False)
TOWN = OrgEntry(id="town", parent_id="root", kind="TOWNSHIP_COMMITTEE", name="段集镇党委", dissolved=False)
VILLAGE = OrgEntry(id="village", parent_id="town", kind="VILLAGE_BRANCH", name="段集镇某村党支部", dissolved=False)
STATION = OrgEntry(id="station", parent_id="root", kind="TOWN_STATION", name="某县驻城党建工作站", dissolved=False)
TEMP = OrgEntry(id="temp", parent_id="station", kind="TEMPORARY_BRANCH", name="驻城临时党支部", dissolved=False)
EXTERNAL = OrgEntry(id="ext", parent_id="root", kind="EXTERNAL_BRANCH", name="驻苏州党支部", dissolved=False)


def officer(position: str, n: int = 1) -> Officer:
    """An active officer in ``position``."""
    return Officer(appointment_id=f"a{n}", officer_id=f"o{n}", name=f"干部{n}", position=position,
                   phone_sealed=None, phone_masked="138****0000")


def test_contact_prefers_the_branch_liaison_over_its_secretary() -> None:
    officers = {"village": [officer("SECRETARY", 1), officer("LIAISON", 2)]}
    recipient, steps = choose(Audience.CONTACT, [VILLAGE, TOWN, ROOT], officers, COUNTY)
    assert (recipient.address, steps) == ("seat:branch_secretary:village", 0)
    assert [o.position for o in recipient.officers] == ["LIAISON"]
    assert recipient.label == "段集镇某村党支部联络员"


def test_contact_falls_back_to_the_secretary_without_a_liaison() -> None:
    recipient, steps = choose(Audience.CONTACT, [VILLAGE, TOWN, ROOT], {"village": [officer("DEPUTY_SECRETARY")]},
                              COUNTY)
    assert (recipient.address, steps, recipient.label) == ("seat:branch_secretary:village", 0, "段集镇某村党支部书记")


def test_a_branch_with_nobody_walks_to_its_township_committee() -> None:
    officers = {"village": [officer("GRID_LEADER", 1)], "town": [officer("ORGANIZATION_COMMITTEE_MEMBER", 2)]}
    recipient, steps = choose(Audience.CONTACT, [VILLAGE, TOWN, ROOT], officers, COUNTY)
    assert (recipient.address, steps, recipient.label) == ("seat:township_officer:town", 1, "段集镇党委")
    assert recipient.org_id == "town" and recipient.tenant == COUNTY


def test_nobody_anywhere_reaches_the_county_seat_in_two_steps() -> None:
    recipient, steps = choose(Audience.CONTACT, [VILLAGE, TOWN, ROOT], {}, COUNTY)
    assert (recipient, steps) == (county_seat(COUNTY), 2)
    assert recipient.address == "seat:county_admin:650600" and recipient.label == "县委组织部"
    assert recipient.org_id == ""


def test_a_tree_without_its_county_committee_still_ends_at_the_county_seat() -> None:
    recipient, steps = choose(Audience.CONTACT, [VILLAGE, TOWN], {}, COUNTY)
    assert (recipient.address, steps) == ("seat:county_admin:650600", 2)


def test_township_audience_names_the_nearest_township_committee() -> None:
    recipient, steps = choose(Audience.TOWNSHIP, [VILLAGE, TOWN, ROOT], {"town": [officer("SECRETARY")],
                                                                           "village": [officer("SECRETARY", 2)]},
                              COUNTY)
    assert (recipient.address, steps) == ("seat:township_officer:town", 1)


def test_township_audience_without_a_township_goes_to_the_county() -> None:
    recipient, steps = choose(Audience.TOWNSHIP, [TEMP, STATION, ROOT], {"station": [officer("LIAISON")]}, COUNTY)
    assert (recipient.address, steps) == ("seat:county_admin:650600", 2)


def test_station_audience_counts_any_position_at_the_station_above() -> None:
    recipient, steps = choose(Audience.STATION, [TEMP, STATION, ROOT], {"station": [officer("GRID_LEADER")]},
                              COUNTY)
    assert (recipient.address, steps, recipient.label) == ("seat:station_staff:station", 1, "某县驻城党建工作站")


def test_county_audience_is_the_county_seat_at_once() -> None:
    recipient, steps = choose(Audience.COUNTY, [VILLAGE, TOWN, ROOT], {"village": [officer("SECRETARY")]}, COUNTY)
    assert (recipient.address, steps) == ("seat:county_admin:650600", 0)


def test_an_unknown_or_missing_org_reaches_the_county_seat() -> None:
    recipient, steps = choose(Audience.BRANCH, [], {}, COUNTY)
    assert (recipient.address, steps) == ("seat:county_admin:650600", 0)


def test_a_dissolved_org_has_nobody() -> None:
    gone = OrgEntry(id="village", parent_id="town", kind="VILLAGE_BRANCH", name="撤销的支部", dissolved=True)
    officers = {"village": [officer("SECRETARY", 1)], "town": [officer("SECRETARY", 2)]}
    recipient, steps = choose(Audience.BRANCH, [gone, TOWN, ROOT], officers, COUNTY)
    assert (recipient.address, steps) == ("seat:township_officer:town", 1)


def test_an_external_branch_with_a_guidance_officer_is_their_seat() -> None:
    assert seat_role("EXTERNAL_BRANCH", [officer("SECRETARY"), officer("GUIDANCE_OFFICER", 2)]) == "guidance_officer"
    assert seat_role("EXTERNAL_BRANCH", [officer("SECRETARY")]) == "branch_secretary"
    recipient, _ = choose(Audience.BRANCH, [EXTERNAL, ROOT], {"ext": [officer("SECRETARY"),
                                                                      officer("GUIDANCE_OFFICER", 2)]}, COUNTY)
    assert recipient.address == "seat:guidance_officer:ext"


def test_above_walks_from_the_parent_and_stops_at_the_county() -> None:
    officers = {"village": [officer("SECRETARY", 1)], "town": [officer("SECRETARY", 2)]}
    assert choose_above([VILLAGE, TOWN, ROOT], officers, COUNTY)[1] == "town"
    recipient, org_id = choose_above([VILLAGE, TOWN, ROOT], {"village": [officer("SECRETARY")]}, COUNTY)
    assert (recipient.address, org_id) == ("seat:county_admin:650600", None)
    assert choose_above([ROOT], {}, COUNTY) == (county_seat(COUNTY), None)
    assert choose_above([], {}, COUNTY) == (county_seat(COUNTY), None)
