"""Addresses, audiences and recipients: whom a notice is for. No framework imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Audience(StrEnum):
    """Which office at (or above) an organisation a notice is for."""

    CONTACT = "contact"  # the branch's contact (联络员, else its 书记/副书记): the village end of an escalation
    BRANCH = "branch"  # the branch's secretary (书记/副书记): home-branch news, 支部推荐
    TOWNSHIP = "township"  # the township committee (乡镇党委) above the org
    STATION = "station"  # the 驻城党建工作站/服务中心 serving the org (its staff, grid leaders, 联络员)
    COUNTY = "county"  # the county department (组织部): always there, the top of every walk


# Addresses: who an in-app row is for and whose choices apply.
#   member:<member_id>         a member (their home county's tenant)
#   user:<username>            one login (a ticket's assignee; a person's own choices and contacts)
#   seat:<role>:<org_id>       an office: every login with that role at that org (county_admin: the county code;
#                              bank_officer: the bank's code)
def member_address(member_id: str) -> str:
    """A member's address."""
    return f"member:{member_id}"


def user_address(username: str) -> str:
    """One login's address."""
    return f"user:{username}"


def seat_address(role: str, org: str) -> str:
    """An office's address."""
    return f"seat:{role}:{org}"


@dataclass(frozen=True, slots=True)
class Officer:
    """An appointed person at an org, phone sealed as the directory stores it (AAD: county, "dir_appointments",
    "phone_enc", appointment id; ``directory.service.officer_phone`` opens it)."""

    appointment_id: str
    officer_id: str
    name: str
    position: str
    phone_sealed: bytes | None
    phone_masked: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address a notice goes to, in one county, with what the channels need besides the person's choices."""

    address: str
    tenant: str
    label: str
    # The org the office sits at (for a seat), else "".
    org_id: str = ""
    # For a seat: the officers appointed there (SMS goes to their phones).
    officers: tuple[Officer, ...] = ()


@dataclass(frozen=True, slots=True)
class OrgEntry:
    """An org as the directory knows it."""

    id: str
    parent_id: str | None
    kind: str
    name: str
    dissolved: bool


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """A county's own member as the directory knows it."""

    id: str
    name: str
    home_org_id: str | None
    township: str
    active: bool


# ---- the org tree's kinds (OrgCreated.kind: the OrgKind enum's NAME) and the positions (OfficerAppointed.position)

COUNTY_KIND = "COUNTY_COMMITTEE"
TOWNSHIP_KIND = "TOWNSHIP_COMMITTEE"
STATION_KINDS = frozenset({"TOWN_STATION", "SERVICE_CENTER"})
EXTERNAL_KINDS = frozenset({"EXTERNAL_GENERAL_BRANCH", "EXTERNAL_BRANCH"})
POSITIONS = frozenset({"SECRETARY", "DEPUTY_SECRETARY", "ORGANIZATION_COMMITTEE_MEMBER", "GUIDANCE_OFFICER",
                       "LIAISON", "GRID_LEADER"})
SECRETARIES = frozenset({"SECRETARY", "DEPUTY_SECRETARY"})
COMMITTEE = SECRETARIES | {"ORGANIZATION_COMMITTEE_MEMBER"}
# The county department (组织部): every county has it, whoever its admins are; the top of every walk.
COUNTY_ROLE = "county_admin"
COUNTY_LABEL = "县委组织部"
POSITION_LABELS = {"SECRETARY": "书记", "DEPUTY_SECRETARY": "副书记", "ORGANIZATION_COMMITTEE_MEMBER": "组织委员",
                   "GUIDANCE_OFFICER": "党建指导员", "LIAISON": "联络员", "GRID_LEADER": "网格长"}

# A guest's temporary membership at this county's org, in the only order it may move (an event arriving late never
# moves a row back: closed is for good, checked in beats offered).
GUEST_STATES = ("offered", "checked_in", "closed")


def county_seat(tenant: str) -> Recipient:
    """The county department's seat: every county_admin login of the county (org: the county code)."""
    return Recipient(address=seat_address(COUNTY_ROLE, tenant), tenant=tenant, label=COUNTY_LABEL)


def office_positions(kind: str) -> frozenset[str]:
    """The positions that make up an org's own office when a walk passes it: a township committee's 书记/副书记/
    组织委员, a station's whole staff, any other org's 书记/副书记."""
    if kind == TOWNSHIP_KIND:
        return COMMITTEE
    if kind in STATION_KINDS:
        return POSITIONS
    return SECRETARIES


