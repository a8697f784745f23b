"""Service desk routes: calendar (being built, issue 13)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["tickets"])
