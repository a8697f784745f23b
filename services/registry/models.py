"""Registry persistence model: the ``members`` and ``flows`` rows and how they map to the domain."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

import asyncpg

from jinqiao.registry.domain import Gender, Member, MembershipStatus, RecordStatus
from jinqiao.registry.flows import Flow, FlowStatus

MEMBERS = "members"
FLOWS = "flows"


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One row of ``members``; PII only as ciphertext, blind index and masked text."""

    tenant_id: str
    id: str
    name: str
    gender: int
    birth_date: date
    id_number_enc: bytes
    id_number_bidx: bytes
    id_number_masked: str
    phone_enc: bytes | None
    phone_masked: str
    membership_status: int
    township: str
    village: str
    occupation: str
    join_date: date | None
    request_id: str | None
    created_at: datetime
    version: int
    ethnicity: str = ""
    education: str = ""
    home_branch_id: str | None = None
    household_address: str = ""
    full_member_date: date | None = None
    record_status: int = 1
    flow_id: str | None = None
    flow_status: int = 0
    destination_code: str = ""
    industry: str = ""

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> MemberRow:
        """Build from a fetched record."""
        values = dict(record)
        for key in ("id", "home_branch_id", "flow_id"):
            values[key] = str(values[key]) if values[key] is not None else None
        return cls(**values)

    def values(self) -> tuple[object, ...]:
        """The column values in MEMBER_COLUMNS order (for INSERT and COPY)."""
        return tuple(getattr(self, name) for name in MEMBER_FIELDS)

    def to_domain(self) -> Member:
        """The masked member the domain and the API see."""
        return Member(
            id=self.id, tenant_id=self.tenant_id, name=self.name, gender=Gender(self.gender),
            birth_date=self.birth_date, id_number_masked=self.id_number_masked, phone_masked=self.phone_masked,
            membership_status=MembershipStatus(self.membership_status), township=self.township,
            village=self.village, occupation=self.occupation, join_date=self.join_date,
            created_at=self.created_at, version=self.version, ethnicity=self.ethnicity, education=self.education,
            home_branch_id=self.home_branch_id, household_address=self.household_address,
            full_member_date=self.full_member_date, flow_id=self.flow_id, flow_status=self.flow_status,
            destination_code=self.destination_code, industry=self.industry,
            record_status=RecordStatus(self.record_status),
        )


MEMBER_FIELDS = tuple(f.name for f in fields(MemberRow))
MEMBER_COLUMNS = ", ".join(MEMBER_FIELDS)


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
