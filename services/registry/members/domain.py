"""Members: what a member is and the rules a new member must meet. No framework imports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from jinqiao.kit import fields, pii
from jinqiao.kit.auth import Role
from jinqiao.kit.authz import Permission, Reach, allows, allows_beyond_self, require, scope
from jinqiao.kit.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied

NAME_MAX = 50
TEXT_MAX = 100
MIN_JOIN_AGE = 18


class Gender(IntEnum):
    """Gender, derived from the ID number."""

    MALE = 1
    FEMALE = 2


class MembershipStatus(IntEnum):
    """预备党员 or 正式党员."""

    PROBATIONARY = 1
    FULL = 2


class RecordStatus(IntEnum):
    """Whether the county still holds the member, and if not how the record ended."""

    ACTIVE = 1
    TRANSFERRED_OUT = 2  # 转出
    DECEASED = 3  # 去世
    LEFT_PARTY = 4  # 出党: 退党、除名、开除党籍 (the form is the Departure)


class Departure(IntEnum):
    """How a record ended other than by transfer (the wire's MemberDeparture)."""

    NONE = 0
    DECEASED = 1  # 去世
    WITHDREW = 2  # 退党
    STRUCK_OFF = 3  # 除名
    EXPELLED = 4  # 开除党籍


DEPARTURE_NAMES = {Departure.DECEASED: "去世", Departure.WITHDREW: "退党", Departure.STRUCK_OFF: "除名",
                   Departure.EXPELLED: "开除党籍"}
# What a masked number reads once the member's personal fields were erased.
ERASED = "已删除"


# 学历: the categories of the Party's statistical reports.
EDUCATIONS = ("研究生", "大学本科", "大学专科", "中专", "高中", "初中", "小学及以下")


@dataclass(frozen=True, slots=True)
class NewMember:
    """A validated, normalised new member (still holding the clear ID and phone numbers)."""

    name: str
    id_number: str
    phone: str | None
    gender: Gender
    birth_date: date
    membership_status: MembershipStatus
    township: str
    village: str
    occupation: str
    join_date: date | None
    ethnicity: str = ""
    education: str = ""
    home_branch_id: str | None = None
    household_address: str = ""
    full_member_date: date | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A member as every response shows it: ID and phone numbers masked."""

    id: str
    tenant_id: str
    name: str
    gender: Gender
    birth_date: date
    id_number_masked: str
    phone_masked: str
    membership_status: MembershipStatus
    township: str
    village: str
    occupation: str
    join_date: date | None
    created_at: datetime
    version: int
    ethnicity: str = ""
    education: str = ""
    home_branch_id: str | None = None
    household_address: str = ""
    full_member_date: date | None = None
    flow_id: str | None = None
    flow_status: int = 0
    destination_code: str = ""
    industry: str = ""
    record_status: RecordStatus = RecordStatus.ACTIVE
    ended_on: date | None = None
    departure: Departure = Departure.NONE
    erased_at: datetime | None = None


REASON_MIN = 4

# The roster's sorts: the API's name → the SQL ordering (every one ends on the id, so pages never overlap).
SORTS: dict[str, str] = {
    "-created_at": "created_at DESC, id DESC",
    "created_at": "created_at ASC, id ASC",
    "name": "convert_to(name, 'GB18030') ASC, id ASC",
    "-name": "convert_to(name, 'GB18030') DESC, id DESC",
    "join_date": "join_date ASC NULLS LAST, id ASC",
    "-join_date": "join_date DESC NULLS LAST, id DESC",
    "updated_at": "updated_at ASC, id ASC",
    "-updated_at": "updated_at DESC, id DESC",
    "township": "township ASC, convert_to(name, 'GB18030') ASC, id ASC",
    "-township": "township DESC, convert_to(name, 'GB18030') DESC, id DESC",
}
DEFAULT_SORT = "-created_at"
MAX_PAGE = 100_000


def validate_sort(order_by: str) -> str:
    """The roster's sort, from the whitelist (the default when none is given)."""
    key = order_by.strip() or DEFAULT_SORT
    if key not in SORTS:
        raise InvalidArgument.field("order_by", "排序方式无效，可选：" + "、".join(SORTS))
    return key


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a recorded change: its old and new values (PII masked)."""

    field: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MemberChange:
    """One entry of a member's history."""

    version: int
    actor: str
    changed_at: datetime
    fields: tuple[FieldChange, ...]


def ensure_may_write_members(role: str) -> None:
    """Only the county's organisation department registers members (for now)."""
    require(role, Permission.MEMBERS_WRITE, "当前角色无权登记党员")


def ensure_may_browse_members(role: str) -> None:
    """The roster is open to county staff within their reach (the county department, a township committee, a
    guidance office, a branch); analysts see aggregates only, a member only their own record."""
    if not allows_beyond_self(role, Permission.MEMBERS_READ):
        raise PermissionDenied("当前角色只能查看汇总数据，不能查看党员个人信息")


def ensure_may_read_members(role: str) -> None:
    """County-wide reads of persons (flows, returnees, policy): the county department's alone; a role confined to
    an organisation reads members through the roster, confined to its reach."""
    ensure_may_browse_members(role)
    if scope(role, Permission.MEMBERS_READ) is not Reach.COUNTY:
        raise PermissionDenied("当前角色只能查看本组织范围内的党员名册")


def may_reveal_id_number(role: str) -> bool:
    """Revealing a full ID number is the county department's act alone, and always audited with a reason."""
    return allows(role, Permission.MEMBERS_REVEAL)


def may_read_member(*, role: str, own_member: str | None, member_id: str) -> bool:
    """County staff read every member; a member reads only their own record."""
    return (scope(role, Permission.MEMBERS_READ) is Reach.COUNTY
            or (role == Role.MEMBER and own_member == member_id))


def ensure_may_see_member(*, role: str, own_member: str | None, member_id: str) -> None:
    """Staff see the county's members; to a member anyone else's record does not exist; analysts see none."""
    if may_read_member(role=role, own_member=own_member, member_id=member_id):
        return
    if role == Role.MEMBER:
        raise NotFound("未找到该党员")
    ensure_may_read_members(role)


def validate_reveal_reason(reason: str) -> str:
    """Unmasking needs a stated reason (DESIGN §5); it goes into the audit row."""
    clean = " ".join(reason.split())
    if len(clean) < REASON_MIN or len(clean) > 200:
        raise InvalidArgument.field("reason", f"查看完整身份证号须说明理由（{REASON_MIN}至200个字）")
    return clean


def validate_new_member(
    *,
    name: str,
    id_number: str,
    phone: str,
    membership_status: int,
    township: str,
    village: str,
    occupation: str,
    join_date: str,
    today: date,
    ethnicity: str = "",
    education: str = "",
    home_branch_id: str = "",
    household_address: str = "",
    full_member_date: str = "",
    gender: int = 0,
    birth_date: str = "",
) -> NewMember:
    """Check every field, report all violations at once, and return the normalised member."""
    violations: list[FieldViolation] = []
    clean_name = fields.text(name, field="name", limit=NAME_MAX, required=True, violations=violations)
    clean_id = fields.id_number(id_number, violations=violations)
    clean_phone = fields.optional_phone(phone, violations=violations)
    try:
        status = MembershipStatus(membership_status)
    except ValueError:
        violations.append(FieldViolation("membership_status", "须为预备党员(PROBATIONARY)或正式党员(FULL)"))
        status = MembershipStatus.FULL
    clean_township = fields.text(township, field="township", limit=TEXT_MAX, required=False, violations=violations)
    clean_village = fields.text(village, field="village", limit=TEXT_MAX, required=False, violations=violations)
    clean_occupation = fields.text(occupation, field="occupation", limit=TEXT_MAX, required=False,
                                   violations=violations)
    joined = _join_date(join_date, id_number=clean_id, today=today, violations=violations)
    clean_ethnicity, clean_education, branch, address = _record_facts(
        ethnicity=ethnicity, education=education, home_branch_id=home_branch_id,
        household_address=household_address, violations=violations,
    )
    full_on = _date(full_member_date, field="full_member_date", today=today, violations=violations)
    if full_on and status is MembershipStatus.PROBATIONARY:
        violations.append(FieldViolation("full_member_date", "预备党员没有转正日期"))
    elif full_on and joined and full_on < joined:
        violations.append(FieldViolation("full_member_date", "转正日期不能早于入党日期"))
    if clean_id is not None:
        _agrees_with_id(clean_id, gender=gender, birth_date=birth_date, violations=violations)
    if violations or clean_id is None:
        raise InvalidArgument(violations)
    return NewMember(
        name=clean_name,
        id_number=clean_id,
        phone=clean_phone,
        gender=Gender.MALE if pii.id_number_gender(clean_id, checked=True) == "male" else Gender.FEMALE,
        birth_date=pii.id_number_birth_date(clean_id, checked=True),
        membership_status=status,
        township=clean_township,
        village=clean_village,
        occupation=clean_occupation,
        join_date=joined,
        full_member_date=full_on,
        ethnicity=clean_ethnicity,
        education=clean_education,
        home_branch_id=branch,
        household_address=address,
    )


def _record_facts(*, ethnicity: str, education: str, home_branch_id: str, household_address: str,
                  violations: list[FieldViolation]) -> tuple[str, str, str | None, str]:
    """(ethnicity, education, home branch, household address), cleaned."""
    clean_ethnicity = fields.text(ethnicity, field="ethnicity", limit=10, required=False, violations=violations)
    if clean_ethnicity and not clean_ethnicity.endswith("族"):
        violations.append(FieldViolation("ethnicity", "民族应写全称，如“汉族”“回族”"))
    clean_education = fields.text(education, field="education", limit=10, required=False, violations=violations)
    if clean_education and clean_education not in EDUCATIONS:
        violations.append(FieldViolation("education", "学历应为：" + "、".join(EDUCATIONS)))
    branch: str | None = None
    if home_branch_id.strip():
        try:
            branch = str(uuid.UUID(home_branch_id.strip()))
        except ValueError:
            violations.append(FieldViolation("home_branch_id", "所在党支部编号无效"))
    address = fields.text(household_address, field="household_address", limit=200, required=False,
                          violations=violations)
    return clean_ethnicity, clean_education, branch, address


def _agrees_with_id(id_number: str, *, gender: int, birth_date: str, violations: list[FieldViolation]) -> None:
    derived = Gender.MALE if pii.id_number_gender(id_number, checked=True) == "male" else Gender.FEMALE
    if gender and gender != derived:
        violations.append(FieldViolation("gender", "性别与身份证号不一致"))
    if birth_date.strip():
        try:
            if date.fromisoformat(birth_date.strip()) != pii.id_number_birth_date(id_number, checked=True):
                violations.append(FieldViolation("birth_date", "出生日期与身份证号不一致"))
        except ValueError:
            violations.append(FieldViolation("birth_date", "日期格式应为 YYYY-MM-DD"))


def _date(value: str, *, field: str, today: date, violations: list[FieldViolation]) -> date | None:
    if not value.strip():
        return None
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        violations.append(FieldViolation(field, "日期格式应为 YYYY-MM-DD"))
        return None
    if parsed > today:
        violations.append(FieldViolation(field, "日期不能晚于今天"))
    return parsed


def _join_date(value: str, *, id_number: str | None, today: date, violations: list[FieldViolation]) -> date | None:
    if not value.strip():
        return None
    try:
        joined = date.fromisoformat(value.strip())
    except ValueError:
        violations.append(FieldViolation("join_date", "日期格式应为 YYYY-MM-DD"))
        return None
    if joined > today:
        violations.append(FieldViolation("join_date", "入党日期不能晚于今天"))
    elif id_number is not None:
        born = pii.id_number_birth_date(id_number, checked=True)
        if (joined.year - born.year) - ((joined.month, joined.day) < (born.month, born.day)) < MIN_JOIN_AGE:
            violations.append(FieldViolation("join_date", "入党时须年满十八周岁"))
    return joined
