"""Organisation tree rules: which kind of organisation may sit under which, and what each must carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from jinqiao.kit import authz, fields
from jinqiao.kit.authz import Permission
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant

NAME_MAX = 100
MAX_COVERAGE = 50


class OrgKind(IntEnum):
    """What an organisation is (values match the proto enum)."""

    COUNTY_COMMITTEE = 1  # 县委
    TOWNSHIP_COMMITTEE = 2  # 乡镇党委
    VILLAGE_BRANCH = 3  # 村党支部
    COMMUNITY_BRANCH = 4  # 社区党支部
    ENTERPRISE_BRANCH = 5  # 企业党支部
    INSTITUTION_BRANCH = 6  # 机关事业单位党支部
    EXTERNAL_GENERAL_BRANCH = 7  # 驻外党总支
    EXTERNAL_BRANCH = 8  # 驻外党支部
    TOWN_STATION = 9  # 驻城(镇)党建工作站
    SERVICE_CENTER = 10  # 流动党员管理服务中心/服务站
    TEMPORARY_BRANCH = 11  # 临时党支部
    ONLINE_BRANCH = 12  # 网上党支部
    FUNCTIONAL_GROUP = 13  # 功能党小组
    INDUSTRY_BRANCH = 14  # 行业党支部


class FoundingMode(IntEnum):
    """单独建, 依托建, 挂靠建, 联合建."""

    STANDALONE = 1
    HOSTED = 2
    AFFILIATED = 3
    JOINT = 4


class OrgStatus(IntEnum):
    """Active or dissolved."""

    ACTIVE = 1
    DISSOLVED = 2


K = OrgKind
_BRANCHES = {K.VILLAGE_BRANCH, K.COMMUNITY_BRANCH, K.ENTERPRISE_BRANCH, K.INSTITUTION_BRANCH, K.INDUSTRY_BRANCH}
# The kinds each kind may have as children (seeds 000-003: county → township → village/community/enterprise;
# 驻外党总支 → 驻外党支部; stations host temporary branches and groups).
ALLOWED_CHILDREN: dict[OrgKind, frozenset[OrgKind]] = {
    K.COUNTY_COMMITTEE: frozenset({K.TOWNSHIP_COMMITTEE, K.EXTERNAL_GENERAL_BRANCH, K.EXTERNAL_BRANCH, K.TOWN_STATION,
                                   K.SERVICE_CENTER, K.ONLINE_BRANCH, K.INDUSTRY_BRANCH, K.INSTITUTION_BRANCH,
                                   K.ENTERPRISE_BRANCH, K.TEMPORARY_BRANCH}),
    K.TOWNSHIP_COMMITTEE: frozenset(_BRANCHES | {K.TOWN_STATION, K.SERVICE_CENTER, K.TEMPORARY_BRANCH}),
    K.EXTERNAL_GENERAL_BRANCH: frozenset({K.EXTERNAL_BRANCH, K.FUNCTIONAL_GROUP, K.TEMPORARY_BRANCH}),
    K.EXTERNAL_BRANCH: frozenset({K.FUNCTIONAL_GROUP}),
    K.TOWN_STATION: frozenset({K.TEMPORARY_BRANCH, K.FUNCTIONAL_GROUP}),
    K.SERVICE_CENTER: frozenset({K.TEMPORARY_BRANCH, K.FUNCTIONAL_GROUP}),
    **{kind: frozenset({K.FUNCTIONAL_GROUP}) for kind in _BRANCHES | {K.TEMPORARY_BRANCH, K.ONLINE_BRANCH}},
    K.FUNCTIONAL_GROUP: frozenset(),
}
EXTERNAL_KINDS = frozenset({K.EXTERNAL_GENERAL_BRANCH, K.EXTERNAL_BRANCH})


@dataclass(frozen=True, slots=True)
class NewOrg:
    """A validated organisation to found."""

    name: str
    kind: OrgKind
    city_code: str
    founding_mode: FoundingMode | None
    industry: str
    employer: str = ""
    coverage: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation of the tree."""

    id: str
    tenant_id: str
    parent_id: str | None
    name: str
    kind: OrgKind
    city_code: str
    founding_mode: FoundingMode | None
    industry: str
    status: OrgStatus
    depth: int
    version: int
    created_at: datetime
    employer: str = ""
    coverage: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Located:
    """An organisation with its path in the tree (the ltree text, labels joined by dots)."""

    org: Org
    path: str


@dataclass(frozen=True, slots=True)
class OrgPage:
    """A page of organisations and the token of the next page ('' on the last)."""

    orgs: list[Org]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class MovedOrg:
    """An organisation after a move, and how many organisations moved with it (itself included)."""

    org: Org
    moved: int


def ensure_may_write(role: str) -> None:
    """Only the county's organisation department and township officers shape the tree (for now)."""
    authz.require(role, Permission.ORGS_WRITE, "当前角色无权调整党组织设置")


