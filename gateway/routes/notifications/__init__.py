"""Routes fronting notifications: the caller's inbox (with its live stream), escalations and choices; the county
department's delivery log, escalations, templates and channel settings."""

from __future__ import annotations

from jinqiao.gateway.routes.notifications import admin, inbox

ROUTERS = [inbox.router, admin.router]
