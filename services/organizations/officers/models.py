"""Officers' persistence model: the appointment and grid rows (with their officers) and their mapping."""

from __future__ import annotations

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.organizations.officers.domain import Appointment, Grid, Position

# What `jinqiao keys rotate` re-encrypts, bound as appoint_officer binds it.
ENCRYPTED_COLUMNS = (EncryptedColumn(table="officers", column="phone_enc", bound_as="phone"),)

APPOINTMENT = (
    "SELECT a.id, a.officer_id, o.name AS officer_name, o.phone_masked, a.org_id, g.name AS org_name, g.city_code,"
    " a.position, a.start_date, a.end_date FROM appointments a JOIN officers o ON o.id = a.officer_id"
    " AND o.tenant_id = a.tenant_id JOIN orgs g ON g.id = a.org_id AND g.tenant_id = a.tenant_id"
)


def appointment_from_record(r: asyncpg.Record) -> Appointment:
    """Map a row selected with APPOINTMENT."""
    return Appointment(id=str(r["id"]), officer_id=str(r["officer_id"]), officer_name=r["officer_name"],
                       phone_masked=r["phone_masked"], org_id=str(r["org_id"]), org_name=r["org_name"],
                       city_code=r["city_code"], position=Position(r["position"]), start_date=r["start_date"],
                       end_date=r["end_date"])


GRID = (
    "SELECT g.id, g.org_id, g.name, g.leader_officer_id, coalesce(o.name, '') AS leader_name,"
    " coalesce(o.phone_masked, '') AS leader_phone_masked, g.addresses, g.member_ids"
    " FROM grids g LEFT JOIN officers o ON o.id = g.leader_officer_id AND o.tenant_id = g.tenant_id"
)


def grid_from_record(r: asyncpg.Record) -> Grid:
    """Map a row selected with GRID."""
    return Grid(id=str(r["id"]), org_id=str(r["org_id"]), name=r["name"],
                leader_officer_id=str(r["leader_officer_id"]) if r["leader_officer_id"] else None,
                leader_name=r["leader_name"], leader_phone_masked=r["leader_phone_masked"],
                addresses=tuple(r["addresses"]), member_ids=tuple(str(m) for m in r["member_ids"]))
