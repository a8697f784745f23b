"""发展党员 among migrants: stages, 培养联系人, 双向考察 and the rules between them. No framework imports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum, StrEnum

from jinqiao.kit import fields, pii
from jinqiao.kit.authz import Permission, require
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument

NAME_MAX = 50
TEXT_MAX = 100
SUMMARY_MAX = 1000
REQUEST_ID_MAX = 100
MIN_APPLICATION_AGE = 18
MENTORS_PER_SIDE = 2
# 培养考察一年以上 (activist → candidate) and the one-year 预备期 (probationary → full).
MIN_ACTIVIST_YEARS = 1
MIN_PROBATION_YEARS = 1
# Dates are entered as the county sees the calendar; China has one time zone and no daylight saving.

_REGION = re.compile(r"[1-8][0-9]{5}")


class Stage(IntEnum):
    """申请人 → 入党积极分子 → 发展对象 → 预备党员 → 正式党员 (values as in the proto)."""

    APPLICANT = 1
    ACTIVIST = 2
    CANDIDATE = 3
    PROBATIONARY = 4
    FULL = 5


STAGE_LABEL = {
    Stage.APPLICANT: "入党申请人",
    Stage.ACTIVIST: "入党积极分子",
    Stage.CANDIDATE: "发展对象",
    Stage.PROBATIONARY: "预备党员",
    Stage.FULL: "正式党员",
}


class Side(StrEnum):
    """Which end a mentor or an inspection belongs to: home (流出地) or destination (流入地)."""

    HOME = "HOME"
    DESTINATION = "DESTINATION"


SIDE_LABEL = {Side.HOME: "流出地", Side.DESTINATION: "流入地"}

def ensure_may_write(role: str) -> None:
    """The county's organisation department and township committees record and advance applicants."""
    require(role, Permission.DEVELOPMENT_WRITE, "当前角色无权办理发展党员事项")


def ensure_may_read(role: str) -> None:
    """Applicants are persons: county and township staff, branch secretaries and guidance officers only."""
    require(role, Permission.DEVELOPMENT_READ, "当前角色不能查看发展党员个人信息")


@dataclass(frozen=True, slots=True)
class NewMentor:
    """A validated 培养联系人 (still holding the clear phone number)."""

    name: str
    phone: str | None
    side: Side
    org_name: str


@dataclass(frozen=True, slots=True)
class NewApplicant:
    """A validated, normalised application (still holding the clear ID and phone numbers)."""

    name: str
    id_number: str
    phone: str | None
    gender: str
    birth_date: date
    township: str
    village: str
    destination_code: str
    employer: str
    application_date: date
    mentors: tuple[NewMentor, ...]
    delegated: bool
    delegated_org_name: str


@dataclass(frozen=True, slots=True)
class Mentor:
    """A mentor as responses show it (phone masked)."""

    name: str
    phone_masked: str
    side: Side
    org_name: str


@dataclass(frozen=True, slots=True)
class Inspection:
    """One 双向考察 report."""

    id: str
    side: Side
    inspected_on: date
    inspector: str
    summary: str


@dataclass(frozen=True, slots=True)
class NewInspection:
    """A validated inspection, before it has an id."""

    side: Side
    inspected_on: date
    inspector: str
    summary: str


@dataclass(frozen=True, slots=True)
class Applicant:
    """An applicant as every response shows it: ID and phone numbers masked."""

    id: str
    tenant_id: str
    name: str
    id_number_masked: str
    phone_masked: str
    gender: str
    birth_date: date
    township: str
    village: str
    destination_code: str
    employer: str
    stage: Stage
    stages: tuple[tuple[Stage, date], ...]
    mentors: tuple[Mentor, ...]
    inspections: tuple[Inspection, ...]
    delegated: bool
    delegated_org_name: str
    version: int
    created_at: datetime
    home_org_id: str = ""

    @property
    def away(self) -> bool:
        """Whether the applicant works away from home (双向考察 then applies)."""
        return bool(self.destination_code)

    def reached_on(self, stage: Stage) -> date | None:
        """The date the applicant reached a stage, if they did."""
        return next((on for s, on in self.stages if s == stage), None)


def parse_date(value: str, *, field: str, today: date, violations: list[FieldViolation],
               required: bool = True) -> date | None:
    """An ISO date that is not in the future; problems are appended to ``violations``."""
    text = value.strip()
    if not text:
        if required:
            violations.append(FieldViolation(field, "必填，格式为 YYYY-MM-DD"))
        return None
    try:
        # fromisoformat also takes 20240101 and week dates; the form says YYYY-MM-DD, so hold it to that.
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        parsed = date.fromisoformat(text)
    except ValueError:
        violations.append(FieldViolation(field, "日期格式错误，应为 YYYY-MM-DD"))
        return None
    if parsed > today:
        violations.append(FieldViolation(field, "不能晚于今天"))
        return None
    return parsed


