"""The desk's replica of members, flows and the org tree, learned from registry's and organizations' events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# Kinds (organizations' OrgKind names without the prefix) whose queue is a station's.
STATION_KINDS = frozenset({"TOWN_STATION", "SERVICE_CENTER"})


@dataclass(frozen=True, slots=True)
class ReplicaOrg:
    """An organisation of the county (CONTRACT, issue 13)."""

    id: str
    parent_id: str | None
    name: str
    kind: str
    dissolved: bool

    @property
    def is_station(self) -> bool:
        """A 驻城党建工作站 or 服务中心: it has a queue of its own."""
        return self.kind in STATION_KINDS


@dataclass(frozen=True, slots=True)
class ReplicaMember:
    """A member of this county (their home county), and where they are if away (CONTRACT, issue 13)."""

    id: str
    name: str
    home_org_id: str | None
    township: str
    active: bool
    flow_id: str | None
    destination_code: str
    placing_tenant_id: str
    placed_org_id: str | None
    placed_org_name: str


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What a loan programme's rules are checked against: a member's facts from registry's MemberProfileChanged
    (CONTRACT, issue 14). Birth year only: the platform holds no full birth date beside a masked ID number."""

    member_id: str
    name: str
    home_org_id: str | None
    township: str
    active: bool
    # "MEMBERSHIP_STATUS_FULL", "MEMBERSHIP_STATUS_PROBATIONARY", or "" when registry has not said yet.
    membership_status: str
    join_date: date | None
    birth_year: int
    # EXCELLENT, COMPETENT, BASICALLY_COMPETENT, INCOMPETENT or "" (none complete), and its year.
    latest_grade: str
    latest_grade_year: int
    returned: bool
    # When the facts were last learned (None: only MemberRegistered is known, so no facts yet).
    facts_at: datetime | None


@dataclass(frozen=True, slots=True)
class Guest:
    """A member of another county placed in this one (临时组织关系) (CONTRACT, issue 13)."""

    flow_id: str
    origin_tenant_id: str
    member_id: str
    member_name: str
    id_number_masked: str
    org_id: str | None
    org_name: str
    # REGISTERED, OFFERED, CHECKED_IN, REFUSED or CLOSED.
    status: str


# A guest's placement only moves forward within an attempt: registered, offered, checked in, then refused or closed.
GUEST_RANK: dict[str, int] = {"REGISTERED": 0, "OFFERED": 1, "CHECKED_IN": 2, "REFUSED": 3, "CLOSED": 4}
# A guest in one of these is no longer served here as a member of this county's organisations.
GUEST_SHUT = frozenset({"REFUSED", "CLOSED"})
# The origin's view of the placing county's answer: an offer, then a check-in (报到) that outranks it.
PLACED_RANK: dict[str, int] = {"OFFERED": 1, "CHECKED_IN": 2}

_KIND_PREFIX = "ORG_KIND_"


def org_kind(name: str) -> str:
    """organizations' OrgKind name as the replica keeps it: without the proto enum's prefix."""
    return name.removeprefix(_KIND_PREFIX)


def hosts_guest(*, origin_tenant_id: str, placing_tenant_id: str, here: str) -> bool:
    """True when ``here`` places a member of another county: a county never hosts its own member as a guest (a flow
    out of the province is placed by the origin's own 驻外 organisations) and a flow placed nowhere is no one's."""
    return bool(placing_tenant_id) and placing_tenant_id == here and origin_tenant_id != here


# ---- member facts (issue 14): registry's MemberProfileChanged as the desk keeps it

_STATUS_PREFIX = "MEMBERSHIP_STATUS_"
MEMBERSHIP_STATUSES = frozenset({"MEMBERSHIP_STATUS_FULL", "MEMBERSHIP_STATUS_PROBATIONARY"})
GRADES = frozenset({"EXCELLENT", "COMPETENT", "BASICALLY_COMPETENT", "INCOMPETENT"})
# A birth or grade year outside these is no year registry could have meant: kept as unknown (0).
MIN_YEAR, MAX_YEAR = 1900, 9999


def membership_status(name: str) -> str:
    """registry's status as MemberFacts keeps it (with the proto enum's prefix, which registry's domain names
    lack); anything else is unknown ('')."""
    full = name if name.startswith(_STATUS_PREFIX) else _STATUS_PREFIX + name
    return full if full in MEMBERSHIP_STATUSES else ""


def _year(value: int) -> int:
    return value if MIN_YEAR <= value <= MAX_YEAR else 0


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def profile_facts(*, member_id: str, name: str, home_org_id: str | None, township: str, active: bool,
                  membership_status_name: str, join_date: str, birth_year: int, latest_grade: str,
                  latest_grade_year: int, returned: bool, at: datetime) -> MemberFacts:
    """A MemberProfileChanged's fields, checked, as the facts the desk keeps: an unknown status or grade, a date
    that is not one, or a year out of range is kept as unknown rather than trusted."""
    grade = latest_grade if latest_grade in GRADES else ""
    grade_year = _year(latest_grade_year) if grade else 0
    return MemberFacts(
        member_id=member_id, name=name, home_org_id=home_org_id, township=township, active=active,
        membership_status=membership_status(membership_status_name), join_date=_iso_date(join_date),
        birth_year=_year(birth_year), latest_grade=grade if grade_year else "", latest_grade_year=grade_year,
        returned=returned, facts_at=at,
    )
