"""Meeting rules without a database: which attendance entries name a member the county may record."""

from __future__ import annotations

import uuid

import pytest

from jinqiao.kit.errors import InvalidArgument
from jinqiao.organizations.meetings import domain

HERE, HOME = "410103", "411524"
OWN, GUEST, STRANGER = (str(uuid.uuid4()) for _ in range(3))


def _entries(*rows: tuple[str, str]) -> list[domain.Entry]:
    return domain.validate_entries([(member, home, int(domain.Status.PRESENT)) for member, home in rows])


def test_own_members_and_placed_guests_pass():
    entries = _entries((OWN, HERE), (GUEST, HOME))
    assert domain.foreign_id_violations(entries, tenant=HERE, own_held={OWN}, guests_held={(HOME, GUEST)}) == []


def test_a_stranger_is_named_by_its_position_in_the_request():
    entries = _entries((OWN, HERE), (STRANGER, HOME), (GUEST, HOME))
    violations = domain.foreign_id_violations(entries, tenant=HERE, own_held={OWN}, guests_held={(HOME, GUEST)})
    assert [v.field for v in violations] == ["entries[1].member_id"]
    assert "临时组织关系" in violations[0].description


def test_a_guest_placed_for_another_home_county_or_claimed_as_own_is_refused():
    # The membership names the member's home county: the same id claimed from elsewhere is someone else.
    assert [v.field for v in domain.foreign_id_violations(
        _entries((GUEST, "411527")), tenant=HERE, own_held=set(), guests_held={(HOME, GUEST)})] == [
        "entries[0].member_id"]
    assert [v.description for v in domain.foreign_id_violations(
        _entries((GUEST, HERE)), tenant=HERE, own_held=set(), guests_held={(HOME, GUEST)})] == [
        "本县没有该党员（或已转出）"]


def test_a_repeated_member_keeps_the_position_of_its_last_entry():
    entries = domain.validate_entries([(STRANGER, HOME, 1), (OWN, HERE, 1), (STRANGER, HOME, 2)])
    assert [(e.member_id, e.index, e.status) for e in entries] == [
        (STRANGER, 2, domain.Status.ABSENT), (OWN, 1, domain.Status.PRESENT)]
    with pytest.raises(InvalidArgument):
        domain.validate_entries([("not-an-id", HOME, 1)])
