"""Memberships' persistence model: a membership row with its organisation's name and path, and its mapping."""

from __future__ import annotations

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.organizations.memberships.domain import Membership, Status
from jinqiao.organizations.placement.domain import Rule

# What `jinqiao keys rotate` re-encrypts (the phone unsealed from a hand-over, re-encrypted for this row).
ENCRYPTED_COLUMNS = (EncryptedColumn(table="memberships", column="phone_enc", bound_as="phone"),)

MEMBERSHIP = (
    "SELECT m.id, m.tenant_id, m.origin_tenant_id, m.flow_id, m.member_id, m.attempt, m.member_name,"
    " m.id_number_masked, m.phone_masked, m.gender, m.industry, m.employer, m.address, m.destination_code,"
    " m.org_id, coalesce(o.name, '') AS org_name, o.path_key AS org_path, m.rule, m.reason, m.advice, m.status,"
    " m.refusal_reason, m.created_at, m.check_in_at, m.check_in_method, m.close_reason, m.version, m.traceparent"
    " FROM memberships m LEFT JOIN orgs o ON o.tenant_id = m.tenant_id AND o.id = m.org_id"
)


def membership_from_record(r: asyncpg.Record) -> Membership:
    """Map a row selected with MEMBERSHIP."""
    return Membership(
        id=str(r["id"]), tenant_id=r["tenant_id"], origin_tenant_id=r["origin_tenant_id"], flow_id=str(r["flow_id"]),
        member_id=str(r["member_id"]), attempt=r["attempt"], member_name=r["member_name"],
        id_number_masked=r["id_number_masked"], phone_masked=r["phone_masked"], gender=r["gender"],
        industry=r["industry"], employer=r["employer"], address=r["address"], destination_code=r["destination_code"],
        org_id=str(r["org_id"]) if r["org_id"] else None, org_name=r["org_name"], org_path=r["org_path"],
        rule=Rule(r["rule"]) if r["rule"] else None, reason=r["reason"], advice=r["advice"],
        status=Status(r["status"]), refusal_reason=r["refusal_reason"], offered_at=r["created_at"],
        check_in_at=r["check_in_at"], check_in_method=r["check_in_method"], close_reason=r["close_reason"],
        version=r["version"], traceparent=r["traceparent"],
    )
