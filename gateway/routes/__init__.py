"""HTTP routes, one package per service they front: each package's ``ROUTERS`` is mounted by the app."""

from __future__ import annotations

from fastapi import APIRouter

from jinqiao.gateway.routes import insights, organizations, registry


def all_routers() -> list[APIRouter]:
    """Every service's routers, in a stable order (the OpenAPI document lists them so)."""
    return [*registry.ROUTERS, *insights.ROUTERS, *organizations.ROUTERS]