def ensure_may_keep_org_life(role: str) -> None:
    """三会一课, attendance and 七有: the county, townships, stations, guidance officers and branch secretaries."""
    authz.require(role, Permission.ORG_LIFE_WRITE, "当前角色无权记录组织生活")


def visible(*, path: str, scope_path: str | None, own_org_only: bool) -> bool:
    """Whether an organisation at ``path`` lies inside the caller's scope."""
    if scope_path is None:
        return True
    if own_org_only:
        return path == scope_path
    return path == scope_path or path.startswith(scope_path + ".")


def ensure_may_read(role: str) -> None:
    """Staff of the county read the tree; analysts see aggregates only."""
    authz.require(role, Permission.ORGS_READ, "当前角色无权查看党组织")


def clean_name(value: str, *, violations: list[FieldViolation]) -> str:
    """Collapse white space; required, at most NAME_MAX characters."""
    return fields.text(value, field="name", limit=NAME_MAX, required=True, violations=violations)


def validate_new_org(*, name: str, kind: int, city_code: str, founding_mode: int, industry: str,
                     has_parent: bool, employer: str = "", coverage: Sequence[str] = ()) -> NewOrg:
    """Check a new organisation's own fields, reporting every violation at once."""
    violations: list[FieldViolation] = []
    clean = clean_name(name, violations=violations)
    try:
        org_kind = OrgKind(kind)
    except ValueError:
        violations.append(FieldViolation("kind", "组织类别无效"))
        raise InvalidArgument(violations) from None
    mode: FoundingMode | None = None
    if org_kind in EXTERNAL_KINDS:
        try:
            parse_tenant(city_code)
        except InvalidTenant:
            violations.append(FieldViolation("city_code", "驻外党组织须填写所在城市的行政区划代码（6 位）"))
        try:
            mode = FoundingMode(founding_mode)
        except ValueError:
            violations.append(
                FieldViolation("founding_mode", "驻外党组织须填写组建方式（单独建、依托建、挂靠建、联合建）")
            )
    elif city_code:
        violations.append(FieldViolation("city_code", "只有驻外党组织填写所在城市"))
    industry_clean = " ".join(industry.split())
    if org_kind is K.INDUSTRY_BRANCH and not industry_clean:
        violations.append(FieldViolation("industry", "行业党支部须填写行业"))
    if has_parent == (org_kind is K.COUNTY_COMMITTEE):
        field = "parent_id"
        violations.append(FieldViolation(field, "县委是唯一的根组织，其他组织须有上级组织"))
    areas = tuple(dict.fromkeys(" ".join(a.split()) for a in coverage if a.strip()))
    if len(areas) > MAX_COVERAGE or any(len(a) > NAME_MAX for a in areas):
        violations.append(FieldViolation("coverage", f"覆盖地址最多 {MAX_COVERAGE} 条，每条不超过 {NAME_MAX} 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return NewOrg(name=clean, kind=org_kind, city_code=city_code if org_kind in EXTERNAL_KINDS else "",
                  founding_mode=mode, industry=industry_clean, employer=" ".join(employer.split())[:NAME_MAX],
                  coverage=areas)


def ensure_may_sit_under(*, child: OrgKind, parent: Org) -> None:
    """A kind may only sit under the kinds that allow it, and never under a dissolved organisation."""
    if parent.status is OrgStatus.DISSOLVED:
        raise FailedPrecondition("上级组织已撤销")
    if child not in ALLOWED_CHILDREN[parent.kind]:
        raise InvalidArgument.field("parent_id", f"{_LABEL[child]}不能设在{_LABEL[parent.kind]}之下")


def ensure_may_dissolve(*, org: Org, active_children: int, members: int) -> None:
    """Only an empty organisation may be dissolved; the county committee never."""
    if org.kind is K.COUNTY_COMMITTEE:
        raise FailedPrecondition("县委不能撤销")
    if org.status is OrgStatus.DISSOLVED:
        raise FailedPrecondition("该组织已撤销")
    if active_children or members:
        raise FailedPrecondition(
            f"该组织下仍有 {active_children} 个下级组织、{members} 名党员，须先转移后才能撤销"
        )


_LABEL = {
    K.COUNTY_COMMITTEE: "县委", K.TOWNSHIP_COMMITTEE: "乡镇党委", K.VILLAGE_BRANCH: "村党支部",
    K.COMMUNITY_BRANCH: "社区党支部", K.ENTERPRISE_BRANCH: "企业党支部", K.INSTITUTION_BRANCH: "机关事业单位党支部",
    K.EXTERNAL_GENERAL_BRANCH: "驻外党总支", K.EXTERNAL_BRANCH: "驻外党支部", K.TOWN_STATION: "驻城党建工作站",
    K.SERVICE_CENTER: "流动党员服务中心", K.TEMPORARY_BRANCH: "临时党支部", K.ONLINE_BRANCH: "网上党支部",
    K.FUNCTIONAL_GROUP: "功能党小组", K.INDUSTRY_BRANCH: "行业党支部",
}
