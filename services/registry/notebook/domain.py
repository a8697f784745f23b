"""活动记事本 and 双向评议: notebook entries, grades and the merged yearly evaluation. No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum

from jinqiao.kit.errors import FieldViolation, InvalidArgument


class Grade(IntEnum):
    """民主评议 grades, best first (values match the proto enum)."""

    EXCELLENT = 1
    COMPETENT = 2
    BASICALLY_COMPETENT = 3
    INCOMPETENT = 4


# ------------------------------------------------------------------------------------------------ 活动记事本


@dataclass(frozen=True, slots=True)
class Activity:
    """One entry of a member's 活动记事本."""

    id: str
    occurred_on: date
    title: str
    note: str
    org_name: str
    source: str
    verified: bool


MEETING_TITLES = {"GENERAL_MEETING": "支部党员大会", "COMMITTEE_MEETING": "支委会", "GROUP_MEETING": "党小组会",
                  "PARTY_LECTURE": "党课", "THEME_DAY": "主题党日"}


def meeting_title(meeting_type: str) -> str:
    """The notebook's title of an attended meeting (三会一课 by type, else 组织生活)."""
    return MEETING_TITLES.get(meeting_type, "组织生活")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one of a member's flows was placed, and whether it is still open (else the day it closed)."""

    flow_id: str
    placing_tenant_id: str
    open: bool
    closed_on: date | None


def placed_in(county: str, *, placements: list[Placement], on: date, flow_id: str | None = None) -> bool:
    """Whether a flow of the member (``flow_id`` if named) was placed in ``county`` on that day.

    An open flow counts, and a closed one up to its closing day: an entry recorded just before a return may
    arrive after it.
    """
    return any(p.placing_tenant_id == county and (flow_id is None or p.flow_id == flow_id)
               and (p.open or (p.closed_on is not None and p.closed_on >= on)) for p in placements)


# ------------------------------------------------------------------------------------------------ 双向评议


def merged_grade(destination: int, home: int) -> tuple[int, bool]:
    """The evaluation's grade: the lower of both sides once both are in; one side alone is provisional."""
    sides = [g for g in (destination, home) if g]
    if not sides:
        return 0, False
    return max(sides), len(sides) == 2


def validate_assessment(*, year: int, grade: int, comment: str, today: date) -> tuple[int, Grade, str]:
    """The home branch's side of a yearly evaluation."""
    violations: list[FieldViolation] = []
    if not 2000 <= year <= today.year:
        violations.append(FieldViolation("year", f"年度须在 2000 至 {today.year} 之间"))
    try:
        parsed = Grade(grade)
    except ValueError:
        violations.append(FieldViolation("grade", "评议等次须为优秀、合格、基本合格或不合格"))
        parsed = Grade.COMPETENT
    if len(comment) > 500:
        violations.append(FieldViolation("comment", "评语不能超过 500 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return year, parsed, comment.strip()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A member's yearly 双向评议: both sides and the merged grade."""

    member_id: str
    year: int
    destination_grade: int
    destination_comment: str
    destination_org_name: str
    home_grade: int
    home_comment: str

    @property
    def final(self) -> tuple[int, bool]:
        """The merged grade and whether both sides are in."""
        return merged_grade(self.destination_grade, self.home_grade)
