"""Registry domain: what a member is and the rules a new member must meet. No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from jinqiao.kit import pii
from jinqiao.kit.errors import FieldViolation, InvalidArgument, PermissionDenied

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


WRITER_ROLES = frozenset({"county_admin"})
READER_ROLES = frozenset({"county_admin"})


def ensure_may_write_members(role: str) -> None:
    """Only the county's organisation department registers members (for now)."""
    if role not in WRITER_ROLES:
        raise PermissionDenied("当前角色无权登记党员")


def ensure_may_read_members(role: str) -> None:
    """Persons are visible to county staff; analysts see aggregates only."""
    if role not in READER_ROLES:
        raise PermissionDenied("当前角色只能查看汇总数据，不能查看党员个人信息")


def _text(value: str, *, field: str, limit: int, required: bool, violations: list[FieldViolation]) -> str:
    cleaned = " ".join(value.split())
    if required and not cleaned:
        violations.append(FieldViolation(field, "必填"))
    elif len(cleaned) > limit:
        violations.append(FieldViolation(field, f"不能超过 {limit} 个字符"))
    return cleaned


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
) -> NewMember:
    """Check every field, report all violations at once, and return the normalised member."""
    violations: list[FieldViolation] = []
    clean_name = _text(name, field="name", limit=NAME_MAX, required=True, violations=violations)
    clean_id: str | None = None
    try:
        clean_id = pii.validate_id_number(id_number)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
    clean_phone: str | None = None
    if phone.strip():
        try:
            clean_phone = pii.validate_phone(phone)
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    try:
        status = MembershipStatus(membership_status)
    except ValueError:
        violations.append(FieldViolation("membership_status", "须为预备党员(PROBATIONARY)或正式党员(FULL)"))
        status = MembershipStatus.FULL
    clean_township = _text(township, field="township", limit=TEXT_MAX, required=False, violations=violations)
    clean_village = _text(village, field="village", limit=TEXT_MAX, required=False, violations=violations)
    clean_occupation = _text(occupation, field="occupation", limit=TEXT_MAX, required=False, violations=violations)
    joined = _join_date(join_date, id_number=clean_id, today=today, violations=violations)
    if violations or clean_id is None:
        raise InvalidArgument(violations)
    return NewMember(
        name=clean_name,
        id_number=clean_id,
        phone=clean_phone,
        gender=Gender.MALE if pii.id_number_gender(clean_id) == "male" else Gender.FEMALE,
        birth_date=pii.id_number_birth_date(clean_id),
        membership_status=status,
        township=clean_township,
        village=clean_village,
        occupation=clean_occupation,
        join_date=joined,
    )


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
        born = pii.id_number_birth_date(id_number)
        if (joined.year - born.year) - ((joined.month, joined.day) < (born.month, born.day)) < MIN_JOIN_AGE:
            violations.append(FieldViolation("join_date", "入党时须年满十八周岁"))
    return joined
