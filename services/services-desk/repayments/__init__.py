"""Repayments: disbursement and the stored schedule (等额本息, 等额本金, 先息后本) with 贴息 per period, repayments
allocated against it, overdue days and amounts, reminders before and after due dates, and the 贴息 claim list."""
