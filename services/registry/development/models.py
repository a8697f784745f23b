"""发展党员 persistence model: the ``applicants`` and ``applicant_mentors`` rows and how they map to the domain."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.registry.development import domain as dev

APPLICANTS = "applicants"
MENTORS = "applicant_mentors"
# What `jinqiao keys rotate` re-encrypts; a mentor's row binding is "<applicant id>/<seq>", as service._rows binds it.
ENCRYPTED_COLUMNS = (
    EncryptedColumn(table=APPLICANTS, column="id_number_enc", bound_as="id_number"),
    EncryptedColumn(table=APPLICANTS, column="phone_enc", bound_as="phone"),
    EncryptedColumn(table=MENTORS, column="phone_enc", bound_as="phone", key=("applicant_id", "seq"),
                    row="{applicant_id}/{seq}"),
)


@dataclass(frozen=True, slots=True)
class ApplicantRow:
    """One row of ``applicants``: ID and phone numbers encrypted, blind-indexed and masked."""

    tenant_id: str
    id: str
    name: str
    gender: str
    birth_date: date
    id_number_enc: bytes
    id_number_bidx: bytes
    id_number_masked: str
    phone_enc: bytes | None
    phone_masked: str
    township: str
    village: str
    destination_code: str
    employer: str
    stage: int
    delegated: bool
    delegated_org_name: str
    request_id: str | None
    created_at: datetime
    version: int
    # None for applicants recorded before the home organisation was asked: the county department's alone.
    home_org_id: str | None = None


@dataclass(frozen=True, slots=True)
class MentorRow:
    """One row of ``applicant_mentors`` (the phone encrypted)."""

    tenant_id: str
    applicant_id: str
    seq: int
    name: str
    side: str
    org_name: str
    phone_enc: bytes | None
    phone_masked: str


APPLICANT_FIELDS = [f.name for f in fields(ApplicantRow)]
APPLICANT_COLUMNS = ", ".join(APPLICANT_FIELDS)
MENTOR_FIELDS = [f.name for f in fields(MentorRow)]


@dataclass(frozen=True, slots=True)
class Children:
    """The stages, mentors and inspections of a set of applicants, by applicant id."""

    stages: dict[str, list[tuple[int, date]]]
    mentors: dict[str, list[MentorRow]]
    inspections: dict[str, list[dev.Inspection]]


def to_domain(row: ApplicantRow, kids: Children) -> dev.Applicant:
    """The masked domain view of a row and its children."""
    return dev.Applicant(
        id=row.id, tenant_id=row.tenant_id, name=row.name, id_number_masked=row.id_number_masked,
        phone_masked=row.phone_masked, gender=row.gender, birth_date=row.birth_date, township=row.township,
        village=row.village, destination_code=row.destination_code, employer=row.employer,
        stage=dev.Stage(row.stage),
        stages=tuple((dev.Stage(s), on) for s, on in kids.stages.get(row.id, [])),
        mentors=tuple(dev.Mentor(name=m.name, phone_masked=m.phone_masked, side=dev.Side(m.side),
                                 org_name=m.org_name) for m in kids.mentors.get(row.id, [])),
        inspections=tuple(kids.inspections.get(row.id, [])),
        delegated=row.delegated, delegated_org_name=row.delegated_org_name, version=row.version,
        created_at=row.created_at, home_org_id=row.home_org_id or "",
    )
