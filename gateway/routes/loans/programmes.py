"""Micro-loan routes: programmes (issue 14; filled in by the programmes concept's owner)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["loans"])
