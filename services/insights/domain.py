"""Insights domain: who may read which aggregate. No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinqiao.kit.errors import NotFound
from jinqiao.kit.tenancy import InvalidTenant, parse_scope, scope_contains

AGGREGATE_ROLES = frozenset({"province_analyst", "city_analyst", "county_admin"})


@dataclass(frozen=True, slots=True)
class CountyCount:
    """Members registered in one county."""

    tenant_id: str
    members: int
    updated_at: datetime


def readable_scope(*, requested: str, principal_scope: str, role: str) -> str:
    """The requested scope if the caller may read it; otherwise it does not exist for them."""
    try:
        scope = parse_scope(requested)
    except InvalidTenant as exc:
        raise NotFound("未找到该区域") from exc
    if role not in AGGREGATE_ROLES or not scope_contains(principal_scope, scope):
        raise NotFound("未找到该区域")
    return scope
