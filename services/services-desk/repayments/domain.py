"""Money: schedules, 贴息 and the allocation of repayments, in integer 分 with Decimal arithmetic. No I/O.

Rounding rules (the one place they are written down; tests/unit/desk/test_repayments_domain.py checks each):
TO BE WRITTEN by the repayments concept (issue 14).
"""

from __future__ import annotations
