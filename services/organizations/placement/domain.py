"""Placement (DESIGN §3 step 2, seed 001): which organisation should take a mobile member in, and why.

Pure rules over candidate organisations; no framework imports. The order of the rules is data per county.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from jinqiao.kit import authz
from jinqiao.kit.authz import Permission
from jinqiao.kit.errors import InvalidArgument
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant, province_of
from jinqiao.organizations.orgs.domain import Org, OrgKind, OrgStatus

TEMPORARY_BRANCH_THRESHOLD = 3  # 3 or more members going to one place warrant a 临时党支部


def ensure_may_set_rules(role: str) -> None:
    """The rule order binds every township of the county: only the county department sets it."""
    authz.require(role, Permission.PLACEMENT_WRITE, "只有县委组织部可以调整安置规则")


class Rule(IntEnum):
    """Ways of choosing an organisation (values match the proto enum)."""

    EMPLOYER_BRANCH = 1
    RESIDENCE_COMMUNITY_BRANCH = 2
    FRINGE_VILLAGE_BRANCH = 3
    STATION_TEMPORARY_BRANCH = 4
    EXTERNAL_BRANCH_IN_CITY = 5
    INDUSTRY_BRANCH = 6
    ONLINE_BRANCH = 7


class Scope(IntEnum):
    """Inside or outside the province."""

    IN_PROVINCE = 1
    OUT_OF_PROVINCE = 2


DEFAULT_RULES: dict[Scope, tuple[Rule, ...]] = {
    Scope.IN_PROVINCE: (Rule.EMPLOYER_BRANCH, Rule.RESIDENCE_COMMUNITY_BRANCH, Rule.FRINGE_VILLAGE_BRANCH,
                        Rule.STATION_TEMPORARY_BRANCH),
    Scope.OUT_OF_PROVINCE: (Rule.EXTERNAL_BRANCH_IN_CITY, Rule.INDUSTRY_BRANCH, Rule.ONLINE_BRANCH),
}
RULES_FOR_SCOPE: dict[Scope, frozenset[Rule]] = {
    Scope.IN_PROVINCE: frozenset({Rule.EMPLOYER_BRANCH, Rule.RESIDENCE_COMMUNITY_BRANCH, Rule.FRINGE_VILLAGE_BRANCH,
                                  Rule.STATION_TEMPORARY_BRANCH, Rule.INDUSTRY_BRANCH, Rule.ONLINE_BRANCH}),
    Scope.OUT_OF_PROVINCE: frozenset({Rule.EXTERNAL_BRANCH_IN_CITY, Rule.INDUSTRY_BRANCH, Rule.ONLINE_BRANCH,
                                      Rule.EMPLOYER_BRANCH}),
}
# Farming work at the urban fringe goes to the village; trade and services to the community (seed 001).
_FARMING = ("农", "种植", "养殖", "林", "牧", "渔")


@dataclass(frozen=True, slots=True)
class Request:
    """Where and how the member works."""

    destination_code: str
    employer: str
    industry: str
    address: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """An organisation with what placement matches on."""

    org: Org
    employer: str
    coverage: tuple[str, ...]
    station_child: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    """The chosen organisation, the rule and the reason; or none and what to do instead."""

    candidate: Candidate | None
    rule: Rule | None
    reason: str
    advice: str = ""


def is_farming(industry: str) -> bool:
    """True for agricultural work."""
    return any(word in industry for word in _FARMING)


def _norm(text: str) -> str:
    return "".join(text.split()).lower()


def _covers(candidate: Candidate, address: str) -> str | None:
    where = _norm(address)
    return next((area for area in candidate.coverage if area and _norm(area) in where), None)


def _first(candidates: Sequence[Candidate], kinds: set[OrgKind]) -> list[Candidate]:
    return [c for c in candidates if c.org.kind in kinds and c.org.status is OrgStatus.ACTIVE]


def _try(rule: Rule, request: Request, candidates: Sequence[Candidate]) -> tuple[Candidate, str] | None:
    if rule is Rule.EMPLOYER_BRANCH and request.employer.strip():
        employer = _norm(request.employer)
        for c in _first(candidates, {OrgKind.ENTERPRISE_BRANCH, OrgKind.EXTERNAL_BRANCH}):
            if c.employer and _norm(c.employer) == employer:
                return c, f"所在单位「{request.employer.strip()}」已建党组织"
    if rule is Rule.RESIDENCE_COMMUNITY_BRANCH and request.address.strip() and not is_farming(request.industry):
        for c in _first(candidates, {OrgKind.COMMUNITY_BRANCH}):
            if area := _covers(c, request.address):
                return c, f"从事流通、服务业，居住地「{area}」属该社区党组织"
    if rule is Rule.FRINGE_VILLAGE_BRANCH and request.address.strip() and is_farming(request.industry):
        for c in _first(candidates, {OrgKind.VILLAGE_BRANCH}):
            if area := _covers(c, request.address):
                return c, f"在城郊从事种养业，居住地「{area}」属该村党组织"
    if rule is Rule.STATION_TEMPORARY_BRANCH:
        for c in _first(candidates, {OrgKind.TEMPORARY_BRANCH}):
            if c.station_child:
                return c, "无单位、居住地党组织可接收，纳入驻城党建工作站临时党支部"
    if rule is Rule.EXTERNAL_BRANCH_IN_CITY:
        in_city = [c for c in _first(candidates, {OrgKind.EXTERNAL_BRANCH, OrgKind.EXTERNAL_GENERAL_BRANCH})
                   if c.org.city_code == request.destination_code]
        same_trade = [c for c in in_city if c.org.industry and c.org.industry in request.industry]
        # A trade branch in that city first, then a plain branch, then the general branch above them.
        ordered = same_trade + sorted(in_city, key=lambda c: c.org.kind is OrgKind.EXTERNAL_GENERAL_BRANCH)
        if ordered:
            return ordered[0], "本县在流入城市设有驻外党组织"
    if rule is Rule.INDUSTRY_BRANCH and request.industry.strip():
        for c in _first(candidates, {OrgKind.INDUSTRY_BRANCH}):
            if c.org.industry and c.org.industry in request.industry:
                return c, f"按行业「{c.org.industry}」纳入行业党支部"
    if rule is Rule.ONLINE_BRANCH:
        for c in _first(candidates, {OrgKind.ONLINE_BRANCH}):
            return c, "流入地无合适党组织，纳入网上党支部管理"
    return None


def place(request: Request, *, rules: Sequence[Rule], candidates: Sequence[Candidate]) -> Placement:
    """Try each rule in the county's order; the first that finds an organisation wins."""
    for rule in rules:
        found = _try(rule, request, candidates)
        if found:
            return Placement(candidate=found[0], rule=rule, reason=found[1])
    return Placement(
        candidate=None, rule=None, reason="没有符合安置规则的党组织",
        advice=f"同一流入地流动党员达到 {TEMPORARY_BRANCH_THRESHOLD} 人以上且无党组织的，应成立临时党支部；"
               "不足的，纳入网上党支部或由流出地党组织直接管理",
    )


