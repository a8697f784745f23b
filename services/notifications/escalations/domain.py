"""Escalations: states, kinds and how each climbs. No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

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
