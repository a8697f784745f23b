"""Members persistence model: the ``members`` row and how it maps to the domain."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.registry.members.domain import Departure, Gender, Member, MembershipStatus, RecordStatus

MEMBERS = "members"
# What `jinqiao keys rotate` re-encrypts, bound as new_member_row binds it (tenant, table, column, row id).
ENCRYPTED_COLUMNS = (
    EncryptedColumn(table=MEMBERS, column="id_number_enc", bound_as="id_number"),
    EncryptedColumn(table=MEMBERS, column="phone_enc", bound_as="phone"),
)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One row of ``members``; PII only as ciphertext, blind index and masked text."""

    tenant_id: str
    id: str
    name: str
    gender: int
    birth_date: date
    # None once erased (members_erased_or_whole): nothing left to decrypt or look up.
    id_number_enc: bytes | None
    id_number_bidx: bytes | None
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
    ended_on: date | None = None
    departure: int = 0
    erased_at: datetime | None = None

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
            record_status=RecordStatus(self.record_status), ended_on=self.ended_on,
            departure=Departure(self.departure), erased_at=self.erased_at,
        )


MEMBER_FIELDS = tuple(f.name for f in fields(MemberRow))
MEMBER_COLUMNS = ", ".join(MEMBER_FIELDS)
