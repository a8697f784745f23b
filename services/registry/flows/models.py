"""Flows persistence model: the ``flows`` row and how it maps to the domain."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.registry.flows.domain import Flow, FlowStatus

FLOWS = "flows"
# What `jinqiao keys rotate` re-encrypts (sealed hand-over copies travel in events and are not stored here).
ENCRYPTED_COLUMNS = (EncryptedColumn(table=FLOWS, column="contact_phone_enc", bound_as="contact_phone"),)


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One row of ``flows``; the contact phone only as ciphertext and masked text."""

    tenant_id: str
    id: str
    member_id: str
    attempt: int
    status: int
    destination_code: str
    placing_tenant_id: str
    out_of_province: bool
    address: str
    employer: str
    industry: str
    start_date: date
    destination_since: date
    expected_months: int
    contact_phone_enc: bytes | None
    contact_phone_masked: str
    certificate_serial: str
    certificate_valid_until: date
    membership_id: str | None
    org_id: str | None
    org_name: str
    placement_rule: str
    placement_reason: str
    refusal_reason: str
    refusal_advice: str
    placement_requested_at: datetime
    offered_at: datetime | None
    checked_in_at: datetime | None
    check_in_method: str
    last_report_date: date | None
    closed_on: date | None
    request_id: str | None
    created_at: datetime
    version: int
    # The trace of the 外出登记: every later event of the saga continues it.
    traceparent: str = ""

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> FlowRow:
        """Build from a fetched record (selected with FLOW_COLUMNS; extra columns are ignored)."""
        values = {name: record[name] for name in FLOW_FIELDS}
        for key in ("id", "member_id", "membership_id", "org_id"):
            values[key] = str(values[key]) if values[key] is not None else None
        return cls(**values)

    def values(self) -> tuple[object, ...]:
        """The column values in FLOW_COLUMNS order."""
        return tuple(getattr(self, name) for name in FLOW_FIELDS)

    def to_domain(self, *, member_name: str) -> Flow:
        """The flow as the API shows it (phone masked)."""
        return Flow(
            id=self.id, tenant_id=self.tenant_id, member_id=self.member_id, member_name=member_name,
            attempt=self.attempt, status=FlowStatus(self.status), destination_code=self.destination_code,
            placing_tenant_id=self.placing_tenant_id, out_of_province=self.out_of_province, address=self.address,
            employer=self.employer, industry=self.industry, start_date=self.start_date,
            destination_since=self.destination_since, expected_months=self.expected_months,
            contact_phone_masked=self.contact_phone_masked, certificate_serial=self.certificate_serial,
            certificate_valid_until=self.certificate_valid_until, membership_id=self.membership_id,
            org_id=self.org_id, org_name=self.org_name, placement_rule=self.placement_rule,
            placement_reason=self.placement_reason, refusal_reason=self.refusal_reason,
            refusal_advice=self.refusal_advice, offered_at=self.offered_at, checked_in_at=self.checked_in_at,
            check_in_method=self.check_in_method, last_report_date=self.last_report_date, closed_on=self.closed_on,
            created_at=self.created_at, version=self.version,
        )


FLOW_FIELDS = tuple(f.name for f in fields(FlowRow))
FLOW_COLUMNS = ", ".join(FLOW_FIELDS)