@dataclass(frozen=True, slots=True)
class RuleOrder:
    """A county's rule order for a scope, and whether it is the default one."""

    rules: list[Rule]
    is_default: bool


def scope_for(*, tenant: str, destination_code: str) -> Scope:
    """Whether a destination lies outside the province; inside it, only the county's own code is placed here."""
    try:
        code = parse_tenant(destination_code)
    except InvalidTenant:
        raise InvalidArgument.field("destination_code", "流入地须为 6 位行政区划代码") from None
    if province_of(code) != province_of(tenant):
        return Scope.OUT_OF_PROVINCE
    if code != tenant:
        # Inside the province the destination county places the member in its own tree (DESIGN §3 step 2).
        raise InvalidArgument.field("destination_code", "省内流入的，由流入地县级党委安置，只能查询本县")
    return Scope.IN_PROVINCE


def parse_scope(value: int) -> Scope:
    """A scope from the wire."""
    try:
        return Scope(value)
    except ValueError:
        raise InvalidArgument.field("scope", "须为省内(IN_PROVINCE)或省外(OUT_OF_PROVINCE)") from None


def parse_rules(values: list[int], *, scope: Scope) -> list[Rule]:
    """A new rule order: known rules, at least one, none twice, each applying to the scope."""
    try:
        parsed = [Rule(r) for r in values]
    except ValueError:
        raise InvalidArgument.field("rules", "安置规则无效") from None
    if not parsed or len(set(parsed)) != len(parsed):
        raise InvalidArgument.field("rules", "须至少一条规则，且不能重复")
    if not set(parsed) <= RULES_FOR_SCOPE[scope]:
        raise InvalidArgument.field("rules", "含有不适用于该范围的规则")
    return parsed
