"""The registry's ledgers (台账): routes under ``/api/v1/tenants/{tenant}/…``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["registry_ledgers"])
