"""Repayments' persistence model: rows of ``loan_instalments`` and ``loan_repayments``."""

from __future__ import annotations
