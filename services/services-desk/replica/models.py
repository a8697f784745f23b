"""Replica: records of desk_orgs, desk_members and desk_guests mapped to the domain's dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinqiao.desk.replica.domain import Guest, MemberFacts, ReplicaMember, ReplicaOrg


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def org_from_record(r: Mapping[str, Any]) -> ReplicaOrg:
    """A desk_orgs row as a ReplicaOrg."""
    return ReplicaOrg(id=str(r["id"]), parent_id=_text_or_none(r["parent_id"]), name=r["name"], kind=r["kind"],
                      dissolved=r["dissolved"])


def member_from_record(r: Mapping[str, Any]) -> ReplicaMember:
    """A desk_members row as a ReplicaMember."""
    return ReplicaMember(
        id=str(r["id"]), name=r["name"], home_org_id=_text_or_none(r["home_org_id"]), township=r["township"],
        active=r["active"], flow_id=_text_or_none(r["flow_id"]), destination_code=r["destination_code"],
        placing_tenant_id=r["placing_tenant_id"], placed_org_id=_text_or_none(r["placed_org_id"]),
        placed_org_name=r["placed_org_name"],
    )


def guest_from_record(r: Mapping[str, Any]) -> Guest:
    """A desk_guests row as a Guest."""
    return Guest(
        flow_id=str(r["flow_id"]), origin_tenant_id=r["origin_tenant_id"], member_id=str(r["member_id"]),
        member_name=r["member_name"], id_number_masked=r["id_number_masked"], org_id=_text_or_none(r["org_id"]),
        org_name=r["org_name"], status=r["status"],
    )


def facts_from_record(r: Mapping[str, Any]) -> MemberFacts:
    """A desk_members row's loan-relevant facts (issue 14) as MemberFacts."""
    return MemberFacts(
        member_id=str(r["id"]), name=r["name"], home_org_id=_text_or_none(r["home_org_id"]), township=r["township"],
        active=r["active"], membership_status=r["membership_status"], join_date=r["join_date"],
        birth_year=int(r["birth_year"]), latest_grade=r["latest_grade"],
        latest_grade_year=int(r["latest_grade_year"]), returned=r["returned"], facts_at=r["facts_at"],
    )
