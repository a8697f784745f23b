"""Rows as the desk's own use cases and consumers would leave them, for the loan tests (issue 14): a programme, a
member of the replica with the facts registry's MemberProfileChanged carries, and a loan in any state."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer

BANK = "gsrcb"
BANK_NAME = "固始农商银行"

DEFAULT_RULES = {"allow_probationary": False, "min_party_years": 1, "min_grade": "COMPETENT",
                 "require_no_overdue": True, "min_age": 18, "max_age": 60, "require_returnee": False}


async def add_programme(conn: Any, county: str, *, name: str = "党员先锋贷", product: int = 1,
                        bank_code: str = BANK, bank_name: str = BANK_NAME, cap_fen: int = 30_000_000,
                        quota_fen: int = 500_000_000, committed_fen: int = 0, rate_bp: int = 435,
                        subsidy_bp: int = 0, max_term_months: int = 36, methods: tuple[int, ...] = (1, 2, 3),
                        township_final_up_to_fen: int = 0, rules: dict[str, Any] | None = None,
                        window_start: date = date(2026, 1, 1), window_end: date | None = None,
                        active: bool = True, shared_code: str = "") -> str:
    """A programme row with every NOT NULL column."""
    programme_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO loan_programmes (tenant_id, id, name, product, shared_code, bank_code, bank_name,"
        " cap_per_person_fen, max_term_months, methods, rate_bp, subsidy_bp, total_quota_fen, committed_fen,"
        " window_start, window_end, rules, township_final_up_to_fen, active, created_by, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18, $19,"
        " 'fixture', $20, $20)",
        county, programme_id, f"{name}-{programme_id[:6]}", product, shared_code, bank_code, bank_name, cap_fen,
        max_term_months, list(methods), rate_bp, subsidy_bp, quota_fen, committed_fen, window_start, window_end,
        json.dumps(DEFAULT_RULES if rules is None else rules), township_final_up_to_fen, active, now)
    return programme_id


async def add_org(conn: Any, county: str, *, name: str, kind: str, parent: str | None = None) -> str:
    """An organisation in the desk's replica of the county's org tree."""
    org_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO desk_orgs (tenant_id, id, parent_id, name, kind) VALUES ($1, $2, $3, $4, $5)",
                       county, org_id, parent, f"{name}-{org_id[:6]}", kind)
    return org_id


async def add_member(conn: Any, county: str, *, name: str = "王建国", home_org_id: str | None = None,
                     township: str = "城关镇", status: str = "MEMBERSHIP_STATUS_FULL",
                     join_date: date | None = date(2015, 7, 1), birth_year: int = 1985, grade: str = "EXCELLENT",
                     grade_year: int = 2025, returned: bool = False, active: bool = True,
                     with_facts: bool = True) -> str:
    """A member of the county in the desk's replica, with the facts MemberProfileChanged carries (or none)."""
    member_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO desk_members (tenant_id, id, name, home_org_id, township, active, membership_status, join_date,"
        " birth_year, latest_grade, latest_grade_year, returned, facts_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        county, member_id, name, home_org_id, township, active, status if with_facts else "",
        join_date if with_facts else None, birth_year if with_facts else 0, grade if with_facts else "",
        grade_year if with_facts else 0, returned, datetime.now(UTC) if with_facts else None)
    return member_id


async def add_loan(conn: Any, county: str, *, programme_id: str, member_id: str, status: int = 1,
                   pending_tier: int = 1, amount_fen: int = 10_000_000, term_months: int = 12, method: int = 1,
                   home_org_id: str | None = None, township: str = "城关镇", committed_fen: int = 0,
                   granted_amount_fen: int = 0, rate_bp: int = 435, subsidy_bp: int = 0) -> str:
    """A loan row with every NOT NULL column, as filing (and the steps up to ``status``) would leave it."""
    loan_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO loans (tenant_id, id, number, programme_id, member_id, member_name, home_org_id, township,"
        " amount_fen, term_months, method, purpose, status, pending_tier, channel, applied_by, committed_fen,"
        " granted_amount_fen, rate_bp, subsidy_bp, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, '王建国', $6, $7, $8, $9, $10, '养殖场扩建', $11, $12, 1, 'fixture', $13, $14,"
        " $15, $16, $17, $17)",
        county, loan_id, f"贷-{loan_id[:8]}", programme_id, member_id, home_org_id, township, amount_fen,
        term_months, method, status, pending_tier, committed_fen, granted_amount_fen, rate_bp, subsidy_bp, now)
    return loan_id


def bank_md(issuer: Any, county: str, *, bank: str = BANK, user: str = "bank-officer") -> Any:
    """A partner bank officer's metadata: role bank_officer, the token's org naming the bank."""
    return bearer(issuer.issue(user=user, role=Role.BANK_OFFICER, scope=county, org=bank)[0])


def office_md(issuer: Any, county: str, *, role: Role, org: str | None, user: str = "office") -> Any:
    """A township committee's or branch secretary's metadata over ``org``."""
    return bearer(issuer.issue(user=user, role=role, scope=county, org=org)[0])


def member_md(issuer: Any, county: str, member_id: str) -> Any:
    """A member's own metadata."""
    return bearer(issuer.issue(user=f"member-{member_id[:8]}", role=Role.MEMBER, scope=county,
                               member=member_id)[0])
