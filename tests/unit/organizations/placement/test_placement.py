"""Placement rules (seed 001, DESIGN §3 step 2), in order, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.organizations.orgs.domain import Org, OrgKind, OrgStatus
from jinqiao.organizations.placement.domain import DEFAULT_RULES, Candidate, Request, Rule, Scope, place


def cand(name: str, kind: OrgKind, *, employer: str = "", coverage: tuple[str, ...] = (), city: str = "",
         industry: str = "", station_child: bool = False) -> Candidate:
    org = Org(id=name, tenant_id="410105", parent_id=None, name=name, kind=kind, city_code=city, founding_mode=None,
              industry=industry, status=OrgStatus.ACTIVE, depth=3, version=1, created_at=datetime.now(UTC))
    return Candidate(org=org, employer=employer, coverage=coverage, station_child=station_child)


IN_PROVINCE = [
    cand("富士康党支部", OrgKind.ENTERPRISE_BRANCH, employer="富士康科技集团"),
    cand("经三路社区党支部", OrgKind.COMMUNITY_BRANCH, coverage=("经三路", "纬五路")),
    cand("杨庄村党支部", OrgKind.VILLAGE_BRANCH, coverage=("杨庄村",)),
    cand("工作站临时党支部", OrgKind.TEMPORARY_BRANCH, station_child=True),
]
IN = DEFAULT_RULES[Scope.IN_PROVINCE]


def test_the_employers_branch_comes_first():
    result = place(Request("410105", "富士康科技集团", "电子制造", "经三路 12 号"), rules=IN, candidates=IN_PROVINCE)
    assert (result.candidate.org.name, result.rule) == ("富士康党支部", Rule.EMPLOYER_BRANCH)
    assert "富士康科技集团" in result.reason


def test_trade_and_services_go_to_the_community_of_the_residence():
    result = place(Request("410105", "个体", "餐饮服务", "金水区经三路 8 号"), rules=IN, candidates=IN_PROVINCE)
    assert (result.candidate.org.name, result.rule) == ("经三路社区党支部", Rule.RESIDENCE_COMMUNITY_BRANCH)


def test_farming_at_the_fringe_goes_to_the_village():
    result = place(Request("410105", "", "蔬菜种植", "杨庄村三组"), rules=IN, candidates=IN_PROVINCE)
    assert (result.candidate.org.name, result.rule) == ("杨庄村党支部", Rule.FRINGE_VILLAGE_BRANCH)


def test_otherwise_the_station_temporary_branch():
    result = place(Request("410105", "某装修队", "装修", "未知地址"), rules=IN, candidates=IN_PROVINCE)
    assert (result.candidate.org.name, result.rule) == ("工作站临时党支部", Rule.STATION_TEMPORARY_BRANCH)


def test_a_temporary_branch_not_under_a_station_is_not_the_station_rule():
    result = place(Request("410105", "", "装修", ""), rules=IN,
                   candidates=[cand("别的临时党支部", OrgKind.TEMPORARY_BRANCH)])
    assert result.candidate is None


def test_no_fit_says_so_and_advises_founding_a_temporary_branch():
    result = place(Request("410105", "", "装修", ""), rules=IN, candidates=[])
    assert result.candidate is None and "3 人以上" in result.advice and "临时党支部" in result.advice


def test_a_county_that_reorders_its_rules_gets_its_order():
    reordered = (Rule.RESIDENCE_COMMUNITY_BRANCH, Rule.EMPLOYER_BRANCH)
    result = place(Request("410105", "富士康科技集团", "电子", "经三路"), rules=reordered, candidates=IN_PROVINCE)
    assert result.rule is Rule.RESIDENCE_COMMUNITY_BRANCH


OUT = DEFAULT_RULES[Scope.OUT_OF_PROVINCE]
OUTSIDE = [
    cand("驻上海党总支", OrgKind.EXTERNAL_GENERAL_BRANCH, city="310000"),
    cand("驻上海建筑党支部", OrgKind.EXTERNAL_BRANCH, city="310000", industry="建筑"),
    cand("驻上海物流党支部", OrgKind.EXTERNAL_BRANCH, city="310000", industry="物流"),
    cand("建筑行业党支部", OrgKind.INDUSTRY_BRANCH, industry="建筑"),
    cand("网上党支部", OrgKind.ONLINE_BRANCH),
]


def test_outside_the_province_the_countys_own_branch_of_the_trade_in_that_city():
    result = place(Request("310000", "", "建筑施工", ""), rules=OUT, candidates=OUTSIDE)
    assert (result.candidate.org.name, result.rule) == ("驻上海建筑党支部", Rule.EXTERNAL_BRANCH_IN_CITY)


def test_outside_the_province_without_a_trade_match_a_branch_before_the_general_branch():
    result = place(Request("310000", "", "家政", ""), rules=OUT, candidates=OUTSIDE)
    assert result.candidate.org.kind is OrgKind.EXTERNAL_BRANCH


def test_a_city_without_an_external_branch_falls_to_the_industry_then_the_online_branch():
    assert place(Request("440300", "", "建筑", ""), rules=OUT, candidates=OUTSIDE).rule is Rule.INDUSTRY_BRANCH
    online = place(Request("440300", "", "家政", ""), rules=OUT, candidates=OUTSIDE)
    assert (online.candidate.org.name, online.rule) == ("网上党支部", Rule.ONLINE_BRANCH)
