"""Routes fronting insights: aggregates for a province, city or county scope."""

from __future__ import annotations

from jinqiao.gateway.routes.insights import aggregates, loans

ROUTERS = [aggregates.router, loans.router]
