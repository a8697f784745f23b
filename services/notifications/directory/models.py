"""The directory's persistence model: rows of dir_orgs, dir_appointments, dir_members and dir_guests mapped to the
domain, and the officers' sealed phone declared for the key rotation."""

from __future__ import annotations

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.notifications.directory.domain import MemberEntry, Officer, OrgEntry

APPOINTMENTS = "dir_appointments"
# An officer's phone, re-sealed on arrival bound to (county, "dir_appointments", "phone_enc", appointment id).
PHONE_BINDING = "phone_enc"
ENCRYPTED_COLUMNS = (EncryptedColumn(table=APPOINTMENTS, column="phone_enc", bound_as=PHONE_BINDING, key=("id",),
                                     row="{id}"),)

ORG_COLUMNS = "id, parent_id, kind, name, dissolved"
OFFICER_COLUMNS = "id, officer_id, org_id, position, officer_name, phone_enc, phone_masked"
MEMBER_COLUMNS = "id, name, home_org_id, township, active"


def _text(value: object) -> str | None:
    """A uuid (or None) as text."""
    return None if value is None else str(value)


def org_from_record(record: asyncpg.Record) -> OrgEntry:
    """Map a dir_orgs row."""
    return OrgEntry(id=str(record["id"]), parent_id=_text(record["parent_id"]), kind=record["kind"],
                    name=record["name"], dissolved=record["dissolved"])


def officer_from_record(record: asyncpg.Record) -> Officer:
    """Map a dir_appointments row (the phone stays sealed)."""
    sealed = record["phone_enc"]
    return Officer(appointment_id=str(record["id"]), officer_id=str(record["officer_id"]),
                   name=record["officer_name"], position=record["position"],
                   phone_sealed=None if sealed is None else bytes(sealed), phone_masked=record["phone_masked"])


def member_from_record(record: asyncpg.Record) -> MemberEntry:
    """Map a dir_members row."""
    return MemberEntry(id=str(record["id"]), name=record["name"], home_org_id=_text(record["home_org_id"]),
                       township=record["township"], active=record["active"])
