"""Temporary memberships at the destination: routes under ``/api/v1/tenants/{tenant}/…``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["memberships"])
