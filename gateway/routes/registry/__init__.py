"""Routes fronting the registry: members, flows, 发展党员, imports and the registry's ledgers."""

from __future__ import annotations

from jinqiao.gateway.routes.registry import development, flows, imports, ledgers, members

ROUTERS = [members.router, flows.router, imports.router, development.router, ledgers.router]
