"""The caller's own notifications: inbox, summary, live stream, read/archive, acknowledging, preferences."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/me", tags=["notifications"])
