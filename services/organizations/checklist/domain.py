"""The 七有 checklist of an external branch (seed 000): seven things it must have. No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from jinqiao.kit.errors import FailedPrecondition, InvalidArgument
from jinqiao.organizations.orgs.domain import EXTERNAL_KINDS, Org

EVIDENCE_MAX = 500


class Item(IntEnum):
    """The seven items (values match the proto enum)."""

    ACTIVITY_ROOM = 1
    SIGN_AND_FLAG = 2
    REGISTER_AND_ROSTER = 3
    RULES = 4
    WORK_PLAN = 5
    STUDY_MATERIALS = 6
    ACTIVITY_RECORDS = 7


LABELS = {
    Item.ACTIVITY_ROOM: "有活动室", Item.SIGN_AND_FLAG: "有牌子和党旗", Item.REGISTER_AND_ROSTER: "有登记卡和花名册",
    Item.RULES: "有规章制度", Item.WORK_PLAN: "有工作计划", Item.STUDY_MATERIALS: "有学习材料",
    Item.ACTIVITY_RECORDS: "有活动记录",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One item's state; ``updated_at`` None means nobody has recorded it yet."""

    item: Item
    done: bool
    evidence: str
    updated_at: datetime | None


def ensure_external(org: Org) -> None:
    """The checklist belongs to 驻外党组织 only."""
    if org.kind not in EXTERNAL_KINDS:
        raise FailedPrecondition("“七有”清单只适用于驻外党总支、驻外党支部")


def parse_item(value: int, *, evidence: str) -> tuple[Item, str]:
    """Validate an update's item and evidence note."""
    try:
        item = Item(value)
    except ValueError:
        raise InvalidArgument.field("item", "清单项无效") from None
    note = " ".join(evidence.split())
    if len(note) > EVIDENCE_MAX:
        raise InvalidArgument.field("evidence", f"佐证说明不能超过 {EVIDENCE_MAX} 个字符")
    return item, note


@dataclass(frozen=True, slots=True)
class Checklist:
    """All seven entries in order and the completeness in percent."""

    entries: list[Entry]
    completeness_percent: int


def complete(recorded: dict[Item, Entry]) -> Checklist:
    """All seven entries in order (missing ones not done) and the completeness in percent."""
    entries = [recorded.get(item, Entry(item=item, done=False, evidence="", updated_at=None)) for item in Item]
    return Checklist(entries=entries, completeness_percent=round(100 * sum(e.done for e in entries) / len(entries)))
