"""Routes fronting the micro-loans: programmes, applications and their review, the bank's side, schedules, the
贴息 claim list and the 党员先锋贷台账."""

from __future__ import annotations

from jinqiao.gateway.routes.loans import applications, programmes, repayments

ROUTERS = [programmes.router, applications.router, repayments.router]
