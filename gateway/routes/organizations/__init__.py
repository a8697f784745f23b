"""Routes fronting the organizations service: the org tree, temporary memberships and the org ledgers."""

from __future__ import annotations

from jinqiao.gateway.routes.organizations import ledgers, memberships, orgs

ROUTERS = [orgs.router, orgs.member_router, ledgers.router, memberships.router]
