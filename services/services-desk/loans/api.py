"""Loan applications' RPCs (thin: parse, call the use case, map the answer)."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps


class LoansApi:
    """CheckLoanEligibility, CreateLoanApplication, GetLoan, ListLoans, ReviewLoanApplication,
    WithdrawLoanApplication, RecordLoanCreditDecision, ListLoanHistory, Add/List/GetLoanAttachment(s)."""

    _deps: DeskDeps
