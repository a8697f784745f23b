"""The authorization table: each permission, the roles that hold it and the scope their grant reaches.

Every service and the gateway ask this table instead of keeping role sets of their own (DESIGN §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jinqiao.kit.auth import Role
from jinqiao.kit.errors import PermissionDenied


class Reach(StrEnum):
    """How far a role's grant reaches inside the county it acts on."""

    COUNTY = "county"  # the whole tenant
    ORG_SUBTREE = "org_subtree"  # the caller's organisation and everything under it
    OWN_ORG = "own_org"  # the caller's organisation only
    SELF = "self"  # the caller's own person
    AGGREGATE = "aggregate"  # counts over a scope, never a person


class Permission(StrEnum):
    """What a caller may do; the value names it in logs and tests."""

    MEMBERS_READ = "members.read"
    MEMBERS_WRITE = "members.write"
    MEMBERS_REVEAL = "members.reveal"
    FLOWS_WRITE = "flows.write"
    DEVELOPMENT_READ = "development.read"
    DEVELOPMENT_WRITE = "development.write"
    LEDGERS_EXPORT = "ledgers.export"
    ORGS_READ = "orgs.read"
    ORGS_WRITE = "orgs.write"
    MEMBERSHIPS_HANDLE = "memberships.handle"
    INSIGHTS_READ = "insights.read"


# Where a role's grant is confined below the county (a role not named here reaches the whole county).
REACH: dict[Role, Reach] = {
    Role.PROVINCE_ANALYST: Reach.AGGREGATE,
    Role.CITY_ANALYST: Reach.AGGREGATE,
    Role.TOWNSHIP_OFFICER: Reach.ORG_SUBTREE,
    Role.STATION_STAFF: Reach.ORG_SUBTREE,
    Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE,
    Role.BRANCH_SECRETARY: Reach.OWN_ORG,
    Role.MEMBER: Reach.SELF,
}

_STAFF = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER, Role.STATION_STAFF, Role.GUIDANCE_OFFICER,
                    Role.BRANCH_SECRETARY})

TABLE: dict[Permission, frozenset[Role]] = {
    Permission.MEMBERS_READ: frozenset({Role.COUNTY_ADMIN}),
    Permission.MEMBERS_WRITE: frozenset({Role.COUNTY_ADMIN}),
    # Revealing a full ID number is the county department's act alone, always audited with a reason.
    Permission.MEMBERS_REVEAL: frozenset({Role.COUNTY_ADMIN}),
    Permission.FLOWS_WRITE: frozenset({Role.COUNTY_ADMIN}),
    Permission.DEVELOPMENT_READ: frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER, Role.BRANCH_SECRETARY,
                                            Role.GUIDANCE_OFFICER}),
    Permission.DEVELOPMENT_WRITE: frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER}),
    Permission.LEDGERS_EXPORT: frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER}),
    Permission.ORGS_READ: _STAFF,
    Permission.ORGS_WRITE: frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER}),
    Permission.MEMBERSHIPS_HANDLE: _STAFF,
    Permission.INSIGHTS_READ: frozenset({Role.PROVINCE_ANALYST, Role.CITY_ANALYST, Role.COUNTY_ADMIN}),
}


@dataclass(frozen=True, slots=True)
class Grant:
    """A permission held by a role, and how far it reaches."""

    permission: Permission
    role: Role
    reach: Reach


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` at all (its reach is checked where the object is known)."""
    return role in TABLE[permission]


def require(role: str, permission: Permission, message: str) -> None:
    """Refuse with ``message`` (zh-CN, shown to the caller) unless ``role`` holds ``permission``."""
    if not allows(role, permission):
        raise PermissionDenied(message)


def reach(role: str) -> Reach:
    """How far a role's grants reach; unknown roles reach nothing wider than themselves."""
    try:
        return REACH.get(Role(role), Reach.COUNTY)
    except ValueError:
        return Reach.SELF


def confined_to_org(role: str) -> bool:
    """Roles that see only their organisation (and, for most, what lies under it)."""
    return reach(role) in (Reach.ORG_SUBTREE, Reach.OWN_ORG)


def grants() -> list[Grant]:
    """Every (permission, role) pair the table grants, for the route × role matrix test."""
    return [Grant(permission=p, role=r, reach=reach(r)) for p, roles in TABLE.items() for r in sorted(roles)]