def add_years(start: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 1 March, so a full year has always passed."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def parse_side(value: str, *, field: str, violations: list[FieldViolation]) -> Side | None:
    """HOME or DESTINATION (case-insensitive)."""
    try:
        return Side(value.strip().upper())
    except ValueError:
        violations.append(FieldViolation(field, "须为流出地(HOME)或流入地(DESTINATION)"))
        return None


def _mentors(mentors: list[tuple[str, str, str, str]], *, violations: list[FieldViolation]) -> tuple[NewMentor, ...]:
    checked: list[NewMentor] = []
    for i, (name, phone, side_text, org_name) in enumerate(mentors):
        at = f"mentors[{i}]"
        clean_name = fields.text(name, field=f"{at}.name", limit=NAME_MAX, required=True, violations=violations)
        clean_phone = None
        if phone.strip():
            try:
                clean_phone = pii.validate_phone(phone, field=f"{at}.phone")
            except InvalidArgument as exc:
                violations.extend(exc.violations)
        side = parse_side(side_text, field=f"{at}.side", violations=violations)
        clean_org = fields.text(org_name, field=f"{at}.org_name", limit=TEXT_MAX, required=False, violations=violations)
        if side is not None:
            checked.append(NewMentor(name=clean_name, phone=clean_phone, side=side, org_name=clean_org))
    return tuple(checked)


def validate_new_applicant(
    *, name: str, id_number: str, phone: str, township: str, village: str, destination_code: str, employer: str,
    application_date: str, mentors: list[tuple[str, str, str, str]], delegated: bool, delegated_org_name: str,
    home_code: str, today: date,
) -> NewApplicant:
    """Check every field of an application (入党申请), report all violations at once, return it normalised.

    ``mentors`` are (name, phone, side, org_name); ``home_code`` is the county the applicant belongs to.
    """
    violations: list[FieldViolation] = []
    clean_name = fields.text(name, field="name", limit=NAME_MAX, required=True, violations=violations)
    clean_id = fields.id_number(id_number, violations=violations, today=today)
    clean_phone = fields.optional_phone(phone, violations=violations)
    clean_township = fields.text(township, field="township", limit=TEXT_MAX, required=False, violations=violations)
    clean_village = fields.text(village, field="village", limit=TEXT_MAX, required=False, violations=violations)
    clean_employer = fields.text(employer, field="employer", limit=TEXT_MAX, required=False, violations=violations)
    destination = destination_code.strip()
    if destination and not _REGION.fullmatch(destination):
        violations.append(FieldViolation("destination_code", "应为6位行政区划代码（GB/T 2260）"))
    elif destination and destination == home_code:
        violations.append(FieldViolation("destination_code", "务工地不能是本县（市、区）"))
    applied = parse_date(application_date, field="application_date", today=today, violations=violations)
    birth = pii.id_number_birth_date(clean_id) if clean_id else None
    if applied and birth and applied < add_years(birth, MIN_APPLICATION_AGE):
        violations.append(FieldViolation("application_date", f"申请入党时须年满{MIN_APPLICATION_AGE}周岁"))
    checked = _mentors(mentors, violations=violations)
    _mentor_rules(checked, away=bool(destination), violations=violations)
    org_name = fields.text(delegated_org_name, field="delegated_org_name", limit=TEXT_MAX, required=False,
                     violations=violations)
    if delegated and not destination:
        violations.append(FieldViolation("delegated", "委托培养须填写务工地（destination_code）"))
    if delegated and not org_name and not any(m.side is Side.DESTINATION for m in checked):
        violations.append(FieldViolation("delegated_org_name", "委托培养须填写受委托的流入地党组织或流入地培养联系人"))
    if not delegated and org_name:
        violations.append(FieldViolation("delegated_org_name", "未委托培养时不填受委托党组织"))
    if violations or clean_id is None or applied is None or birth is None:
        raise InvalidArgument(violations)
    return NewApplicant(
        name=clean_name, id_number=clean_id, phone=clean_phone, gender=pii.id_number_gender(clean_id),
        birth_date=birth, township=clean_township, village=clean_village, destination_code=destination,
        employer=clean_employer, application_date=applied, mentors=checked, delegated=delegated,
        delegated_org_name=org_name,
    )


def _mentor_rules(mentors: tuple[NewMentor, ...], *, away: bool, violations: list[FieldViolation]) -> None:
    # 党组织指定1—2名党员作为培养联系人: the home branch always names its own; the destination may add its own.
    home = sum(1 for m in mentors if m.side is Side.HOME)
    there = sum(1 for m in mentors if m.side is Side.DESTINATION)
    if home == 0:
        violations.append(FieldViolation("mentors", "须指定1至2名流出地培养联系人"))
    elif home > MENTORS_PER_SIDE:
        violations.append(FieldViolation("mentors", f"流出地培养联系人最多{MENTORS_PER_SIDE}名"))
    if there > MENTORS_PER_SIDE:
        violations.append(FieldViolation("mentors", f"流入地培养联系人最多{MENTORS_PER_SIDE}名"))
    if there and not away:
        violations.append(FieldViolation("mentors", "未外出的申请人没有流入地培养联系人"))


def validate_inspection(*, side: str, inspected_on: str, inspector: str, summary: str, applicant: Applicant,
                        today: date) -> NewInspection:
    """Check a 双向考察 report against the applicant it concerns; all violations at once."""
    if applicant.stage is Stage.FULL:
        raise FailedPrecondition("已转为正式党员，不再进行发展考察")
    violations: list[FieldViolation] = []
    clean_side = parse_side(side, field="side", violations=violations)
    if clean_side is Side.DESTINATION and not applicant.away:
        violations.append(FieldViolation("side", "该申请人未外出，没有流入地考察"))
    on = parse_date(inspected_on, field="inspected_on", today=today, violations=violations)
    applied = applicant.reached_on(Stage.APPLICANT)
    if on and applied and on < applied:
        violations.append(FieldViolation("inspected_on", "考察日期不能早于申请入党日期"))
    clean_inspector = fields.text(inspector, field="inspector", limit=NAME_MAX, required=True, violations=violations)
    clean_summary = fields.text(summary, field="summary", limit=SUMMARY_MAX, required=True, violations=violations)
    if violations or clean_side is None or on is None:
        raise InvalidArgument(violations)
    return NewInspection(side=clean_side, inspected_on=on, inspector=clean_inspector, summary=clean_summary)


def parse_advance(*, stage: int, when: str, version: int, today: date) -> tuple[Stage, date]:
    """The shape of an advance request (stage known, date valid, version given), before looking at the row."""
    violations: list[FieldViolation] = []
    target: Stage | None = None
    try:
        target = Stage(stage)
    except ValueError:
        violations.append(FieldViolation("stage", "须为发展党员的一个阶段"))
    on = parse_date(when, field="date", today=today, violations=violations)
    if version <= 0:
        violations.append(FieldViolation("version", "必填：请提供所看到的版本号"))
    if violations or target is None or on is None:
        raise InvalidArgument(violations)
    return target, on


def check_advance(applicant: Applicant, *, target: Stage, on: date) -> None:
    """Moving one stage forward on a date: no skipping, no going back in time, the minimum intervals met."""
    violations: list[FieldViolation] = []
    current = applicant.stage
    if current is Stage.FULL:
        violations.append(FieldViolation("stage", "已是正式党员，不能再晋级"))
    elif target != current + 1:
        expected = STAGE_LABEL[Stage(current + 1)]
        violations.append(FieldViolation("stage", f"须逐级推进：当前为{STAGE_LABEL[current]}，下一阶段为{expected}"))
    previous = applicant.reached_on(current)
    if previous and on < previous:
        violations.append(FieldViolation("date", f"不能早于{STAGE_LABEL[current]}的日期 {previous.isoformat()}"))
    if not violations:
        _minimum_interval(applicant, target=target, on=on, violations=violations)
        _two_sided_inspection(applicant, target=target, on=on, violations=violations)
    if violations:
        raise InvalidArgument(violations)


def _minimum_interval(applicant: Applicant, *, target: Stage, on: date, violations: list[FieldViolation]) -> None:
    if target is Stage.CANDIDATE:
        since = applicant.reached_on(Stage.ACTIVIST)
        earliest = add_years(since, MIN_ACTIVIST_YEARS) if since else None
        if earliest and on < earliest:
            why = f"入党积极分子须经一年以上培养考察，最早可于 {earliest} 确定为发展对象"
            violations.append(FieldViolation("date", why))
    elif target is Stage.FULL:
        since = applicant.reached_on(Stage.PROBATIONARY)
        earliest = add_years(since, MIN_PROBATION_YEARS) if since else None
        if earliest and on < earliest:
            violations.append(FieldViolation("date", f"预备期为一年，最早可于 {earliest} 转为正式党员"))


def _two_sided_inspection(applicant: Applicant, *, target: Stage, on: date,
                          violations: list[FieldViolation]) -> None:
    # 双向考察: a migrant becomes a 发展对象 only after both the place of work and the home village reported,
    # and a report written after the decision cannot have supported it.
    if target is not Stage.CANDIDATE or not applicant.away:
        return
    sides = {i.side for i in applicant.inspections if i.inspected_on <= on}
    missing = [SIDE_LABEL[s] for s in Side if s not in sides]
    if missing:
        violations.append(FieldViolation(
            "inspections", "外出务工人员确定为发展对象前须进行双向考察，缺少" + "、".join(missing) + "考察"
        ))
