"""Repayments' persistence model: rows of ``loan_instalments`` and ``loan_repayments``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from jinqiao.desk.repayments.domain import Instalment

INSTALMENT_COLUMNS = ("seq, due_date, principal_fen, interest_fen, subsidy_fen, balance_after_fen, paid_principal_fen,"
                      " paid_interest_fen, paid_on")
REPAYMENT_COLUMNS = ("id, loan_id, request_id, amount_fen, paid_on, principal_fen, interest_fen, recorded_by,"
                     " created_at")


@dataclass(frozen=True, slots=True)
class InstalmentRow:
    """One stored period of a loan's schedule."""

    seq: int
    due_date: date
    principal_fen: int
    interest_fen: int
    subsidy_fen: int
    balance_after_fen: int
    paid_principal_fen: int
    paid_interest_fen: int
    paid_on: date | None

    @property
    def borrower_interest_fen(self) -> int:
        """The borrower's part of the interest (the rest is 贴息)."""
        return self.interest_fen - self.subsidy_fen

    @property
    def due_fen(self) -> int:
        """What the borrower owes this period."""
        return self.principal_fen + self.borrower_interest_fen

    @classmethod
    def from_record(cls, r: Any) -> InstalmentRow:
        """Map a row."""
        return cls(**{f.name: r[f.name] for f in fields(cls)})

    def as_domain(self) -> Instalment:
        """The instalment the allocation and overdue rules work on."""
        return Instalment(seq=self.seq, due_date=self.due_date, principal_fen=self.principal_fen,
                          borrower_interest_fen=self.borrower_interest_fen,
                          paid_principal_fen=self.paid_principal_fen, paid_interest_fen=self.paid_interest_fen,
                          paid_on=self.paid_on)


@dataclass(frozen=True, slots=True)
class RepaymentRow:
    """One repayment the bank recorded, as allocated."""

    id: str
    loan_id: str
    request_id: str
    amount_fen: int
    paid_on: date
    principal_fen: int
    interest_fen: int
    recorded_by: str
    created_at: datetime

    @classmethod
    def from_record(cls, r: Any) -> RepaymentRow:
        """Map a row (uuids as text)."""
        values = {f.name: r[f.name] for f in fields(cls)}
        values["id"], values["loan_id"] = str(values["id"]), str(values["loan_id"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One instalment of a 贴息 claim list with its loan's names."""

    loan_id: str
    loan_number: str
    programme_name: str
    bank_name: str
    member_name: str
    opening_balance_fen: int
    seq: int
    due_date: date
    interest_fen: int
    subsidy_fen: int
    paid: bool
