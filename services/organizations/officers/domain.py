"""Officers and their appointments: positions, which organisations may have which, dates. No framework imports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import IntEnum

from jinqiao.kit import pii
from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.organizations.orgs.domain import EXTERNAL_KINDS, NAME_MAX, OrgKind


class Position(IntEnum):
    """Values match the proto enum."""

    SECRETARY = 1
    DEPUTY_SECRETARY = 2
    ORGANIZATION_COMMITTEE_MEMBER = 3
    GUIDANCE_OFFICER = 4
    LIAISON = 5
    GRID_LEADER = 6


LABELS = {
    Position.SECRETARY: "书记", Position.DEPUTY_SECRETARY: "副书记",
    Position.ORGANIZATION_COMMITTEE_MEMBER: "组织委员", Position.GUIDANCE_OFFICER: "党建指导员",
    Position.LIAISON: "联络员", Position.GRID_LEADER: "网格长",
}
# Guidance officers and liaisons are dispatched by the county to organisations serving members away (seed 000);
# grid leaders work for a station or a township.
_DISPATCHED_TO = EXTERNAL_KINDS | {OrgKind.TOWN_STATION, OrgKind.SERVICE_CENTER, OrgKind.TEMPORARY_BRANCH}
ALLOWED_KINDS: dict[Position, frozenset[OrgKind]] = {
    Position.GUIDANCE_OFFICER: frozenset(_DISPATCHED_TO),
    Position.LIAISON: frozenset(_DISPATCHED_TO),
    Position.GRID_LEADER: frozenset({OrgKind.TOWN_STATION, OrgKind.SERVICE_CENTER, OrgKind.TOWNSHIP_COMMITTEE}),
}


@dataclass(frozen=True, slots=True)
class NewOfficer:
    """A person to record: name and a validated phone number."""

    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class Appointment:
    """One person in one position of one organisation for a period; the phone only masked."""

    id: str
    officer_id: str
    officer_name: str
    phone_masked: str
    org_id: str
    org_name: str
    city_code: str
    position: Position
    start_date: date
    end_date: date | None


def parse_position(value: int, *, org_kind: OrgKind) -> Position:
    """A known position that the organisation's kind can have."""
    try:
        position = Position(value)
    except ValueError:
        raise InvalidArgument.field("position", "职务无效") from None
    allowed = ALLOWED_KINDS.get(position)
    if allowed is not None and org_kind not in allowed:
        raise InvalidArgument.field("position", f"{LABELS[position]}只能设在驻外党组织、工作站或服务中心")
    return position


def parse_date(value: str, *, field: str, today: date) -> date:
    """A required ISO date not later than today."""
    if not value.strip():
        raise InvalidArgument.field(field, "必填")
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidArgument.field(field, "日期格式应为 YYYY-MM-DD") from None
    if parsed > today:
        raise InvalidArgument.field(field, "不能晚于今天")
    return parsed


def validate_new_officer(*, name: str, phone: str) -> NewOfficer:
    """Name and phone of a new person, all violations at once."""
    violations: list[FieldViolation] = []
    clean = " ".join(name.split())
    if not clean:
        violations.append(FieldViolation("name", "必填"))
    elif len(clean) > NAME_MAX:
        violations.append(FieldViolation("name", f"不能超过 {NAME_MAX} 个字符"))
    clean_phone = ""
    try:
        clean_phone = pii.validate_phone(phone)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(violations)
    return NewOfficer(name=clean, phone=clean_phone)


GRID_HOSTS = frozenset({OrgKind.TOWN_STATION, OrgKind.SERVICE_CENTER, OrgKind.TOWNSHIP_COMMITTEE})
MAX_GRID_ITEMS = 500


@dataclass(frozen=True, slots=True)
class Grid:
    """A cell of 网格化管理: its leader (masked phone), addresses and members."""

    id: str
    org_id: str
    name: str
    leader_officer_id: str | None
    leader_name: str
    leader_phone_masked: str
    addresses: tuple[str, ...]
    member_ids: tuple[str, ...]


def validate_grid(*, name: str, org_kind: OrgKind, addresses: list[str], member_ids: list[str]) -> tuple[
        str, tuple[str, ...], tuple[str, ...]]:
    """A grid's name, addresses and member ids, under a station, service centre or township."""
    violations: list[FieldViolation] = []
    if org_kind not in GRID_HOSTS:
        violations.append(FieldViolation("org_id", "网格只能设在驻城党建工作站、服务中心或乡镇党委之下"))
    clean = " ".join(name.split())
    if not clean or len(clean) > NAME_MAX:
        violations.append(FieldViolation("name", f"必填，且不超过 {NAME_MAX} 个字符"))
    areas = tuple(dict.fromkeys(" ".join(a.split()) for a in addresses if a.strip()))
    if len(areas) > MAX_GRID_ITEMS or any(len(a) > NAME_MAX for a in areas):
        violations.append(FieldViolation("addresses", f"最多 {MAX_GRID_ITEMS} 条，每条不超过 {NAME_MAX} 个字符"))
    members: list[str] = []
    for raw in member_ids:
        try:
            members.append(str(uuid.UUID(raw)))
        except ValueError:
            violations.append(FieldViolation("member_ids", f"党员编号无效：{raw[:40]}"))
            break
    if len(members) > MAX_GRID_ITEMS:
        violations.append(FieldViolation("member_ids", f"最多 {MAX_GRID_ITEMS} 人"))
    if violations:
        raise InvalidArgument(violations)
    return clean, areas, tuple(dict.fromkeys(members))
