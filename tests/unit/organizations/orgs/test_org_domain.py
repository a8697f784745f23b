"""Organisation tree rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jinqiao.kit.errors import FailedPrecondition, InvalidArgument
from jinqiao.organizations.orgs import domain
from jinqiao.organizations.orgs.domain import FoundingMode, OrgKind, OrgStatus


def org(kind: OrgKind, status: OrgStatus = OrgStatus.ACTIVE) -> domain.Org:
    return domain.Org(id="x", tenant_id="411525", parent_id=None, name="n", kind=kind, city_code="",
                      founding_mode=None, industry="", status=status, depth=1, version=1,
                      created_at=datetime.now(UTC))


def violated(**fields: object) -> set[str]:
    values: dict[str, object] = {"name": "北京党支部", "kind": int(OrgKind.EXTERNAL_BRANCH), "city_code": "110000",
                                 "founding_mode": int(FoundingMode.HOSTED), "industry": "", "has_parent": True}
    values.update(fields)
    with pytest.raises(InvalidArgument) as caught:
        domain.validate_new_org(**values)  # type: ignore[arg-type]
    return {v.field for v in caught.value.violations}


def test_an_external_branch_needs_its_city_and_founding_mode():
    assert violated(city_code="", founding_mode=0) == {"city_code", "founding_mode"}


def test_only_external_organisations_name_a_city():
    assert violated(kind=int(OrgKind.VILLAGE_BRANCH)) == {"city_code"}


def test_an_industry_branch_names_its_industry():
    assert violated(kind=int(OrgKind.INDUSTRY_BRANCH), city_code="", founding_mode=0) == {"industry"}


def test_only_the_county_committee_has_no_parent():
    assert violated(kind=int(OrgKind.COUNTY_COMMITTEE), city_code="", has_parent=True) == {"parent_id"}
    assert violated(kind=int(OrgKind.VILLAGE_BRANCH), city_code="", has_parent=False) == {"parent_id"}


def test_unknown_kind_is_refused():
    assert violated(kind=99) == {"kind"}


def test_a_valid_external_branch_is_normalised():
    new = domain.validate_new_org(name=" 固始县驻北京  流动党员党支部 ", kind=int(OrgKind.EXTERNAL_BRANCH),
                                  city_code="110000", founding_mode=int(FoundingMode.JOINT), industry="",
                                  has_parent=True)
    assert (new.name, new.founding_mode) == ("固始县驻北京 流动党员党支部", FoundingMode.JOINT)


@pytest.mark.parametrize(("child", "parent"), [
    (OrgKind.TOWNSHIP_COMMITTEE, OrgKind.TOWNSHIP_COMMITTEE),
    (OrgKind.VILLAGE_BRANCH, OrgKind.COUNTY_COMMITTEE),
    (OrgKind.EXTERNAL_GENERAL_BRANCH, OrgKind.TOWNSHIP_COMMITTEE),
    (OrgKind.TOWNSHIP_COMMITTEE, OrgKind.FUNCTIONAL_GROUP),
])
def test_kinds_sit_only_under_kinds_that_allow_them(child, parent):
    with pytest.raises(InvalidArgument):
        domain.ensure_may_sit_under(child=child, parent=org(parent))


def test_nothing_is_founded_under_a_dissolved_organisation():
    with pytest.raises(FailedPrecondition):
        domain.ensure_may_sit_under(child=OrgKind.FUNCTIONAL_GROUP, parent=org(OrgKind.VILLAGE_BRANCH,
                                                                               OrgStatus.DISSOLVED))


def test_a_non_empty_organisation_cannot_be_dissolved():
    with pytest.raises(FailedPrecondition, match="下级组织"):
        domain.ensure_may_dissolve(org=org(OrgKind.TOWNSHIP_COMMITTEE), active_children=2, members=0)
    with pytest.raises(FailedPrecondition):
        domain.ensure_may_dissolve(org=org(OrgKind.VILLAGE_BRANCH), active_children=0, members=3)
    with pytest.raises(FailedPrecondition):
        domain.ensure_may_dissolve(org=org(OrgKind.COUNTY_COMMITTEE), active_children=0, members=0)
    domain.ensure_may_dissolve(org=org(OrgKind.VILLAGE_BRANCH), active_children=0, members=0)
