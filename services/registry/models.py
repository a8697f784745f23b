"""Registry persistence model: the ``members`` row and how it maps to the domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from jinqiao.registry.domain import Gender, Member, MembershipStatus

MEMBERS = "members"
MEMBER_COLUMNS = (
    "tenant_id, id, name, gender, birth_date, id_number_enc, id_number_bidx, id_number_masked, phone_enc,"
    " phone_masked, membership_status, township, village, occupation, join_date, request_id, created_at, version"
)


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

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> MemberRow:
        """Build from a fetched record."""
        values = dict(record)
        values["id"] = str(values["id"])
        return cls(**values)

    def to_domain(self) -> Member:
        """The masked member the domain and the API see."""
        return Member(
            id=self.id,
            tenant_id=self.tenant_id,
            name=self.name,
            gender=Gender(self.gender),
            birth_date=self.birth_date,
            id_number_masked=self.id_number_masked,
            phone_masked=self.phone_masked,
            membership_status=MembershipStatus(self.membership_status),
            township=self.township,
            village=self.village,
            occupation=self.occupation,
            join_date=self.join_date,
            created_at=self.created_at,
            version=self.version,
        )
