"""Loans' persistence model: the row of ``loans`` (columns as migration 0005 made them) and its mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn

LOANS = "loans"

LOAN_COLUMNS = (
    "tenant_id, id, number, programme_id, member_id, member_name, home_org_id, township, amount_fen, term_months,"
    " method, purpose, business_plan, status, pending_tier, step_due_at, step_overdue_sent, channel, applied_by,"
    " request_id, eligibility, refused_tier, refusal_reason, committed_fen, granted_amount_fen, rate_bp, subsidy_bp,"
    " disbursed_on, disburse_request_id, outstanding_principal_fen, overdue_fen, days_past_due, next_due_date,"
    " next_due_fen, settled_on, created_at, updated_at, version"
)


@dataclass(frozen=True, slots=True)
class LoanRow:
    """One row of ``loans`` (CONTRACT, issue 14: every concept reads loans through this)."""

    tenant_id: str
    id: str
    number: str
    programme_id: str
    member_id: str
    member_name: str
    home_org_id: str | None
    township: str
    amount_fen: int
    term_months: int
    method: int
    purpose: str
    business_plan: str
    status: int
    pending_tier: int
    step_due_at: datetime | None
    step_overdue_sent: bool
    channel: int
    applied_by: str
    request_id: str | None
    # The eligibility check as of filing: [{"rule", "label", "passed", "detail"}, …].
    eligibility: list[dict[str, Any]]
    refused_tier: int
    refusal_reason: str
    committed_fen: int
    granted_amount_fen: int
    rate_bp: int
    subsidy_bp: int
    disbursed_on: date | None
    disburse_request_id: str | None
    outstanding_principal_fen: int
    overdue_fen: int
    days_past_due: int
    next_due_date: date | None
    next_due_fen: int
    settled_on: date | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> LoanRow:
        """Map a row (uuids as text, jsonb decoded)."""
        values = dict(r)
        for key in ("id", "programme_id", "member_id"):
            values[key] = str(values[key])
        values["home_org_id"] = None if values["home_org_id"] is None else str(values["home_org_id"])
        raw = values["eligibility"]
        values["eligibility"] = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class StepRow:
    """One entry of a loan's history (``loan_steps``)."""

    id: str
    action: str
    tier: int
    actor: str
    body: str
    created_at: datetime


LOAN_ATTACHMENTS = "loan_attachments"
# The content is sealed bound to (tenant, "loan_attachments", "content", attachment id); the key rotation re-seals it.
CONTENT_BINDING = "content"
ENCRYPTED_COLUMNS = (EncryptedColumn(table=LOAN_ATTACHMENTS, column="content_enc", bound_as=CONTENT_BINDING,
                                     binary=True),)
ATTACHMENT_META = "id, loan_id, filename, content_type, size_bytes, sha256, uploaded_by, created_at"


@dataclass(frozen=True, slots=True)
class LoanAttachmentRow:
    """A file of a loan application, without its content."""

    id: str
    loan_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    created_at: datetime

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> LoanAttachmentRow:
        """Map the meta columns (uuids as text)."""
        return cls(id=str(r["id"]), loan_id=str(r["loan_id"]), filename=r["filename"],
                   content_type=r["content_type"], size_bytes=int(r["size_bytes"]), sha256=r["sha256"],
                   uploaded_by=r["uploaded_by"], created_at=r["created_at"])
