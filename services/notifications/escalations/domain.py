"""Escalations: states, kinds and how each climbs. No framework imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from jinqiao.kit.errors import InvalidArgument
from jinqiao.notifications.directory.domain import Audience


class EscalationState(IntEnum):
    """Values match the proto enum."""

    OPEN = 1
    ACKNOWLEDGED = 2
    RESOLVED = 3


@dataclass(frozen=True, slots=True)
class Ladder:
    """Where a kind of escalation starts (the audience at its org) and its template kind."""

    kind: str
    subject_type: str
    start: Audience
    template: str


LADDERS: dict[str, Ladder] = {
    # 报到 overdue: the home branch's contact (village), then the township committee, then the county department.
    "check_in_overdue": Ladder("check_in_overdue", "flow", Audience.CONTACT, "check_in_overdue"),
    # A breached SLA: the station (queue) serving the ticket, then up the tree to the county.
    "ticket_sla_breached": Ladder("ticket_sla_breached", "ticket", Audience.STATION, "ticket_sla_breached"),
    # A review tier past its limit: the tier's office, then up.
    "loan_step_overdue": Ladder("loan_step_overdue", "loan", Audience.BRANCH, "loan_step_overdue"),
}


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalation as stored."""

    id: str
    kind: str
    subject_type: str
    subject_id: str
    member_id: str | None
    state: EscalationState
    level: int
    audience: str
    start_org_id: str | None
    org_id: str | None
    org_name: str
    facts: dict[str, str]
    opened_at: datetime
    next_escalation_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str
    note: str
    resolved_at: datetime | None
    version: int


STATE_LABELS = {EscalationState.OPEN: "待确认", EscalationState.ACKNOWLEDGED: "已确认",
                EscalationState.RESOLVED: "已办结"}
NOT_FOUND = "未找到该逐级提醒"
ALREADY_ACKNOWLEDGED = "该逐级提醒已确认"
ALREADY_RESOLVED = "该事项已办结，无需确认"
NOTE_MAX = 500
# What the office reached is called when it is the county department itself (the top of every walk).
COUNTY_OFFICE_LABEL = "县委组织部"


def level_audience(kind: str, level: int) -> Audience | None:
    """The office a level of ``kind`` means by itself, or None when a level only counts steps up the tree.

    The registry numbers an overdue 报到's levels by office, not by steps: 1 the village (the branch's contact),
    2 the township committee, 3 the county department. Between a branch and its township there may be other orgs
    (a 总支), and a branch with nobody already reached the township at level 1, so level 2 means "at least the
    township committee" and 3 the county seat, whatever the number of steps.
    """
    if kind != "check_in_overdue":
        return None
    if level <= 1:
        return LADDERS[kind].start
    return Audience.TOWNSHIP if level == 2 else Audience.COUNTY


def refusal_to_acknowledge(state: EscalationState) -> str | None:
    """Why an escalation in ``state`` cannot be acknowledged (a person's words), or None when it can."""
    if state is EscalationState.ACKNOWLEDGED:
        return ALREADY_ACKNOWLEDGED
    if state is EscalationState.RESOLVED:
        return ALREADY_RESOLVED
    return None


def validate_note(note: str) -> str:
    """An acknowledgement's note, trimmed: at most NOTE_MAX characters."""
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidArgument.field("note", f"不能超过 {NOTE_MAX} 个字符")
    return note


def level_facts(kind: str, facts: Mapping[str, str], *, level: int, label: str, org_name: str) -> dict[str, str]:
    """The facts a level's message is rendered with: the matter's own, the level and the office told.

    For an overdue 报到 ``org_name`` is the organisation receiving the reminder; for the other kinds it names the
    matter's own station or org (the trigger's), so it is kept.
    """
    merged = {key: str(value) for key, value in facts.items()}
    merged["level"] = str(level)
    merged["level_label"] = label
    if kind == "check_in_overdue" or "org_name" not in merged:
        merged["org_name"] = org_name
    return merged
