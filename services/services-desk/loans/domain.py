"""Loans: states, tiers and the moves between them, who decides which tier. No I/O."""

from __future__ import annotations

from enum import IntEnum


class LoanStatus(IntEnum):
    """提交 → 支部推荐 → 乡镇审核 → (县级审批) → 银行授信 → 放款 → 结清; 未通过 / 已撤回 (values as in the proto)."""

    SUBMITTED = 1
    RECOMMENDED = 2
    REVIEWED = 3
    APPROVED = 4
    CREDIT_GRANTED = 5
    DISBURSED = 6
    SETTLED = 7
    REFUSED = 8
    WITHDRAWN = 9


class LoanTier(IntEnum):
    """A review tier (values as in the proto); NONE when nothing is pending."""

    NONE = 0
    BRANCH = 1
    TOWNSHIP = 2
    COUNTY = 3
    BANK = 4


class Decision(IntEnum):
    """A reviewer's answer (values as in the proto)."""

    APPROVE = 1
    REFUSE = 2


class Channel(IntEnum):
    """How the application came in (values as in the proto)."""

    MEMBER_APP = 1
    ON_BEHALF = 2


# The statuses in which the loan still holds committed quota (released on a decline or withdrawal).
HOLDS_QUOTA = frozenset({LoanStatus.APPROVED, LoanStatus.CREDIT_GRANTED})
# Open applications: the member may withdraw them.
WITHDRAWABLE = frozenset({LoanStatus.SUBMITTED, LoanStatus.RECOMMENDED, LoanStatus.REVIEWED, LoanStatus.APPROVED,
                          LoanStatus.CREDIT_GRANTED})
