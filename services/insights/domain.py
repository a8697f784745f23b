"""Insights domain: who may read which aggregate. No framework imports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from jinqiao.kit import authz
from jinqiao.kit.authz import Permission
from jinqiao.kit.errors import FieldViolation, InvalidArgument, NotFound
from jinqiao.kit.tenancy import InvalidTenant, parse_scope, scope_contains


@dataclass(frozen=True, slots=True)
class CountyCount:
    """Members registered in one county."""

    tenant_id: str
    members: int
    updated_at: datetime


def readable_scope(*, requested: str, principal_scope: str, role: str) -> str:
    """The requested scope if the caller may read it; otherwise it does not exist for them."""
    try:
        scope = parse_scope(requested)
    except InvalidTenant as exc:
        raise NotFound("未找到该区域") from exc
    if not authz.allows(role, Permission.INSIGHTS_READ) or not scope_contains(principal_scope, scope):
        raise NotFound("未找到该区域")
    return scope


# ------------------------------------------------------------------------------------------------ flows

ONLINE_BRANCH_RULE = "ONLINE_BRANCH"  # a 网上党支部 holds the member from afar, not at the destination
CHECK_IN_OVERDUE = "CHECK_IN_OVERDUE"
UNORGANISED_THRESHOLD = 3  # 3 or more members in one place warrant a 临时党支部 (DOMAIN, seed 001)
INDUSTRY_MAX = 100
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class FlowStatus(StrEnum):
    """Where a flow stands as the read model sees it (derived, never merged)."""

    WAITING = "WAITING"  # no answer of the current attempt yet (or its membership was closed again)
    REFUSED = "REFUSED"
    OFFERED = "OFFERED"
    MANAGED = "MANAGED"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class FlowFact:
    """What one event says about a flow. ``attempt`` 0 means the event names no placement attempt."""

    attempt: int = 0
    registered: bool = False
    month: str | None = None
    destination_code: str = ""
    industry: str = ""
    # True when destination and industry are the origin's own words for ``attempt`` (registration or
    # redirection); otherwise they are hints, used only until the origin's word arrives.
    authoritative: bool = False
    offered: bool = False
    placed: bool = False
    refused: bool = False
    checked_in: bool = False
    membership_closed: bool = False
    overdue: bool = False
    closed: bool = False


@dataclass(frozen=True, slots=True)
class FlowState:
    """Everything known about one flow, merged from facts in any order.

    The merge is a join: commutative, associative and idempotent, so the end state does not depend on the
    order or the number of deliveries. Three parts: the destination (latest authoritative attempt wins,
    ties and hints by the greater value), the answers of the latest attempt (a newer attempt resets them,
    the same attempt ORs them, an older one is ignored), and monotonic flags (registered, overdue, closed).
    """

    registered: bool = False
    month: str | None = None
    destination_code: str = ""
    industry: str = ""
    placement_attempt: int = 0  # the attempt destination and industry belong to; 0: only hints so far
    attempt: int = 0  # the latest attempt any fact named; the answer flags below are about it
    offered: bool = False
    placed: bool = False
    refused: bool = False
    checked_in: bool = False
    membership_closed: bool = False
    overdue: bool = False  # a CHECK_IN_OVERDUE timer fired for the flow
    closed: bool = False  # terminal

    @property
    def holds_offer(self) -> bool:
        """An organisation of the current attempt holds the member (a refusal counts unless they checked in)."""
        return self.offered and not self.membership_closed and (self.checked_in or not self.refused)

    @property
    def held_at_destination(self) -> bool:
        """Open and held by an organisation at the destination, not merely by the online branch."""
        return not self.closed and self.placed and self.holds_offer

    @property
    def overdue_pending(self) -> bool:
        """Open, its 报到 overdue, and not checked in for the current attempt."""
        return not self.closed and self.overdue and not self.checked_in

    @property
    def status(self) -> FlowStatus:
        """The derived status the aggregates count."""
        if self.closed:
            return FlowStatus.CLOSED
        if self.checked_in and not self.membership_closed:
            return FlowStatus.MANAGED
        if self.holds_offer:
            return FlowStatus.OFFERED
        if self.refused:
            return FlowStatus.REFUSED
        return FlowStatus.WAITING

    def apply(self, fact: FlowFact) -> FlowState:
        """The state after one more fact (any order, any number of times)."""
        destination, industry, placement_attempt = self._destination_after(fact)
        if fact.attempt > self.attempt:
            # A newer attempt supersedes every earlier one: its answers start from nothing.
            answers = (fact.offered, fact.placed, fact.refused, fact.checked_in, fact.membership_closed)
            attempt = fact.attempt
        elif fact.attempt == self.attempt:
            answers = (self.offered or fact.offered, self.placed or fact.placed, self.refused or fact.refused,
                       self.checked_in or fact.checked_in, self.membership_closed or fact.membership_closed)
            attempt = self.attempt
        else:
            answers = (self.offered, self.placed, self.refused, self.checked_in, self.membership_closed)
            attempt = self.attempt
        offered, placed, refused, checked_in, membership_closed = answers
        months = [m for m in (self.month, fact.month) if m]
        return FlowState(
            registered=self.registered or fact.registered,
            # The start month never changes; min keeps the merge commutative should two copies disagree.
            month=min(months) if months else None,
            destination_code=destination, industry=industry, placement_attempt=placement_attempt,
            attempt=attempt, offered=offered or checked_in, placed=placed, refused=refused,
            checked_in=checked_in, membership_closed=membership_closed,
            overdue=self.overdue or fact.overdue, closed=self.closed or fact.closed,
        )

    def _destination_after(self, fact: FlowFact) -> tuple[str, str, int]:
        rank = fact.attempt if fact.authoritative else 0
        if rank > self.placement_attempt:
            return fact.destination_code, fact.industry, rank
        if rank == self.placement_attempt:
            return (max(self.destination_code, fact.destination_code), max(self.industry, fact.industry),
                    self.placement_attempt)
        return self.destination_code, self.industry, self.placement_attempt


def month_of(start_date: str) -> str | None:
    """``2026-03-15`` → ``2026-03``; None when the date cannot be read."""
    try:
        return date.fromisoformat(start_date.strip()).strftime("%Y-%m")
    except ValueError:
        return None


def holds_at_destination(rule: str) -> bool:
    """An offer places the member in an organisation at the destination unless it is the online branch."""
    return rule.strip().upper() != ONLINE_BRANCH_RULE


@dataclass(frozen=True, slots=True)
class MatrixFilter:
    """Validated filters of a flow matrix query: inclusive month range, exact industry; None means any."""

    from_month: str | None
    to_month: str | None
    industry: str | None


def matrix_filter(*, from_month: str, to_month: str, industry: str) -> MatrixFilter:
    """Check the filters, reporting every violation at once."""
    violations: list[FieldViolation] = []
    first, last = from_month.strip() or None, to_month.strip() or None
    for field, value in (("from_month", first), ("to_month", last)):
        if value is not None and not _MONTH.fullmatch(value):
            violations.append(FieldViolation(field, "月份格式应为 YYYY-MM"))
    if not violations and first and last and first > last:
        violations.append(FieldViolation("to_month", "结束月份不能早于起始月份"))
    clean_industry = " ".join(industry.split()) or None
    if clean_industry and len(clean_industry) > INDUSTRY_MAX:
        violations.append(FieldViolation("industry", f"行业不能超过 {INDUSTRY_MAX} 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return MatrixFilter(from_month=first, to_month=last, industry=clean_industry)


@dataclass(frozen=True, slots=True)
class FlowCell:
    """Flows registered from one origin to one destination in one month and industry."""

    origin_tenant_id: str
    destination_code: str
    month: str
    industry: str
    flows: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """One origin's open flows and how many of them a destination organisation holds."""

    origin_tenant_id: str
    away: int
    offered: int
    managed: int
    overdue_check_ins: int

    @property
    def coverage(self) -> float:
        """managed / away; 0 when nobody is away."""
        return coverage_ratio(managed=self.managed, away=self.away)


@dataclass(frozen=True, slots=True)
class Unorganised:
    """A destination with enough open flows of one origin but no organisation there holding any of them."""

    origin_tenant_id: str
    destination_code: str
    members: int


@dataclass(frozen=True, slots=True)
class FlowMatrix:
    """Counts only, never persons."""

    cells: list[FlowCell]
    coverage: list[Coverage]
    unorganised: list[Unorganised]

    @property
    def total_away(self) -> int:
        """Open flows of every origin."""
        return sum(c.away for c in self.coverage)

    @property
    def total_managed(self) -> int:
        """Open flows checked in at their destination."""
        return sum(c.managed for c in self.coverage)

    @property
    def total_overdue(self) -> int:
        """Open flows whose 报到 is overdue."""
        return sum(c.overdue_check_ins for c in self.coverage)


def coverage_ratio(*, managed: int, away: int) -> float:
    """Share of the members away who are managed at their destination (流而不失)."""
    return managed / away if away else 0.0


def is_unorganised(*, open_flows: int, any_held: bool) -> bool:
    """Enough open flows to one destination and none held there: a 临时党支部 should be founded."""
    return open_flows >= UNORGANISED_THRESHOLD and not any_held
