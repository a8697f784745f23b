"""A county department's notifications: the delivery log, escalations, templates and channel settings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["notifications"])
