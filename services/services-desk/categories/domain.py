"""Categories: the default kinds of request with their forms, queues, priorities and SLA policies; the rules a
county's change to one must keep; and the validation of a ticket's form against its category. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from enum import IntEnum
from typing import Any

from jinqiao.desk.sla.domain import SlaPolicy
from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.kit.pii import mask_phone

# One working day of the county's calendar, in working minutes (the SLA policies count in these).
DAY = 420
QUEUES = ("STATION", "COUNTY")
_KEY = re.compile(r"[a-z_]{1,30}")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_SEPARATORS = re.compile(r"[\s\-]")
# The bounds of a county's own SLA settings: a clock of at most 120 working days.
MAX_SLA_MINUTES = 120 * DAY
MAX_FIELDS = 30
MAX_CHOICES = 50
DEFAULT_TEXT_LENGTH = 200
DEFAULT_LONG_TEXT_LENGTH = 2000


class FieldType(IntEnum):
    """A form field's type (values as in the proto)."""

    TEXT = 1
    LONG_TEXT = 2
    INTEGER = 3
    MONEY_FEN = 4
    DATE = 5
    CHOICE = 6
    PHONE = 7
    BOOL = 8


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a category's form; ``min``/``max`` bound integers and money (None: unbounded)."""

    key: str
    label: str
    type: FieldType
    required: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = 0
    min: int | None = None
    max: int | None = None
    help: str = ""

    def to_json(self) -> dict[str, Any]:
        """The form ``ticket_categories.fields`` keeps."""
        return {"key": self.key, "label": self.label, "type": self.type.name, "required": self.required,
                "choices": list(self.choices), "max_length": self.max_length, "min": self.min, "max": self.max,
                "help": self.help}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FormField:
        """Read the stored form."""
        return cls(key=value["key"], label=value["label"], type=FieldType[value["type"]],
                   required=bool(value.get("required")), choices=tuple(value.get("choices") or ()),
                   max_length=int(value.get("max_length") or 0), min=value.get("min"), max=value.get("max"),
                   help=value.get("help") or "")


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of request of one county (data per county; the defaults are written on first use)."""

    code: str
    name: str
    group: str
    fields: tuple[FormField, ...]
    default_queue: str
    priority: int
    sla: SlaPolicy
    enabled: bool = True
    reopen_days: int = 15
    position: int = 0
    version: int = 1


def invalid(violations: list[FieldViolation] | FieldViolation) -> InvalidArgument:
    """InvalidArgument whose message is the violations as written: each already starts with its Chinese label
    (the kit's shared labels would name e.g. ``category.name`` as 姓名)."""
    found = [violations] if isinstance(violations, FieldViolation) else list(violations)
    return InvalidArgument(found, message="请求参数无效：" + "；".join(v.description for v in found))


def invalid_field(field: str, description: str) -> InvalidArgument:
    """``invalid`` for one field."""
    return invalid(FieldViolation(field, description))


def _f(key: str, label: str, type_: FieldType, **kw: Any) -> FormField:
    return FormField(key=key, label=label, type=type_, **kw)


_T, _L, _I, _M, _D, _C, _P = (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.INTEGER, FieldType.MONEY_FEN,
                              FieldType.DATE, FieldType.CHOICE, FieldType.PHONE)
_CONTACT = _f("contact_phone", "联系电话", _P, help="便于承办人联系，仅显示部分号码")
# Legal aid: the decision (first response) within 7 working days, a lawyer within 3 working days of it.
_LEGAL = SlaPolicy(first_response_minutes=7 * DAY, assignment_minutes=3 * DAY, update_minutes=5 * DAY,
                   resolution_minutes=30 * DAY, warn_percent=75)
# 讨薪 green channel: a first response the same working day, a lawyer within 3 working days.
_WAGES = SlaPolicy(first_response_minutes=DAY, assignment_minutes=3 * DAY, update_minutes=3 * DAY,
                   resolution_minutes=30 * DAY, same_day_first_response=True, warn_percent=75)


def _common(resolution_days: int) -> SlaPolicy:
    return SlaPolicy(first_response_minutes=DAY, update_minutes=2 * DAY, resolution_minutes=resolution_days * DAY,
                     warn_percent=75)


DEFAULTS: tuple[Category, ...] = (
    Category("legal_wages", "讨薪", "法律援助", (
        _f("employer", "工作单位", _T, required=True, max_length=100, help="拖欠工资的用人单位名称"),
        _f("unpaid_amount_fen", "拖欠金额", _M, required=True, min=1, help="单位：分"),
        _f("unpaid_months", "拖欠月数", _I, min=1, max=60),
        _f("workers_affected", "涉及人数", _I, min=1, max=10000),
        _f("has_contract", "是否签订劳动合同", _C, choices=("有", "无")),
        _f("work_site", "工作地点", _T, max_length=200), _CONTACT,
    ), "STATION", 4, _WAGES, reopen_days=30, position=1),
    Category("legal_labor", "劳动关系", "法律援助", (
        _f("employer", "工作单位", _T, required=True, max_length=100),
        _f("dispute", "争议事项", _L, max_length=1000), _CONTACT,
    ), "STATION", 3, _LEGAL, reopen_days=30, position=2),
    Category("legal_injury", "工伤", "法律援助", (
        _f("injury_date", "受伤日期", _D, required=True),
        _f("employer", "工作单位", _T, required=True, max_length=100),
        _f("treatment", "治疗情况", _C, choices=("住院", "门诊", "已出院")), _CONTACT,
    ), "STATION", 3, _LEGAL, reopen_days=30, position=3),
    Category("employment", "岗位推荐", "就业", (
        _f("skills", "技能特长", _T, max_length=200),
        _f("expected_salary_fen", "期望月薪", _M, min=0, help="单位：分"),
        _f("preferred_area", "意向区域", _T, max_length=100), _CONTACT,
    ), "STATION", 2, _common(10), position=4),
    Category("training", "技能培训", "技能培训", (
        _f("course_type", "培训类别", _C, choices=("电工", "焊工", "家政", "育婴", "电商", "驾驶", "其他")),
        _f("schedule", "可参加时间", _T, max_length=100),
    ), "STATION", 2, _common(10), position=5),
    Category("insurance", "医保/社保", "医保/社保", (
        _f("insurance_type", "险种", _C, required=True, choices=("医保", "养老", "工伤", "失业")),
        _f("insured_place", "参保地", _T, max_length=100),
    ), "COUNTY", 2, _common(15), position=6),
    Category("civil_relief", "民政救助", "民政救助", (
        _f("hardship", "困难类型", _C, choices=("因病", "因灾", "因残", "失业", "其他")),
        _f("household_size", "家庭人口", _I, min=1, max=30),
    ), "COUNTY", 3, _common(15), position=7),
    Category("schooling", "子女就学", "子女就学", (
        _f("child_grade", "子女年级", _C, choices=("幼儿园", "小学", "初中", "高中")),
        _f("school_area", "意向就学区域", _T, max_length=100),
        _f("residence_permit", "是否持有居住证", _C, choices=("有", "无")),
    ), "STATION", 2, _common(20), position=8),
    Category("family_care", "留守家属关爱", "留守家属关爱", (
        _f("relation", "家属关系", _C, choices=("父母", "配偶", "子女", "其他")),
        _f("home_village", "家属所在村", _T, max_length=100),
        _f("need", "需要的帮助", _L, max_length=1000),
    ), "COUNTY", 2, _common(10), position=9),
    Category("other", "其他", "其他", (), "COUNTY", 2, _common(15), position=10),
)
DEFAULT_CODES = frozenset(c.code for c in DEFAULTS)


def validate_update(current: Category, *, name: str, fields: list[FormField], default_queue: str, priority: int,
                    sla: SlaPolicy, enabled: bool, reopen_days: int) -> Category:
    """A county administrator's change to a category, checked; the code and group stay what they are."""
    problems: list[FieldViolation] = []
    name = name.strip()
    if not 2 <= len(name) <= 20:
        problems.append(FieldViolation("category.name", "类别名称：应为2至20个字"))
    if default_queue not in QUEUES:
        problems.append(FieldViolation("category.default_queue",
                                       "默认队列：应为 STATION（站点）或 COUNTY（县委组织部）"))
    if priority not in (1, 2, 3, 4):
        problems.append(FieldViolation("category.priority", "优先级：无效"))
    for attr, label in (("first_response_minutes", "首次响应时限"), ("assignment_minutes", "指派时限"),
                        ("update_minutes", "进展更新时限"), ("resolution_minutes", "办结时限")):
        value = getattr(sla, attr)
        if not 0 <= value <= MAX_SLA_MINUTES:
            problems.append(FieldViolation(f"category.sla.{attr}",
                                           f"{label}：应在0至{MAX_SLA_MINUTES}个工作分钟之间（120个工作日）"))
    if not 50 <= sla.warn_percent <= 95:
        problems.append(FieldViolation("category.sla.warn_percent", "预警比例：应在50%至95%之间"))
    if not 0 <= reopen_days <= 90:
        problems.append(FieldViolation("category.reopen_days", "可重新打开天数：应在0至90天之间"))
    problems.extend(_field_problems(fields))
    if problems:
        raise invalid(problems)
    return replace(current, name=name, fields=tuple(fields), default_queue=default_queue, priority=priority,
                   sla=sla, enabled=enabled, reopen_days=reopen_days)


def _field_problems(fields: list[FormField]) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if len(fields) > MAX_FIELDS:
        problems.append(FieldViolation("category.fields", f"表单字段：最多{MAX_FIELDS}个"))
    seen: set[str] = set()
    for i, f in enumerate(fields):
        where = f"category.fields.{i}"
        if not _KEY.fullmatch(f.key):
            problems.append(FieldViolation(f"{where}.key", "字段标识：应为1至30个小写字母或下划线"))
        elif f.key in seen:
            problems.append(FieldViolation(f"{where}.key", f"字段标识：“{f.key}”重复"))
        seen.add(f.key)
        if not 1 <= len(f.label.strip()) <= 20:
            problems.append(FieldViolation(f"{where}.label", "字段名称：应为1至20个字"))
        if f.type not in FieldType.__members__.values():
            problems.append(FieldViolation(f"{where}.type", "字段类型：无效"))
        if f.type is FieldType.CHOICE and not 1 <= len(f.choices) <= MAX_CHOICES:
            problems.append(FieldViolation(f"{where}.choices", f"选项：单选字段应有1至{MAX_CHOICES}个选项"))
        if f.min is not None and f.max is not None and f.min > f.max:
            problems.append(FieldViolation(f"{where}.max", "最大值：不能小于最小值"))
        if not 0 <= f.max_length <= DEFAULT_LONG_TEXT_LENGTH:
            problems.append(FieldViolation(f"{where}.max_length", f"最大长度：应在0至{DEFAULT_LONG_TEXT_LENGTH}之间"))
    return problems


def validate_form(fields: tuple[FormField, ...] | list[FormField], values: Any) -> dict[str, Any]:
    """A ticket's form values checked against its category: unknown keys refused, required ones present, each of its
    type (money as integer fen, a phone kept masked); errors name ``form.<key>`` with the field's Chinese label."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise invalid_field("form", "表单：应为对象")
    by_key = {f.key: f for f in fields}
    problems: list[FieldViolation] = []
    for key in values:
        if key not in by_key:
            problems.append(FieldViolation(f"form.{key}", f"表单中没有“{key}”这一项"))
    clean: dict[str, Any] = {}
    for f in fields:
        raw = values.get(f.key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if f.required:
                problems.append(FieldViolation(f"form.{f.key}", f"{f.label}：必填"))
            continue
        try:
            clean[f.key] = _value(f, raw)
        except ValueError as exc:
            problems.append(FieldViolation(f"form.{f.key}", f"{f.label}：{exc}"))
    if problems:
        raise invalid(problems)
    return clean


def _value(f: FormField, raw: Any) -> Any:
    """One value of its field's type, or ValueError with what is wrong (zh-CN)."""
    if f.type in (FieldType.TEXT, FieldType.LONG_TEXT):
        if not isinstance(raw, str):
            raise ValueError("应为文字")
        limit = f.max_length or (DEFAULT_TEXT_LENGTH if f.type is FieldType.TEXT else DEFAULT_LONG_TEXT_LENGTH)
        text = raw.strip()
        if len(text) > limit:
            raise ValueError(f"不能超过{limit}个字")
        return text
    if f.type in (FieldType.INTEGER, FieldType.MONEY_FEN):
        # Money is whole fen: a float (元 with decimals) is refused rather than rounded.
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError("应为整数（单位：分）" if f.type is FieldType.MONEY_FEN else "应为整数")
        if isinstance(raw, str):
            if not re.fullmatch(r"-?[0-9]{1,15}", raw.strip()):
                raise ValueError("应为整数（单位：分）" if f.type is FieldType.MONEY_FEN else "应为整数")
            raw = int(raw.strip())
        low = f.min if f.min is not None else (0 if f.type is FieldType.MONEY_FEN else None)
        if low is not None and raw < low:
            raise ValueError(f"不能小于{low}")
        if f.max is not None and raw > f.max:
            raise ValueError(f"不能大于{f.max}")
        return raw
    if f.type is FieldType.DATE:
        if not isinstance(raw, str):
            raise ValueError("应为日期（YYYY-MM-DD）")
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            raise ValueError("应为日期（YYYY-MM-DD）") from None
    if f.type is FieldType.CHOICE:
        if not isinstance(raw, str) or raw not in f.choices:
            raise ValueError("应为以下之一：" + "、".join(f.choices))
        return raw
    if f.type is FieldType.PHONE:
        if not isinstance(raw, str):
            raise ValueError("应为11位手机号码")
        digits = _PHONE_SEPARATORS.sub("", raw.strip()).removeprefix("+86")
        if not _PHONE.fullmatch(digits):
            raise ValueError("应为11位手机号码")
        # Kept masked: the desk never needs the whole number back, and a form travels to other counties.
        return mask_phone(digits)
    if not isinstance(raw, bool):
        raise ValueError("应为是或否")
    return raw


def default(code: str) -> Category | None:
    """The default category of that code, or None."""
    return next((c for c in DEFAULTS if c.code == code), None)

