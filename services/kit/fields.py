"""Checks of one input field that add what is wrong to a list, so a request reports every bad field at once.

Pure (no framework): every ``domain.py`` may use them.
"""

from __future__ import annotations

import re
from datetime import date

from jinqiao.kit import pii
from jinqiao.kit.errors import FieldViolation, InvalidArgument

# Control characters (C0 but tab, line feed and carriage return, which are white space here; DEL; C1): a name that
# carried one would break every ledger and screen that shows it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Said of NUL too wherever it is refused (the request gate, the gateway), so a user reads one message for one fault.
CONTROL_CHARACTERS = "不能包含控制字符"


def text(value: str, *, field: str, limit: int, required: bool, violations: list[FieldViolation]) -> str:
    """White space collapsed; a required field must not be empty, none may carry a control character, and none may
    pass ``limit`` characters."""
    cleaned = " ".join(value.split())
    if required and not cleaned:
        violations.append(FieldViolation(field, "必填"))
    elif _CONTROL.search(value):
        violations.append(FieldViolation(field, CONTROL_CHARACTERS))
        cleaned = _CONTROL.sub("", cleaned)
    elif len(cleaned) > limit:
        violations.append(FieldViolation(field, f"不能超过 {limit} 个字符"))
    return cleaned


def id_number(value: str, *, violations: list[FieldViolation], today: date | None = None) -> str | None:
    """A valid ID number (GB 11643) in canonical form, or None with the reason added."""
    try:
        return pii.validate_id_number(value, today=today)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
        return None


def optional_phone(value: str, *, violations: list[FieldViolation]) -> str | None:
    """A valid mobile number, None when left blank, or None with the reason added."""
    if not value.strip():
        return None
    try:
        return pii.validate_phone(value)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
        return None
