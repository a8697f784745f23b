"""Tenants (6-digit county codes), scopes (code prefixes) and the request's tenant context."""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Annotated, NewType

from pydantic import AfterValidator

TenantId = NewType("TenantId", str)
Scope = NewType("Scope", str)

_TENANT = re.compile(r"[1-8][0-9]{5}")
# A scope is a province (2), city (4) or county (6) prefix of GB/T 2260 codes.
_SCOPE = re.compile(r"[1-8][0-9](?:[0-9]{2}){0,2}")

current_tenant: ContextVar[TenantId | None] = ContextVar("jinqiao_tenant", default=None)


class InvalidTenant(ValueError):
    """A value that is not a county code (or scope) of GB/T 2260 shape."""


def parse_tenant(value: str) -> TenantId:
    """Validate a county code: six digits, the first 1-8 (a province of GB/T 2260)."""
    if not isinstance(value, str) or not _TENANT.fullmatch(value):
        raise InvalidTenant(f"not a 6-digit county code: {value!r}")
    return TenantId(value)


def parse_scope(value: str) -> Scope:
    """Validate a scope: a 2, 4 or 6 digit administrative-division prefix."""
    if not isinstance(value, str) or not _SCOPE.fullmatch(value):
        raise InvalidTenant(f"not a province, city or county code: {value!r}")
    return Scope(value)


def scope_contains(scope: str, code: str) -> bool:
    """True when ``code`` (a tenant or narrower scope) lies inside ``scope``."""
    return len(code) >= len(scope) and code.startswith(scope)


def province_of(tenant: str) -> str:
    """The two-digit province prefix of a county code."""
    return tenant[:2]


def city_of(tenant: str) -> str:
    """The four-digit city prefix of a county code."""
    return tenant[:4]


TenantField = Annotated[str, AfterValidator(parse_tenant)]
ScopeField = Annotated[str, AfterValidator(parse_scope)]
