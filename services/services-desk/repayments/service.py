"""Repayment use cases: disburse, record a repayment, read a schedule, the 贴息 claim list, the overdue sweep."""

from __future__ import annotations
