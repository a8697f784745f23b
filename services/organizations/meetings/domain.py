"""三会一课 and 主题党日: meeting rules and attendance. No framework imports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from urllib.parse import urlsplit

from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant

TITLE_MAX = 100
TEXT_MAX = 2000
MAX_ENTRIES = 500
GUEST_NOT_HELD = "该党员在本组织及其下级组织没有临时组织关系（待报到或已报到），不能记录其出席"


class MeetingType(IntEnum):
    """Values match the proto enum."""

    GENERAL_MEETING = 1
    COMMITTEE_MEETING = 2
    GROUP_MEETING = 3
    PARTY_LECTURE = 4
    THEME_DAY = 5


class Status(IntEnum):
    """Values match the proto enum."""

    PRESENT = 1
    ABSENT = 2
    ON_LEAVE = 3


@dataclass(frozen=True, slots=True)
class NewMeeting:
    """A validated meeting to schedule."""

    type: MeetingType
    title: str
    starts_at: datetime
    place: str
    online_link: str
    agenda: str


@dataclass(frozen=True, slots=True)
class Meeting:
    """A meeting with its attendance counts."""

    id: str
    org_id: str
    type: MeetingType
    title: str
    starts_at: datetime
    place: str
    online_link: str
    agenda: str
    present: int
    guests: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One member at one meeting; a member of another county is a guest (流动党员参加流入地组织生活)."""

    member_id: str
    home_tenant_id: str
    status: Status
    # Where the entry stood in the request, so that a refusal names the caller's own field.
    index: int = 0


@dataclass(frozen=True, slots=True)
class Attendance:
    """A member at one meeting: how they attended, and whether as a guest from another county."""

    meeting: Meeting
    status: Status
    guest: bool


def validate_meeting(*, type_: int, title: str, starts_at: datetime | None, place: str, online_link: str,
                     agenda: str) -> NewMeeting:
    """All violations at once; a place or an https link is needed."""
    violations: list[FieldViolation] = []
    try:
        kind = MeetingType(type_)
    except ValueError:
        violations.append(FieldViolation("type", "会议类型无效（支部党员大会、支委会、党小组会、党课、主题党日）"))
        kind = MeetingType.GENERAL_MEETING
    clean_title = " ".join(title.split())
    if not clean_title or len(clean_title) > TITLE_MAX:
        violations.append(FieldViolation("title", f"必填，且不超过 {TITLE_MAX} 个字符"))
    if starts_at is None:
        violations.append(FieldViolation("start_time", "必填"))
    link = online_link.strip()
    if link and (urlsplit(link).scheme != "https" or not urlsplit(link).netloc):
        violations.append(FieldViolation("online_link", "线上会议链接须为 https 地址"))
    clean_place = " ".join(place.split())
    if not clean_place and not link:
        violations.append(FieldViolation("place", "须填写会议地点或线上会议链接"))
    if len(clean_place) > TITLE_MAX or len(agenda) > TEXT_MAX:
        violations.append(FieldViolation("agenda", f"地点不超过 {TITLE_MAX} 字，议程不超过 {TEXT_MAX} 字"))
    if violations:
        raise InvalidArgument(violations)
    assert starts_at is not None
    return NewMeeting(type=kind, title=clean_title, starts_at=starts_at, place=clean_place, online_link=link,
                      agenda=agenda.strip())


def foreign_id_violations(entries: list[Entry], *, tenant: str, own_held: set[str],
                          guests_held: set[tuple[str, str]]) -> list[FieldViolation]:
    """Every entry naming a member this county does not legitimately hold, by its field.

    A member of this county must be one it holds (``own_held``: ids from the registry's events); a guest from
    another county must hold an open temporary membership in the meeting organisation's subtree for that home
    county (``guests_held``: pairs of home county and member id), or any county could write into a stranger's
    活动记事本.
    """
    violations: list[FieldViolation] = []
    for e in entries:
        if e.home_tenant_id == tenant and e.member_id not in own_held:
            violations.append(FieldViolation(f"entries[{e.index}].member_id", "本县没有该党员（或已转出）"))
        elif e.home_tenant_id != tenant and (e.home_tenant_id, e.member_id) not in guests_held:
            violations.append(FieldViolation(f"entries[{e.index}].member_id", GUEST_NOT_HELD))
    return violations


def validate_entries(raw: list[tuple[str, str, int]]) -> list[Entry]:
    """Attendance entries: member uuid, home county code, status; the last entry of a member wins."""
    if not raw or len(raw) > MAX_ENTRIES:
        raise InvalidArgument.field("entries", f"须有 1 至 {MAX_ENTRIES} 条")
    entries: dict[str, Entry] = {}
    for i, (member_id, home, status) in enumerate(raw):
        try:
            entries[str(uuid.UUID(member_id))] = Entry(member_id=str(uuid.UUID(member_id)),
                                                       home_tenant_id=parse_tenant(home), status=Status(status),
                                                       index=i)
        except (ValueError, InvalidTenant):
            raise InvalidArgument.field(f"entries[{i}]", "党员编号、所属县代码或出席情况无效") from None
    return list(entries.values())
