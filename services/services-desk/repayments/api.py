"""Repayments' RPCs (thin: parse, call the use case, map the answer)."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps


class RepaymentsApi:
    """DisburseLoan, RecordLoanRepayment, GetLoanSchedule, ListLoanSubsidyClaims."""

    _deps: DeskDeps