def audience_positions(audience: Audience, kind: str, present: frozenset[str]) -> frozenset[str]:
    """The positions that count for ``audience`` at the org it names (``present``: positions held there now)."""
    if audience is Audience.CONTACT:
        # The branch's 联络员 when it has one (the person dispatched to keep in touch), else its secretaries.
        return frozenset({"LIAISON"}) if "LIAISON" in present else SECRETARIES
    if audience is Audience.BRANCH:
        return SECRETARIES
    if audience is Audience.TOWNSHIP:
        return COMMITTEE
    if audience is Audience.STATION:
        return POSITIONS
    return office_positions(kind)


def target_index(audience: Audience, chain: Sequence[OrgEntry]) -> int | None:
    """Where in ``chain`` (the org first, then its parents) the audience's office sits; None: the county seat."""
    for index, entry in enumerate(chain):
        if entry.kind == COUNTY_KIND or audience is Audience.COUNTY:
            return None
        if audience in (Audience.CONTACT, Audience.BRANCH):
            return index
        if audience is Audience.TOWNSHIP and entry.kind == TOWNSHIP_KIND:
            return index
        if audience is Audience.STATION and entry.kind in STATION_KINDS:
            return index
    return None


def seat_role(kind: str, officers: Sequence[Officer]) -> str:
    """The login role of an org's office: the role its officers sign in with."""
    if kind == TOWNSHIP_KIND:
        return "township_officer"
    if kind in STATION_KINDS:
        return "station_staff"
    if kind == COUNTY_KIND:
        return COUNTY_ROLE
    if kind in EXTERNAL_KINDS and any(o.position == "GUIDANCE_OFFICER" for o in officers):
        return "guidance_officer"
    return "branch_secretary"


def office_label(entry: OrgEntry, positions: frozenset[str]) -> str:
    """How a message names the office: the org's name (a committee, a station) or its name and the post."""
    if entry.kind == TOWNSHIP_KIND or entry.kind in STATION_KINDS:
        return entry.name
    if positions == frozenset({"LIAISON"}):
        return f"{entry.name}联络员"
    return f"{entry.name}书记"


def _office(entry: OrgEntry, tenant: str, positions: frozenset[str], here: Sequence[Officer]) -> Recipient | None:
    """The org's office for ``positions`` when somebody holds one of them; None when nobody does."""
    if entry.dissolved:
        return None
    counted = tuple(o for o in here if o.position in positions)
    if not counted:
        return None
    return Recipient(address=seat_address(seat_role(entry.kind, here), entry.id), tenant=tenant,
                     label=office_label(entry, positions), org_id=entry.id, officers=counted)


def _walk(chain: Sequence[OrgEntry], start: int, officers: Mapping[str, Sequence[Officer]],
          tenant: str) -> tuple[Recipient, int]:
    """From ``chain[start]`` up: the first org whose own office has somebody, else the county seat."""
    for index in range(start, len(chain)):
        entry = chain[index]
        if entry.kind == COUNTY_KIND:
            return county_seat(tenant), index
        found = _office(entry, tenant, office_positions(entry.kind), officers.get(entry.id, ()))
        if found is not None:
            return found, index
    return county_seat(tenant), len(chain)


def choose(audience: Audience, chain: Sequence[OrgEntry], officers: Mapping[str, Sequence[Officer]],
           tenant: str) -> tuple[Recipient, int]:
    """The office ``audience`` names in ``chain`` (the org first, then its parents; ``officers``: active ones by
    org), walking up while nobody holds a counted position; steps = how far above the org the office sits."""
    index = target_index(audience, chain)
    if audience is Audience.COUNTY:
        return county_seat(tenant), 0
    if index is None:
        top = next((i for i, e in enumerate(chain) if e.kind == COUNTY_KIND), len(chain))
        return county_seat(tenant), top
    entry = chain[index]
    here = officers.get(entry.id, ())
    positions = audience_positions(audience, entry.kind, frozenset(o.position for o in here))
    found = _office(entry, tenant, positions, here)
    if found is not None:
        return found, index
    return _walk(chain, index + 1, officers, tenant)


def choose_above(chain: Sequence[OrgEntry], officers: Mapping[str, Sequence[Officer]],
                 tenant: str) -> tuple[Recipient, str | None]:
    """The next office above an org (``chain``: the org first, then its parents): its nearest parent whose office
    has somebody, or the county seat (org None) at the top."""
    recipient, _ = _walk(chain, 1, officers, tenant)
    return recipient, (recipient.org_id or None)
