"""HTTP routes, one package per service they front: each package's ``ROUTERS`` is mounted by the app."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from jinqiao.gateway.routes import (
    desk,
    erasure,
    insights,
    integrations,
    loans,
    notifications,
    operations,
    organizations,
    registry,
)
from jinqiao.gateway.wire import plain_parameters


def all_routers() -> list[APIRouter]:
    """Every service's routers, in a stable order (the OpenAPI document lists them so), each refusing a query or
    path parameter no service could take (gateway/wire.py)."""
    return [_plain(router) for router in (*registry.ROUTERS, erasure.router, *insights.ROUTERS, *organizations.ROUTERS,
                                          *integrations.ROUTERS, *operations.ROUTERS, *desk.ROUTERS,
                                          *loans.ROUTERS, *notifications.ROUTERS)]


def _plain(router: APIRouter) -> APIRouter:
    outer = APIRouter(dependencies=[Depends(plain_parameters)])
    outer.include_router(router)
    return outer
