"""Erasure: when a departed member's personal fields may go, and what a departure must state. No framework imports.

What is personal and erased (DESIGN §5): the ID and phone numbers (ciphertexts and blind index), the household and
flow addresses, a flow's contact phone, and the day and month of birth (the year stays for the age statistics). The
name, gender, township, village, dates of joining and the flows' places stay: the Party's records of a member
(名册, 组织关系 history, the six ledgers) name the person, and every count and foreign key keeps its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from jinqiao.registry.members.domain import DEPARTURE_NAMES, Departure, RecordStatus

REASON_MIN = 4
REASON_MAX = 200
# Why an erasure ran: the retention period after the record ended, or an explicit request.
RETENTION = "RETENTION"
REQUEST = "REQUEST"


@dataclass(frozen=True, slots=True)
class DepartureInput:
    """A validated departure: how the record ended, on which day, and why."""

    departure: Departure
    ended_on: date
    reason: str

    @property
    def record_status(self) -> RecordStatus:
        """去世 or 出党."""
        return RecordStatus.DECEASED if self.departure is Departure.DECEASED else RecordStatus.LEFT_PARTY


def clean_reason(reason: str, *, field: str = "reason", what: str = "删除个人信息") -> str:
    """A stated reason (it goes into the audit row), whitespace folded."""
    clean = " ".join(reason.split())
    if len(clean) < REASON_MIN or len(clean) > REASON_MAX:
        raise InvalidArgument.field(field, f"{what}须说明理由（{REASON_MIN}至{REASON_MAX}个字）")
    return clean


def validate_departure(*, departure: int, on: str, reason: str, today: date) -> DepartureInput:
    """Check a departure's fields, every violation at once."""
    violations: list[FieldViolation] = []
    kind = Departure.NONE
    try:
        kind = Departure(departure)
    except ValueError:
        pass
    if kind is Departure.NONE:
        violations.append(FieldViolation("departure", "须为去世、退党、除名或开除党籍之一"))
    ended: date | None = None
    try:
        ended = date.fromisoformat(on.strip())
        if ended > today:
            violations.append(FieldViolation("date", "日期不能晚于今天"))
    except ValueError:
        violations.append(FieldViolation("date", "日期格式应为 YYYY-MM-DD"))
    clean = " ".join(reason.split())
    if len(clean) < REASON_MIN or len(clean) > REASON_MAX:
        violations.append(FieldViolation("reason", f"须说明理由（{REASON_MIN}至{REASON_MAX}个字）"))
    if violations or ended is None:
        raise InvalidArgument(violations)
    return DepartureInput(departure=kind, ended_on=ended, reason=clean)


def departure_summary(entry: DepartureInput) -> str:
    """The audit row's reason of a recorded departure."""
    return f"{DEPARTURE_NAMES[entry.departure]}（{entry.ended_on.isoformat()}）：{entry.reason}"[:500]


def ensure_may_end(*, record_status: int, open_flow: bool) -> None:
    """Only a record the county holds ends, and not while the member is away on an open flow."""
    if record_status != RecordStatus.ACTIVE:
        raise FailedPrecondition("该党员的组织关系已不在本县（已转出、去世或出党），不能重复登记")
    if open_flow:
        raise FailedPrecondition("该党员有未结束的外出流动，请先办理回归或转出")


def ensure_may_erase(*, record_status: int, open_flow: bool) -> None:
    """Erasure where the law allows it: a record that ended (转出, 去世, 出党) with no flow still open."""
    if record_status == RecordStatus.ACTIVE:
        raise FailedPrecondition("该党员的组织关系仍在本县，依法不能删除其个人信息")
    if open_flow:
        raise FailedPrecondition("该党员有未结束的外出流动，依法不能删除其个人信息")


def erasure_due_by(*, today: date, period_days: int) -> date:
    """The last day a record may have ended for its personal fields to be due for erasure today."""
    return today - timedelta(days=period_days)
