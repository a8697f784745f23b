"""Repayments: SQL over ``loan_instalments``, ``loan_repayments``, ``loan_reminders`` and the repayment columns of
``loans`` (disbursed_on … settled_on, status DISBURSED/SETTLED), all keyed by ``uow.tenant``."""

from __future__ import annotations
