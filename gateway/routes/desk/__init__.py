"""Routes fronting the service desk: tickets, queues and duty, attachments, referrals (转办), the working-day
calendar and the 服务台账."""

from __future__ import annotations

from jinqiao.gateway.routes.desk import attachments, calendar, ledgers, queues, referrals, tickets

ROUTERS = [tickets.router, queues.router, attachments.router, referrals.router, calendar.router, ledgers.router]
