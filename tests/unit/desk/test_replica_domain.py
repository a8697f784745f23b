"""The replica's pure rules: kinds, stations, who hosts a guest, and the order of a placement's steps."""

from __future__ import annotations

from jinqiao.desk.replica.domain import GUEST_RANK, GUEST_SHUT, PLACED_RANK, ReplicaOrg, hosts_guest, org_kind


def _org(kind: str) -> ReplicaOrg:
    return ReplicaOrg(id="o", parent_id=None, name="站", kind=kind, dissolved=False)


def test_org_kind_drops_the_proto_prefix_and_keeps_a_bare_name() -> None:
    assert org_kind("ORG_KIND_TOWN_STATION") == "TOWN_STATION"
    assert org_kind("SERVICE_CENTER") == "SERVICE_CENTER"


def test_only_stations_and_service_centres_have_a_queue() -> None:
    assert _org("TOWN_STATION").is_station and _org("SERVICE_CENTER").is_station
    assert not _org("TEMPORARY_BRANCH").is_station and not _org("").is_station


def test_a_county_hosts_only_another_countys_member_placed_in_it() -> None:
    assert hosts_guest(origin_tenant_id="650450", placing_tenant_id="650451", here="650451")
    # Placed elsewhere, placed nowhere, or the origin's own 驻外 organisations out of the province.
    assert not hosts_guest(origin_tenant_id="650450", placing_tenant_id="650452", here="650451")
    assert not hosts_guest(origin_tenant_id="650450", placing_tenant_id="", here="650451")
    assert not hosts_guest(origin_tenant_id="650450", placing_tenant_id="650450", here="650450")


def test_a_check_in_outranks_an_offer_and_a_closure_ends_everything() -> None:
    assert GUEST_RANK["REGISTERED"] < GUEST_RANK["OFFERED"] < GUEST_RANK["CHECKED_IN"] < GUEST_RANK["CLOSED"]
    assert PLACED_RANK["OFFERED"] < PLACED_RANK["CHECKED_IN"]
    assert {"REFUSED", "CLOSED"} == GUEST_SHUT and not GUEST_SHUT & {"REGISTERED", "OFFERED", "CHECKED_IN"}
