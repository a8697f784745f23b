"""PII rules: 居民身份证号 (GB 11643-1999) and mainland mobile numbers: validation, masking, log scrubbing."""

from __future__ import annotations

import operator
import re
from datetime import date
from typing import Literal

from jinqiao.kit.authz import Permission, allows
from jinqiao.kit.clock import china_date, utc_now
from jinqiao.kit.errors import InvalidArgument

# ASCII classes throughout: ``\d`` would also accept full-width and other Unicode digits.
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_SEPARATORS = re.compile(r"[\s\-]")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ZERO_OFFSET = ord("0") * sum(_WEIGHTS)
_MIN_BIRTH_YEAR = 1900

# Where registry seals a member's birth year in MemberProfileChanged (with the county and the member as the rest of
# the associated data), and where the desk opens it: a year beside a masked ID number leaves too few candidates to
# travel in the clear (DESIGN §5).
PROFILE_SEAL_TABLE = "member_profile"
PROFILE_SEAL_COLUMN = "birth_year"
# Where organizations seals an officer's phone in OfficerAppointed (row: the appointment), and where notifications
# opens it to send an SMS (issue 15): a phone number never travels the bus in the clear.
OFFICER_SEAL_TABLE = "officer_event"
OFFICER_SEAL_COLUMN = "phone"

# One pass for both shapes so a masked ID number is never rescanned for phone numbers. The digit
# look-arounds keep longer runs (order numbers, bank cards) intact; a phone may carry +86 and 3-4-4
# separators, the forms validate_phone accepts, so those are masked too.
_SCRUB = re.compile(
    r"(?<![0-9])(?P<id>[0-9]{17}[0-9Xx])(?![0-9])"
    r"|(?<![0-9])(?P<cc>\+?86[ \-]?)?(?P<phone>1[3-9][0-9](?P<sep>[ \-]?)[0-9]{4}(?P=sep)[0-9]{4})(?![0-9])"
)


def _check_char(first17: str) -> str:
    if len(first17) != len(_WEIGHTS):
        raise ValueError("an ID number's check character is computed over 17 digits")
    if first17.isascii() and first17.isdigit():
        # The weighted sum over the bytes, in C: a bulk import checks thousands of numbers; each byte is its digit
        # plus 48 ("0"), hence the constant taken off.
        return _CHECK_CHARS[(sum(map(operator.mul, first17.encode(), _WEIGHTS)) - _ZERO_OFFSET) % 11]
    return _CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_id_number(value: str, *, field: str = "id_number", today: date | None = None) -> str:
    """The normalised (upper-case X) 18-character ID number, or InvalidArgument naming ``field``."""
    if not isinstance(value, str):
        raise InvalidArgument.field(field, "身份证号格式错误：应为字符串")
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidArgument.field(field, "身份证号长度错误：应为18位")
    if not _ID_SHAPE.fullmatch(number):
        raise InvalidArgument.field(field, "身份证号格式错误：前17位应为数字，末位应为数字或X")
    if number[0] not in "12345678":
        raise InvalidArgument.field(field, "身份证号格式错误：地区码无效")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidArgument.field(field, "身份证号出生日期错误：不是有效日期") from None
    if born.year < _MIN_BIRTH_YEAR or born > (today or china_date(utc_now())):
        raise InvalidArgument.field(field, "身份证号出生日期错误：超出合理范围")
    if _check_char(number[:17]) != number[17]:
        raise InvalidArgument.field(field, "身份证号校验位错误")
    return number


def id_number_birth_date(value: str, *, checked: bool = False) -> date:
    """The birth date encoded in a valid ID number (``checked``: already validated, skip the check)."""
    number = value if checked else validate_id_number(value)
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_number_gender(value: str, *, checked: bool = False) -> Literal["male", "female"]:
    """The gender encoded in a valid ID number: an odd 17th digit is male."""
    number = value if checked else validate_id_number(value)
    return "male" if int(number[16]) % 2 else "female"


def may_see_birth_date(role: str, *, own_record: bool = False) -> bool:
    """Whether a caller may see a person's birth date: a holder of the reveal permission, or the person themself."""
    # The mask (4115**********123X) hides the county's last two digits and the eight of the birth date. With the
    # county known, the birth date is all that stands between the mask and the number: about 3,000 candidates
    # without it, one with it, a few dozen with the year or the age. So it goes with the permission to reveal.
    return own_record or allows(role, Permission.MEMBERS_REVEAL)


def visible_birth_date(born: date | None, *, role: str, own_record: bool = False) -> str:
    """The ISO birth date for a caller who may see it (``may_see_birth_date``), else an empty string."""
    return born.isoformat() if born is not None and may_see_birth_date(role, own_record=own_record) else ""


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """Build a valid ID number from a 6-digit region code, a birth date and a 顺序码 0..999."""
    if not (isinstance(region, str) and re.fullmatch(r"[1-8][0-9]{5}", region)):
        raise ValueError("region must be a 6-digit code whose first digit is 1-8")
    if not _MIN_BIRTH_YEAR <= birth.year <= 9999:
        raise ValueError("birth year must be 1900 or later")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must lie in 0..999")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + _check_char(first17)


def _phone_digits(value: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", value)
    if digits.startswith("+86"):
        return digits[3:]
    # A bare 86 is a country code only when it makes the number two digits too long.
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


def validate_phone(value: str, *, field: str = "phone") -> str:
    """Return the 11-digit mainland mobile number (separators and +86 removed) or raise InvalidArgument."""
    if not isinstance(value, str):
        raise InvalidArgument.field(field, "手机号格式错误：应为字符串")
    digits = _phone_digits(value.strip())
    if not _PHONE.fullmatch(digits):
        raise InvalidArgument.field(field, "手机号格式错误：应为11位中国大陆手机号")
    return digits


def mask_id_number(value: str) -> str:
    """Show the first and last 4 characters only (``4115**********123X``); malformed input is all stars."""
    number = value.strip().upper()
    if len(number) != 18:
        return "*" * len(number)
    return f"{number[:4]}{'*' * 10}{number[-4:]}"


def mask_phone(value: str) -> str:
    """Show the first 3 and last 4 digits only, e.g. ``138****1234``; anything malformed is all stars."""
    digits = _phone_digits(value.strip())
    if len(digits) != 11:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def _scrub_match(match: re.Match[str]) -> str:
    if match.group("id"):
        return mask_id_number(match.group("id"))
    return (match.group("cc") or "") + mask_phone(match.group("phone"))


def scrub(text: str) -> str:
    """Mask every ID-number-shaped and mobile-shaped substring not inside a longer digit run (for logs)."""
    return _SCRUB.sub(_scrub_match, text)
