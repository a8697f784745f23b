"""Addresses, audiences and recipients: whom a notice is for. No framework imports."""

from __future__ import annotations

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
    """An appointed person at an org, phone sealed (AAD: county, "officer_event", "phone", appointment id)."""

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
