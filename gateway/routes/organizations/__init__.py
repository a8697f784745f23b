"""Routes fronting the organizations service, one module per concept of the service."""

from __future__ import annotations

from jinqiao.gateway.routes.organizations import checklist, ledgers, meetings, memberships, officers, orgs, placement

# placement first: its fixed paths (/orgs/placement-rules/…) must be matched before the tree's /orgs/{org_id}.
ROUTERS = [placement.router, orgs.router, checklist.router, officers.router, meetings.router, meetings.member_router,
           ledgers.router, memberships.router]
