"""The kinds of record the services desk keeps for a period (kit/lifecycle.py): closed tickets, repaid loans."""

from __future__ import annotations

from jinqiao.kit.lifecycle import RecordKind

# A ticket reviewed (6) or closed (7), counted from closed_at, with its history, SLA marks and attachments; its
# referral rows (the other county's record too) are kept.
TICKETS_CLOSED = RecordKind(
    kind="tickets_closed", table="tickets", at="t.closed_at", eligible="t.status IN (6, 7) AND t.closed_at IS NOT NULL",
    children=(("ticket_history", "ticket_id"), ("ticket_sla_marks", "ticket_id"), ("ticket_attachments", "ticket_id")),
    index="closed_at",
)
# A loan settled (7), counted from settled_on, with its steps, schedule, repayments, reminders and attachments.
LOANS_REPAID = RecordKind(
    kind="loans_repaid", table="loans", at="t.settled_on", on_date=True,
    eligible="t.status = 7 AND t.settled_on IS NOT NULL",
    children=(("loan_steps", "loan_id"), ("loan_instalments", "loan_id"), ("loan_repayments", "loan_id"),
              ("loan_reminders", "loan_id"), ("loan_attachments", "loan_id")),
    index="settled_on",
)

KINDS = (TICKETS_CLOSED, LOANS_REPAID)
