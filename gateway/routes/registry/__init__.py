"""Routes fronting the registry: members, flows, the 活动记事本 and 双向评议, 发展党员, imports and the registry's
ledgers."""

from __future__ import annotations

from jinqiao.gateway.routes.registry import development, flows, imports, ledgers, members, notebook

ROUTERS = [members.router, flows.router, notebook.router, imports.router, development.router, ledgers.router]
