"""Insights domain: who may read which aggregate, and what of it may be published. No framework imports."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from jinqiao.kit import authz
from jinqiao.kit.authz import Permission
from jinqiao.kit.errors import FieldViolation, ForgedEvent, InvalidArgument, NotFound
from jinqiao.kit.tenancy import InvalidTenant, parse_scope, province_of, scope_contains


@dataclass(frozen=True, slots=True)
class CountyCount:
    """Members registered in one county."""

    tenant_id: str
    members: int
    updated_at: datetime
    suppressed: bool = False  # below the threshold: members reads 0
    display: str = ""


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
    placing_tenant_id: str = ""  # the county placing ``attempt`` (authoritative facts only)
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
    placing_tenant_id: str = ""  # the county placing ``placement_attempt``; "": not known yet
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
        destination, industry, placement_attempt, placing = self._destination_after(fact)
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
            placing_tenant_id=placing, attempt=attempt, offered=offered or checked_in, placed=placed, refused=refused,
            checked_in=checked_in, membership_closed=membership_closed,
            overdue=self.overdue or fact.overdue, closed=self.closed or fact.closed,
        )

    def _destination_after(self, fact: FlowFact) -> tuple[str, str, int, str]:
        rank = fact.attempt if fact.authoritative else 0
        if rank > self.placement_attempt:
            return fact.destination_code, fact.industry, rank, fact.placing_tenant_id
        if rank == self.placement_attempt:
            return (max(self.destination_code, fact.destination_code), max(self.industry, fact.industry),
                    self.placement_attempt, max(self.placing_tenant_id, fact.placing_tenant_id))
        return self.destination_code, self.industry, self.placement_attempt, self.placing_tenant_id

    def ensure_answer_origin(self, *, attempt: int, answered_by: str) -> None:
        """An answer about an attempt must come from the county placing it (issue 9).

        Raises ``ForgedEvent`` when the placing county of ``attempt`` is known and is not ``answered_by`` (or the
        answer names no attempt), and ``PlacementNotKnownYet`` when the origin's word about ``attempt`` has not
        arrived (the answer overtook it): retried until it has. An answer about an earlier attempt passes; the
        merge ignores it.
        """
        if attempt < 1:
            raise ForgedEvent(f"来自 {answered_by} 的答复未指明安置次数")
        if attempt < self.placement_attempt:
            return
        if attempt > self.placement_attempt or not self.placing_tenant_id:
            raise PlacementNotKnownYet(f"第 {attempt} 次安置的登记尚未到达（已知第 {self.placement_attempt} 次）")
        if answered_by != self.placing_tenant_id:
            raise ForgedEvent(f"答复来自 {answered_by}，但该外出登记第 {attempt} 次安置"
                              f"由 {self.placing_tenant_id} 负责")


class PlacementNotKnownYet(Exception):
    """An answer arrived before the origin's registration or redirection it answers; deliver it again later."""


def placing_county(*, origin: str, destination_code: str, named: str = "") -> str:
    """The county placing an attempt: the one the hand-over names, else (as the registry derives it) the
    destination county inside the province, the origin itself (its 驻外 organisations) outside it."""
    if named.strip():
        return named.strip()
    if not destination_code.strip():
        return ""
    return destination_code if province_of(destination_code) == province_of(origin) else origin


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


NO_FILTER = MatrixFilter(from_month=None, to_month=None, industry=None)


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
    suppressed: bool = False  # below the threshold: flows reads 0
    display: str = ""


@dataclass(frozen=True, slots=True)
class Coverage:
    """One origin's open flows and how many of them a destination organisation holds."""

    origin_tenant_id: str
    away: int
    offered: int
    managed: int
    overdue_check_ins: int
    hidden: frozenset[str] = frozenset()  # figures suppressed (they read 0), named as in COVERAGE_FIGURES
    hidden_text: str = ""  # how every hidden figure of the row reads

    @property
    def coverage(self) -> float:
        """managed / away; 0 when nobody is away or either is hidden."""
        return 0.0 if "coverage" in self.hidden else coverage_ratio(managed=self.managed, away=self.away)

    def display(self, figure: str) -> str:
        """A figure's text: the number, the ratio as a percentage, or the row's mark when hidden."""
        if figure in self.hidden:
            return self.hidden_text
        if figure == "coverage":
            return f"{self.coverage:.1%}" if self.away else "—"
        return str(getattr(self, figure))


@dataclass(frozen=True, slots=True)
class Unorganised:
    """A destination with enough open flows of one origin but no organisation there holding any of them."""

    origin_tenant_id: str
    destination_code: str
    members: int
    suppressed: bool = False  # a wider scope learns the place, not the count (members reads 0)
    display: str = ""


@dataclass(frozen=True, slots=True)
class FlowMatrix:
    """Counts only, never persons; totals add up only what is published."""

    cells: list[FlowCell]
    coverage: list[Coverage]
    unorganised: list[Unorganised]
    threshold: int = 0  # 0: exact figures (a county's own scope)
    coverage_filtered: bool = True  # False: coverage and totals cover every flow, whatever the filters

    @property
    def total_coverage(self) -> float:
        """Managed / away over the origins that publish both."""
        rows = [c for c in self.coverage if not c.hidden & {"away", "managed"}]
        return coverage_ratio(managed=sum(c.managed for c in rows), away=sum(c.away for c in rows))

    @property
    def partial_totals(self) -> list[str]:
        """The totals that leave out a hidden figure."""
        hidden = {name for c in self.coverage for name in c.hidden}
        partial = [f"total_{name}" for name, figure in (("away", "away"), ("managed", "managed"),
                                                         ("overdue", "overdue_check_ins")) if figure in hidden]
        if hidden & {"away", "managed"}:
            partial.append("total_coverage")
        return partial

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


# ------------------------------------------------------------------------------------ small-cell suppression
#
# DESIGN §5: an aggregate for a scope wider than a county publishes no count below the threshold, and nothing
# published gives one back. Three rules make that hold for every response, filter and scope:
#  1. Cells (members per county; flows per origin, destination, month and industry) are primary-suppressed when
#     1 ≤ n < threshold. A filter only selects whole cells, so a cell reads the same in every view.
#  2. A total is the sum of the published figures only and says so when it leaves one out (partial); no exact
#     margin of a hidden cell is ever published, so differences between views or scopes add up published cells.
#  3. A coverage row (away ⊇ offered ⊇ managed, overdue ⊆ away − managed) publishes its figures exactly, so every
#     count derivable from them by adding and subtracting must also be 0 or ≥ threshold: a greedy audit hides
#     figures (complementary suppression) until none is. The row's figures are not filtered by month or industry
#     in a suppressed view, since two filtered rows would differ by a small count.

SUPPRESSION_THRESHOLD = 3
HIDDEN_TEXT = "*"  # hidden so that a small count cannot be derived; no hint whether it is small itself
COVERAGE_FIGURES = ("away", "offered", "managed", "overdue_check_ins", "coverage")
# Which coverage figure to keep when two compete, most useful first; the ratio follows away and managed.
_COVERAGE_PRIORITY = ("away", "managed", "overdue_check_ins", "offered")
_OFFERED_STATUSES = frozenset({FlowStatus.OFFERED, FlowStatus.MANAGED})


def small_text(threshold: int) -> str:
    """How a cell below the threshold reads: ``<3``."""
    return f"<{threshold}"


def is_small(count: int, *, threshold: int) -> bool:
    """1 ≤ count < threshold: it could point at a person. Zero names nobody; threshold 0 disables suppression."""
    return 0 < count < threshold


def suppression_threshold(*, principal_scope: str, setting: int) -> int:
    """0 (exact figures) for a county's own scope, the setting for anything wider (a county's data is its own)."""
    return 0 if len(principal_scope) >= 6 else setting


@dataclass(frozen=True, slots=True)
class Shown:
    """A count as published: the value (0 when suppressed), whether it was, and its text."""

    value: int
    suppressed: bool
    display: str


def show_count(count: int, *, threshold: int) -> Shown:
    """A cell: itself, or ``<3`` and 0 when it is small."""
    if is_small(count, threshold=threshold):
        return Shown(value=0, suppressed=True, display=small_text(threshold))
    return Shown(value=count, suppressed=False, display=str(count))


def hidden_figures(
    *, figures: dict[str, frozenset[str]], atoms: dict[str, int], priority: tuple[str, ...], threshold: int,
) -> frozenset[str]:
    """Figures to hide so that no count derivable from the rest lies in 1 … threshold − 1."""
    # ``figures`` are sets of disjoint ``atoms``. A derivable count is a sum and difference of published figures
    # that is again a set of atoms; every combination with coefficients −1, 0, 1 is tried (enough for nested
    # figures) and, while one is small, the least useful figure in it (last in ``priority``) is hidden.
    hidden: set[str] = set()
    while True:
        published = [name for name in priority if name not in hidden]
        involved = _small_combination(published, figures=figures, atoms=atoms, threshold=threshold)
        if involved is None:
            return frozenset(hidden)
        hidden.add(max(involved, key=priority.index))


def _small_combination(
    published: list[str], *, figures: dict[str, frozenset[str]], atoms: dict[str, int], threshold: int,
) -> list[str] | None:
    names = [a for a, n in atoms.items() if n]
    for coefficients in itertools.product((0, 1, -1), repeat=len(published)):
        if not any(coefficients):
            continue
        weight = [sum(k for k, f in zip(coefficients, published, strict=True) if a in figures[f]) for a in names]
        if any(w not in (0, 1) for w in weight):
            continue
        count = sum(atoms[a] for a, w in zip(names, weight, strict=True) if w)
        if is_small(count, threshold=threshold):
            return [f for k, f in zip(coefficients, published, strict=True) if k]
    return None


@dataclass(frozen=True, slots=True)
class CoverageAtom:
    """Registered flows of one origin in one derived status, overdue or not: the parts every figure is made of."""

    origin_tenant_id: str
    status: FlowStatus
    overdue_pending: bool
    flows: int


def coverage_of(atoms: list[CoverageAtom]) -> list[Coverage]:
    """Exact coverage rows (one per origin with any registered flow) from the parts."""
    rows: dict[str, dict[str, int]] = {}
    for atom in atoms:
        row = rows.setdefault(atom.origin_tenant_id, dict.fromkeys(COVERAGE_FIGURES[:4], 0))
        for figure in _figures_of(atom):
            row[figure] += atom.flows
    return [Coverage(origin_tenant_id=origin, away=r["away"], offered=r["offered"], managed=r["managed"],
                     overdue_check_ins=r["overdue_check_ins"]) for origin, r in sorted(rows.items())]


def _figures_of(atom: CoverageAtom) -> list[str]:
    if atom.status is FlowStatus.CLOSED:
        return []
    figures = ["away"]
    if atom.status in _OFFERED_STATUSES:
        figures.append("offered")
    if atom.status is FlowStatus.MANAGED:
        figures.append("managed")
    if atom.overdue_pending:
        figures.append("overdue_check_ins")
    return figures


def suppress_coverage(atoms: list[CoverageAtom], *, threshold: int) -> list[Coverage]:
    """Coverage rows with every small count, and every figure that would give one back, hidden."""
    by_origin: dict[str, list[CoverageAtom]] = {}
    for atom in atoms:
        by_origin.setdefault(atom.origin_tenant_id, []).append(atom)
    return [_suppress_row(parts, threshold=threshold) for _, parts in sorted(by_origin.items())]


def _suppress_row(parts: list[CoverageAtom], *, threshold: int) -> Coverage:
    (row,) = coverage_of(parts)
    if is_small(row.away, threshold=threshold):
        # Every figure is part of the away count: all of them are small, the whole row reads "<3".
        return _hide(row, frozenset(COVERAGE_FIGURES), text=small_text(threshold))
    atoms: dict[str, int] = {}
    figures: dict[str, set[str]] = {name: set() for name in _COVERAGE_PRIORITY}
    for part in parts:
        key = f"{part.status.value}/{part.overdue_pending}"
        atoms[key] = atoms.get(key, 0) + part.flows
        for figure in _figures_of(part):
            figures[figure].add(key)
    hidden = hidden_figures(figures={k: frozenset(v) for k, v in figures.items()}, atoms=atoms,
                            priority=_COVERAGE_PRIORITY, threshold=threshold)
    if hidden & {"away", "managed"}:
        hidden |= {"coverage"}
    # One mark for every hidden figure: "<3" beside "*" would tell the "*" is 3 or more, and with the nesting
    # that can pin the small one down (away 4, managed "*" ≥ 3, overdue "<3" ≤ 4 − 3: overdue is exactly 1).
    return _hide(row, hidden, text=HIDDEN_TEXT)


def _hide(row: Coverage, hidden: frozenset[str], *, text: str) -> Coverage:
    values = {name: 0 if name in hidden else getattr(row, name) for name in COVERAGE_FIGURES[:4]}
    return Coverage(origin_tenant_id=row.origin_tenant_id, **values,
                    hidden=frozenset(hidden), hidden_text=text if hidden else "")


@dataclass(frozen=True, slots=True)
class CountyCounts:
    """Members per county as published, the total of what is published, and whether it leaves any out."""

    counties: list[CountyCount]
    total: int
    total_partial: bool
    threshold: int


def disclose_member_counts(counts: list[CountyCount], *, threshold: int) -> CountyCounts:
    """Members per county with small counties hidden; the total adds up only the published ones."""
    shown = []
    for count in counts:
        cell = show_count(count.members, threshold=threshold)
        shown.append(CountyCount(tenant_id=count.tenant_id, members=cell.value, updated_at=count.updated_at,
                                 suppressed=cell.suppressed, display=cell.display))
    return CountyCounts(counties=shown, total=sum(c.members for c in shown),
                        total_partial=any(c.suppressed for c in shown), threshold=threshold)


def disclose_matrix(
    *, cells: list[FlowCell], coverage_atoms: list[CoverageAtom] | None, exact_coverage: list[Coverage],
    unorganised: list[Unorganised], threshold: int,
) -> FlowMatrix:
    """The matrix as published under ``threshold`` (0: the county's own exact figures)."""
    # Suppressed: coverage comes from ``coverage_atoms`` (every registered flow, whatever the filters), and an
    # unorganised destination keeps its place but not its count (``≥3`` is all it says).
    if not threshold or coverage_atoms is None:
        return FlowMatrix(cells=[_cell(c, show_count(c.flows, threshold=0)) for c in cells],
                          coverage=exact_coverage, unorganised=unorganised, threshold=0, coverage_filtered=True)
    return FlowMatrix(
        cells=[_cell(c, show_count(c.flows, threshold=threshold)) for c in cells],
        coverage=suppress_coverage(coverage_atoms, threshold=threshold),
        unorganised=[Unorganised(origin_tenant_id=u.origin_tenant_id, destination_code=u.destination_code,
                                 members=0, suppressed=True, display=f"≥{UNORGANISED_THRESHOLD}")
                     for u in unorganised],
        threshold=threshold, coverage_filtered=False,
    )


def _cell(cell: FlowCell, shown: Shown) -> FlowCell:
    return FlowCell(origin_tenant_id=cell.origin_tenant_id, destination_code=cell.destination_code, month=cell.month,
                    industry=cell.industry, flows=shown.value, suppressed=shown.suppressed, display=shown.display)


# ------------------------------------------------------------------------------------------------ dashboard
#
# The dashboard publishes no new cell: every figure is a sum of the cells published above (members per county,
# coverage rows per county, flow cells per origin, destination, month and industry) plus one more kind of cell,
# members checked in or returned per county and month. Each cell is suppressed by the one rule (``show_count``,
# or the coverage audit); an area's figure adds up its published cells only and says how many it left out, so
# the difference of any two published figures is again a sum of published cells.

CHECKED_IN = "CHECKED_IN"
RETURNED = "RETURNED"
MONTH_KINDS = (CHECKED_IN, RETURNED)
TREND_MONTHS = 12
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class MonthCell:
    """Members of one county checked in (报到) or returned in one month."""

    tenant_id: str
    kind: str
    month: str
    members: int


@dataclass(frozen=True, slots=True)
class Tally:
    """A sum of published cells and how many small cells it left out."""

    value: int = 0
    hidden: int = 0

    def add(self, *, value: int, suppressed: bool) -> Tally:
        """One more cell: its value if published, else one more left out."""
        return Tally(self.value + (0 if suppressed else value), self.hidden + (1 if suppressed else 0))

    def plus(self, other: Tally) -> Tally:
        """Two sums of published cells together."""
        return Tally(self.value + other.value, self.hidden + other.hidden)

    def display(self, threshold: int) -> str:
        """``12``; ``<3`` when its only cell is small (``<5`` for two); ``12+`` when some are left out."""
        if not self.hidden:
            return str(self.value)
        if not self.value:
            return small_text(self.hidden * (max(threshold, 2) - 1) + 1)
        return f"{self.value}+"


@dataclass(slots=True)
class AreaTally:
    """The figures of one area as published."""

    code: str
    members: Tally = Tally()
    away: Tally = Tally()
    managed: Tally = Tally()
    overdue: Tally = Tally()
    returned_this_year: Tally = Tally()
    coverage_managed: int = 0  # over the counties that publish both away and managed
    coverage_away: int = 0
    coverage_partial: bool = False

    @property
    def coverage(self) -> float:
        """Managed / away over the counties that publish both."""
        return coverage_ratio(managed=self.coverage_managed, away=self.coverage_away)

    def add_coverage(self, row: Coverage) -> None:
        """One county's published coverage row."""
        self.away = self.away.add(value=row.away, suppressed="away" in row.hidden)
        self.managed = self.managed.add(value=row.managed, suppressed="managed" in row.hidden)
        self.overdue = self.overdue.add(value=row.overdue_check_ins, suppressed="overdue_check_ins" in row.hidden)
        if row.hidden & {"away", "managed"}:
            self.coverage_partial = True
        else:
            self.coverage_managed += row.managed
            self.coverage_away += row.away


@dataclass(frozen=True, slots=True)
class MonthTally:
    """A month of the trends."""

    month: str
    registered: Tally
    checked_in: Tally
    returned: Tally


@dataclass(frozen=True, slots=True)
class LinkTally:
    """Flows from one area of the level shown to one destination city (or province outside)."""

    origin_code: str
    destination_code: str
    flows: Tally


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the dashboard of a scope shows; counts only."""

    scope: str
    total: AreaTally
    children: list[AreaTally]
    counties: list[AreaTally]
    links: list[LinkTally]
    months: list[MonthTally]
    threshold: int


# The consumers count, per origin and destination city and per origin and start month, how many of the matrix's
# cells hold exactly k flows (k = 1 … CELL_SIZES): the dashboard's sums of published cells under any threshold up to
# CELL_SIZES + 1 follow from those counts without reading the cells (repo.cell_tallies).
CELL_SIZES = 20


@dataclass(frozen=True, slots=True)
class CellTallies:
    """Sums of the matrix's published cells: per (area of the level shown, destination city) and per start month."""

    links: dict[tuple[str, str], Tally]
    months: dict[str, Tally]


def area_digits(scope: str) -> int:
    """How many digits of a county code name the area of the next level down (``child_of``)."""
    return 4 if len(scope) == 2 else 6


def tally_cells(cells: list[FlowCell], *, scope: str, threshold: int) -> CellTallies:
    """The same sums taken cell by cell (each cell suppressed by the one rule)."""
    links: dict[tuple[str, str], Tally] = {}
    months: dict[str, Tally] = {}
    for flow in cells:
        shown = show_count(flow.flows, threshold=threshold)
        key = (child_of(scope=scope, county=flow.origin_tenant_id), destination_area(flow.destination_code))
        links[key] = links.get(key, Tally()).add(value=shown.value, suppressed=shown.suppressed)
        months[flow.month] = months.get(flow.month, Tally()).add(value=shown.value, suppressed=shown.suppressed)
    return CellTallies(links=links, months=months)


def child_of(*, scope: str, county: str) -> str:
    """The area of the next level down holding a county: a province's city, a city's (or a county's) county."""
    return county[:4] if len(scope) == 2 else county


def destination_area(code: str) -> str:
    """The destination city of a division code (``410102`` → ``410100``); a municipality's is itself (``310000``)."""
    if len(code) < 4:
        return code
    if code[:2] in _MUNICIPALITIES:
        return code[:2] + "0000"
    return code[:4] + "00"


def trend_months(*, to_month: str) -> list[str]:
    """The twelve months up to ``to_month`` (YYYY-MM), oldest first."""
    year, month = int(to_month[:4]), int(to_month[5:7])
    months = []
    for _ in range(TREND_MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def dashboard_month(value: str, *, today: date) -> str:
    """The last month of the trends: the one asked for, or the current one."""
    clean = value.strip()
    if not clean:
        return today.strftime("%Y-%m")
    if not _MONTH.fullmatch(clean):
        raise InvalidArgument([FieldViolation("to_month", "月份格式应为 YYYY-MM")])
    return clean


def build_dashboard(
    *, scope: str, counts: list[CountyCount], coverage: list[Coverage], tallies: CellTallies,
    month_cells: list[MonthCell], to_month: str, threshold: int,
) -> Dashboard:
    """The published dashboard of a scope from its counties' cells (already restricted to the scope)."""
    months = trend_months(to_month=to_month)
    year = to_month[:4]
    areas: dict[str, AreaTally] = {}
    counties: dict[str, AreaTally] = {}
    total = AreaTally(code=scope)

    def each(county: str) -> list[AreaTally]:
        child = child_of(scope=scope, county=county)
        return [total, areas.setdefault(child, AreaTally(code=child)),
                counties.setdefault(county, AreaTally(code=county))]

    for count in counts:
        shown = show_count(count.members, threshold=threshold)
        for area in each(count.tenant_id):
            area.members = area.members.add(value=shown.value, suppressed=shown.suppressed)
    for row in coverage:
        for area in each(row.origin_tenant_id):
            area.add_coverage(row)
    trend: dict[tuple[str, str], Tally] = {}
    for cell in month_cells:
        shown = show_count(cell.members, threshold=threshold)
        if cell.kind == RETURNED and cell.month.startswith(year) and cell.month <= to_month:
            for area in each(cell.tenant_id):
                area.returned_this_year = area.returned_this_year.add(value=shown.value, suppressed=shown.suppressed)
        key = (cell.kind, cell.month)
        trend[key] = trend.get(key, Tally()).add(value=shown.value, suppressed=shown.suppressed)
    links = tallies.links
    for month, tally in tallies.months.items():
        trend[("REGISTERED", month)] = trend.get(("REGISTERED", month), Tally()).plus(tally)
    return Dashboard(
        scope=scope, total=total, children=[areas[k] for k in sorted(areas)],
        counties=[counties[k] for k in sorted(counties)],
        links=sorted((LinkTally(origin_code=o, destination_code=d, flows=t) for (o, d), t in links.items()),
                     key=lambda link: (-link.flows.value, -link.flows.hidden, link.origin_code, link.destination_code)),
        months=[MonthTally(month=m, registered=trend.get(("REGISTERED", m), Tally()),
                           checked_in=trend.get((CHECKED_IN, m), Tally()), returned=trend.get((RETURNED, m), Tally()))
                for m in months],
        threshold=threshold,
    )


def month_in_beijing(value: str) -> str | None:
    """The Beijing calendar month of an ISO date or timestamp (``2026-03-31T20:00:00Z`` → ``2026-04``)."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(BEIJING)
    return moment.strftime("%Y-%m")


# ------------------------------------------------------------------------------------------------ tickets
#
# The service desk's 工单 figures (issue 13). A cell is one county's tickets of one Beijing month, category group
# and serving queue (a station, or the county's own queue); the month is the month of each event (opened in the
# month of its opening, resolved in the month of its resolution, breached in the month of its first breach). Every
# published figure, whatever the row (county, station, category group, total), is a Tally of published cells, as
# on the dashboard; inside a cell the resolution figures (resolved ⊇ resolution_met, first_response_met) go through
# the same audit as a coverage row, so no small count follows from subtracting them. Rates and the satisfaction
# average cover only the cells that publish their parts, and say so (partial) when they leave one out.

UNKNOWN_GROUP = "其他"  # a category whose group no event has named yet
COUNTY_QUEUE_KEY = "county"  # the county's own queue (a ticket with no serving organisation)
STATION_KINDS = frozenset({"TOWN_STATION", "SERVICE_CENTER"})
NO_RATE = "—"
# The resolutions of a cell split by which SLA clocks were met: disjoint parts for the audit.
RESOLUTION_PARTS = ("both_met", "first_response_met_only", "resolution_met_only", "none_met")
_RESOLUTION_FIGURES: dict[str, frozenset[str]] = {
    "resolved": frozenset(RESOLUTION_PARTS),
    "resolution_met": frozenset({"both_met", "resolution_met_only"}),
    "first_response_met": frozenset({"both_met", "first_response_met_only"}),
}
_RESOLUTION_PRIORITY = ("resolved", "resolution_met", "first_response_met")
TICKET_FIGURES = ("opened", "resolved", "resolution_met", "first_response_met", "breached", "rated", "reopened")


@dataclass(frozen=True, slots=True)
class TicketRange:
    """Validated inclusive month range of a ticket query; None means unbounded."""

    since_month: str | None
    until_month: str | None


def ticket_range(*, since_month: str, until_month: str) -> TicketRange:
    """Check the months (YYYY-MM, since ≤ until), reporting every violation at once."""
    first, last = since_month.strip() or None, until_month.strip() or None
    violations = [FieldViolation(field, "月份格式应为 YYYY-MM")
                  for field, value in (("since_month", first), ("until_month", last))
                  if value is not None and not _MONTH.fullmatch(value)]
    if not violations and first and last and first > last:
        violations.append(FieldViolation("until_month", "结束月份不能早于起始月份"))
    if violations:
        raise InvalidArgument(violations)
    return TicketRange(since_month=first, until_month=last)


@dataclass(frozen=True, slots=True)
class TicketCell:
    """One county's ticket counts of one month, category group and serving queue ("" = the county's own)."""

    tenant_id: str
    month: str
    category_group: str
    serving_org_id: str
    opened: int = 0
    both_met: int = 0
    first_response_met_only: int = 0
    resolution_met_only: int = 0
    none_met: int = 0
    breached: int = 0
    rated: int = 0
    rating_sum: int = 0
    reopened: int = 0

    @property
    def resolved(self) -> int:
        """Resolutions in the cell."""
        return self.both_met + self.first_response_met_only + self.resolution_met_only + self.none_met

    @property
    def resolution_met(self) -> int:
        """Resolutions within the resolution SLA."""
        return self.both_met + self.resolution_met_only

    @property
    def first_response_met(self) -> int:
        """Resolutions whose first response came within its SLA."""
        return self.both_met + self.first_response_met_only

    def plus(self, other: TicketCell) -> TicketCell:
        """The counts of both (same key: several categories of one group)."""
        return TicketCell(
            tenant_id=self.tenant_id, month=self.month, category_group=self.category_group,
            serving_org_id=self.serving_org_id,
            **{name: getattr(self, name) + getattr(other, name) for name in _CELL_COUNTS},
        )


_CELL_COUNTS = ("opened", *RESOLUTION_PARTS, "breached", "rated", "rating_sum", "reopened")


def merge_ticket_cells(cells: list[TicketCell]) -> list[TicketCell]:
    """One cell per (county, month, group, queue): categories of one group, and breaches, added together."""
    merged: dict[tuple[str, str, str, str], TicketCell] = {}
    for cell in cells:
        key = (cell.tenant_id, cell.month, cell.category_group, cell.serving_org_id)
        merged[key] = merged[key].plus(cell) if key in merged else cell
    return [merged[k] for k in sorted(merged)]


def resolution_hidden(cell: TicketCell, *, threshold: int) -> frozenset[str]:
    """The resolution figures of a cell to hide: small ones, and any a small count could be derived from."""
    if not threshold:
        return frozenset()
    if is_small(cell.resolved, threshold=threshold):
        return frozenset(_RESOLUTION_PRIORITY)
    atoms = {part: getattr(cell, part) for part in RESOLUTION_PARTS}
    return hidden_figures(figures=_RESOLUTION_FIGURES, atoms=atoms, priority=_RESOLUTION_PRIORITY,
                          threshold=threshold)


def percent_text(part: int, whole: int) -> str:
    """``92.3%`` (half up to one place), or ``—`` when there is nothing to divide by."""
    if not whole:
        return NO_RATE
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def satisfaction_text(*, rating_sum: int, rated: int) -> str:
    """The average score: rating sum ÷ rated count as an exact Decimal, rounded half up (4.25 → 4.3, never
    banker's rounding) to one place; ``—`` when nothing is rated."""
    if not rated:
        return NO_RATE
    return str((Decimal(rating_sum) / Decimal(rated)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(slots=True)
class Rate:
    """A ratio over the cells that publish both its parts; partial when it leaves a cell out."""

    part: int = 0
    whole: int = 0
    partial: bool = False

    def add(self, *, part: int, whole: int, published: bool) -> None:
        """One cell's parts, counted only if published (a cell with nothing to divide changes nothing)."""
        if not whole:
            return
        if published:
            self.part += part
            self.whole += whole
        else:
            self.partial = True

    @property
    def ratio(self) -> float:
        """part ÷ whole, 0 when whole is 0."""
        return self.part / self.whole if self.whole else 0.0

    @property
    def text(self) -> str:
        """The ratio as a percentage, ``—`` when nothing is published."""
        return percent_text(self.part, self.whole)


@dataclass(slots=True)
class TicketTally:
    """The published ticket figures of one row: a county, a station, a category group or the total."""

    key: str
    name: str = ""
    opened: Tally = Tally()
    resolved: Tally = Tally()
    resolution_met: Tally = Tally()
    first_response_met: Tally = Tally()
    breached: Tally = Tally()
    rated: Tally = Tally()
    reopened: Tally = Tally()
    sla: Rate = dataclass_field(default_factory=Rate)
    first_response: Rate = dataclass_field(default_factory=Rate)
    rating_sum: int = 0
    rating_count: int = 0
    satisfaction_partial: bool = False

    @property
    def satisfaction(self) -> str:
        """The average score over the cells publishing their rated count."""
        return satisfaction_text(rating_sum=self.rating_sum, rated=self.rating_count)

    def add(self, cell: TicketCell, *, threshold: int) -> None:
        """One cell, each figure published or left out by the one rule."""
        hidden = resolution_hidden(cell, threshold=threshold)
        for name in ("opened", "breached", "rated", "reopened"):
            shown = show_count(getattr(cell, name), threshold=threshold)
            setattr(self, name, getattr(self, name).add(value=shown.value, suppressed=shown.suppressed))
        for name in _RESOLUTION_PRIORITY:
            setattr(self, name, getattr(self, name).add(value=getattr(cell, name), suppressed=name in hidden))
        both = not hidden & {"resolved", "resolution_met"}
        self.sla.add(part=cell.resolution_met, whole=cell.resolved, published=both)
        self.first_response.add(part=cell.first_response_met, whole=cell.resolved,
                                published=not hidden & {"resolved", "first_response_met"})
        if cell.rated:
            if show_count(cell.rated, threshold=threshold).suppressed:
                self.satisfaction_partial = True
            else:
                self.rating_sum += cell.rating_sum
                self.rating_count += cell.rated


@dataclass(frozen=True, slots=True)
class TicketStats:
    """The service desk's figures of a scope as published; counts only."""

    scope: str
    since_month: str
    until_month: str
    total: TicketTally
    counties: list[TicketTally]
    stations: list[TicketTally]
    groups: list[TicketTally]
    current_month: str
    breached_this_month: Tally
    threshold: int


def build_ticket_stats(
    *, scope: str, cells: list[TicketCell], window: TicketRange, current_month: str, station_names: dict[str, str],
    threshold: int,
) -> TicketStats:
    """The published figures of a scope from its cells (already restricted to the scope, every month)."""
    total = TicketTally(key=scope)
    counties: dict[str, TicketTally] = {}
    stations: dict[str, TicketTally] = {}
    groups: dict[str, TicketTally] = {}
    this_month = Tally()
    for cell in merge_ticket_cells(cells):
        if cell.month == current_month:
            shown = show_count(cell.breached, threshold=threshold)
            this_month = this_month.add(value=shown.value, suppressed=shown.suppressed)
        if window.since_month and cell.month < window.since_month:
            continue
        if window.until_month and cell.month > window.until_month:
            continue
        rows = [total, counties.setdefault(cell.tenant_id, TicketTally(key=cell.tenant_id)),
                groups.setdefault(cell.category_group, TicketTally(key=cell.category_group))]
        if len(scope) >= 6:
            station = cell.serving_org_id or COUNTY_QUEUE_KEY
            rows.append(stations.setdefault(station, TicketTally(key=station, name=station_names.get(station, ""))))
        for row in rows:
            row.add(cell, threshold=threshold)
    return TicketStats(
        scope=scope, since_month=window.since_month or "", until_month=window.until_month or "", total=total,
        counties=[counties[k] for k in sorted(counties)], stations=[stations[k] for k in sorted(stations)],
        groups=sorted(groups.values(), key=lambda g: (-g.opened.value, g.key)), current_month=current_month,
        breached_this_month=this_month, threshold=threshold,
    )


def ticket_month(moment: datetime | None) -> str | None:
    """The Beijing month of an event's moment (an aware datetime); None when unknown."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m")


# ------------------------------------------------------------------------------------------------ loans
#
# The desk's 党员先锋贷 figures (issue 14 §6). One row of facts per loan, merged from the loan events in any order
# (lifecycle flags only turn on; the money figures are the newest word by the event's occur_time), never naming
# the member. A cell is one county's loans of one programme key (the shared code of a city's or the province's
# programme, else "programme:<id>"). For a scope wider than a county the one rule of the dashboard and the desk's
# tickets holds: a cell with 1 … threshold − 1 borrowers (disbursed loans) publishes none of its figures; inside a
# published cell, counts and sums derivable from one another go through ``hidden_figures`` (complementary
# suppression) so that no published difference covers a small number of loans; every row (county, programme,
# total) is a Tally of published cells only, so a row total minus its published cells gives nothing back.


class LoanState(StrEnum):
    """Where a loan stands as the read model sees it (derived, never merged)."""

    PENDING = "PENDING"  # applied, under review or approved, not yet paid out
    WITHDRAWN = "WITHDRAWN"
    REFUSED = "REFUSED"
    ACTIVE = "ACTIVE"  # disbursed, principal outstanding, nothing overdue
    OVERDUE = "OVERDUE"
    SETTLED = "SETTLED"


DISBURSED_STATES = frozenset({LoanState.ACTIVE, LoanState.OVERDUE, LoanState.SETTLED})
OUTSTANDING_STATES = frozenset({LoanState.ACTIVE, LoanState.OVERDUE})
PROGRAMME_KEY_PREFIX = "programme:"


@dataclass(frozen=True, slots=True)
class LoanFigures:
    """A loan's money position at one moment: outstanding principal, amount overdue, and whether it is overdue."""

    at: datetime
    outstanding_fen: int
    overdue_fen: int
    overdue: bool

    def newer_than(self, other: LoanFigures | None) -> bool:
        """The newest word wins; at the same instant the smaller outstanding (principal only ever goes down)."""
        if other is None:
            return True
        return (self.at, -self.outstanding_fen, self.overdue_fen, self.overdue) > (
            other.at, -other.outstanding_fen, other.overdue_fen, other.overdue)


@dataclass(frozen=True, slots=True)
class LoanFact:
    """What one loan event says about a loan."""

    programme_id: str = ""
    product: str = ""
    shared_code: str = ""
    programme_name: str = ""
    applied: bool = False
    approved: bool = False
    refused: bool = False
    withdrawn: bool = False
    disbursed: bool = False
    settled: bool = False
    amount_fen: int = 0
    subsidy_fen: int = 0
    figures: LoanFigures | None = None


@dataclass(frozen=True, slots=True)
class LoanFacts:
    """Everything known about one loan, merged from facts in any order and any number of times (a join)."""

    programme_id: str = ""
    product: str = ""
    shared_code: str = ""
    programme_name: str = ""
    applied: bool = False
    approved: bool = False
    refused: bool = False
    withdrawn: bool = False
    disbursed: bool = False
    settled: bool = False
    amount_fen: int = 0
    subsidy_fen: int = 0
    figures: LoanFigures | None = None

    def apply(self, fact: LoanFact) -> LoanFacts:
        """The facts after one more event (commutative, associative, idempotent)."""
        figures = fact.figures if fact.figures is not None and fact.figures.newer_than(self.figures) else self.figures
        return LoanFacts(
            # Descriptions never change for a loan; max keeps the merge commutative should two copies disagree.
            programme_id=max(self.programme_id, fact.programme_id.strip()),
            product=max(self.product, fact.product.strip().upper()),
            shared_code=max(self.shared_code, fact.shared_code.strip()),
            programme_name=max(self.programme_name, fact.programme_name.strip()),
            applied=self.applied or fact.applied, approved=self.approved or fact.approved or fact.disbursed,
            refused=self.refused or fact.refused, withdrawn=self.withdrawn or fact.withdrawn,
            disbursed=self.disbursed or fact.disbursed, settled=self.settled or fact.settled,
            amount_fen=max(self.amount_fen, fact.amount_fen), subsidy_fen=max(self.subsidy_fen, fact.subsidy_fen),
            figures=figures,
        )

    @property
    def programme_key(self) -> str:
        """The programme's cell key: its shared code, else ``programme:<id>``; "" until an event names it."""
        if self.shared_code:
            return self.shared_code
        return f"{PROGRAMME_KEY_PREFIX}{self.programme_id}" if self.programme_id else ""

    @property
    def known(self) -> bool:
        """Counted only once the application or the disbursement (the events naming the shared code) arrived."""
        return bool(self.programme_id) and (self.applied or self.disbursed)

    @property
    def state(self) -> LoanState:
        """The derived state the aggregates count."""
        if self.settled:
            return LoanState.SETTLED
        if self.disbursed:
            return LoanState.OVERDUE if self.figures is not None and self.figures.overdue else LoanState.ACTIVE
        if self.refused:
            return LoanState.REFUSED
        if self.withdrawn:
            return LoanState.WITHDRAWN
        return LoanState.PENDING

    @property
    def outstanding_fen(self) -> int:
        """Principal still owed: none once settled or before disbursement."""
        if self.state not in OUTSTANDING_STATES:
            return 0
        return self.figures.outstanding_fen if self.figures is not None else self.amount_fen

    @property
    def overdue_fen(self) -> int:
        """The amount past due of an overdue loan."""
        return self.figures.overdue_fen if self.state is LoanState.OVERDUE and self.figures is not None else 0


def loan_figures(*, at: datetime, outstanding_fen: int, overdue_fen: int, days_past_due: int) -> LoanFigures:
    """A repayment's or an overdue sweep's word on where a loan stands (negative amounts are broken events)."""
    if outstanding_fen < 0 or overdue_fen < 0 or days_past_due < 0:
        raise ValueError("金额与逾期天数不能为负数")
    return LoanFigures(at=at, outstanding_fen=outstanding_fen, overdue_fen=overdue_fen,
                       overdue=overdue_fen > 0 or days_past_due > 0)


@dataclass(frozen=True, slots=True)
class LoanAtom:
    """The loans of one cell in one derived state (ever approved or not), with their sums."""

    tenant_id: str
    programme_key: str
    state: LoanState
    approved: bool
    loans: int
    lent_fen: int = 0
    outstanding_fen: int = 0
    overdue_fen: int = 0
    subsidy_fen: int = 0
    programme_name: str = ""
    product: str = ""


# Count figures as sets of atoms (state, approved), most useful first for the audit.
LOAN_COUNT_FIGURES = ("applications", "disbursed", "approved", "settled", "overdue_loans", "refused")
LOAN_MONEY_FIGURES = ("lent_fen", "outstanding_fen", "overdue_outstanding_fen", "overdue_fen", "subsidy_fen")


_PRINCIPAL_FIGURES = {
    "lent_fen": frozenset(s.value for s in DISBURSED_STATES),
    "outstanding_fen": frozenset(s.value for s in OUTSTANDING_STATES),
    "overdue_outstanding_fen": frozenset({LoanState.OVERDUE.value}),
}
_PRINCIPAL_PRIORITY = ("lent_fen", "outstanding_fen", "overdue_outstanding_fen")


def _count_figures_of(state: LoanState, approved: bool) -> set[str]:
    figures = {"applications"}
    if approved or state in DISBURSED_STATES:
        figures.add("approved")
    if state is LoanState.REFUSED:
        figures.add("refused")
    if state in DISBURSED_STATES:
        figures.add("disbursed")
    if state is LoanState.SETTLED:
        figures.add("settled")
    if state is LoanState.OVERDUE:
        figures.add("overdue_loans")
    return figures


@dataclass(frozen=True, slots=True)
class LoanCell:
    """One county's loans of one programme key: counts, sums and which of them are hidden."""

    tenant_id: str
    programme_key: str
    programme_name: str
    product: str
    counts: dict[str, int]
    money: dict[str, int]
    hidden: frozenset[str]  # figures (count or money) not published

    @property
    def borrowers(self) -> int:
        """Disbursed loans."""
        return self.counts["disbursed"]


def loan_cells(atoms: list[LoanAtom], *, threshold: int) -> list[LoanCell]:
    """The cells of the atoms, each with its hidden figures under ``threshold`` (0: none hidden)."""
    grouped: dict[tuple[str, str], list[LoanAtom]] = {}
    for atom in atoms:
        grouped.setdefault((atom.tenant_id, atom.programme_key), []).append(atom)
    return [_loan_cell(parts, threshold=threshold) for _, parts in sorted(grouped.items())]


def _loan_cell(parts: list[LoanAtom], *, threshold: int) -> LoanCell:
    counts = dict.fromkeys(LOAN_COUNT_FIGURES, 0)
    money = dict.fromkeys(LOAN_MONEY_FIGURES, 0)
    atoms: dict[str, int] = {}
    figures: dict[str, set[str]] = {name: set() for name in LOAN_COUNT_FIGURES}
    for part in parts:
        key = f"{part.state.value}/{part.approved}"
        atoms[key] = atoms.get(key, 0) + part.loans
        for name in _count_figures_of(part.state, part.approved):
            counts[name] += part.loans
            figures[name].add(key)
        if part.state in DISBURSED_STATES:
            money["lent_fen"] += part.lent_fen
            money["subsidy_fen"] += part.subsidy_fen
        if part.state in OUTSTANDING_STATES:
            money["outstanding_fen"] += part.outstanding_fen
        if part.state is LoanState.OVERDUE:
            money["overdue_outstanding_fen"] += part.outstanding_fen
            money["overdue_fen"] += part.overdue_fen
    first = parts[0]
    cell = LoanCell(tenant_id=first.tenant_id, programme_key=first.programme_key,
                    programme_name=max(p.programme_name for p in parts), product=max(p.product for p in parts),
                    counts=counts, money=money, hidden=frozenset())
    if not threshold:
        return cell
    if is_small(counts["disbursed"], threshold=threshold):
        # A cell of one or two borrowers: every figure of it would point at them.
        return _with_hidden(cell, frozenset(LOAN_COUNT_FIGURES + LOAN_MONEY_FIGURES))
    hidden = set(hidden_figures(figures={k: frozenset(v) for k, v in figures.items()}, atoms=atoms,
                                priority=LOAN_COUNT_FIGURES, threshold=threshold))
    # Principal sums over nested loan sets (lent ⊇ outstanding ⊇ overdue outstanding): a sum or a difference over
    # one or two loans is one person's amount — lent − outstanding is the settled loans' principal when nothing
    # else was repaid yet — so they go through the same audit, with the loans as atoms.
    loans_in = {state: sum(p.loans for p in parts if p.state is state) for state in LoanState}
    principal_atoms = {state.value: loans_in[state] for state in DISBURSED_STATES}
    hidden |= hidden_figures(figures=_PRINCIPAL_FIGURES, atoms=principal_atoms, priority=_PRINCIPAL_PRIORITY,
                             threshold=threshold)
    if is_small(loans_in[LoanState.OVERDUE], threshold=threshold):
        hidden.add("overdue_fen")
    return _with_hidden(cell, frozenset(hidden))


def _with_hidden(cell: LoanCell, hidden: frozenset[str]) -> LoanCell:
    return LoanCell(tenant_id=cell.tenant_id, programme_key=cell.programme_key, programme_name=cell.programme_name,
                    product=cell.product, counts=cell.counts, money=cell.money, hidden=hidden)


def money_text(tally: Tally, *, threshold: int) -> str:
    """A money figure's text in 分: the sum; ``12345+`` when a cell is left out; ``<3`` when every cell is."""
    if not tally.hidden:
        return str(tally.value)
    return f"{tally.value}+" if tally.value else small_text(threshold)


@dataclass(slots=True)
class LoanTally:
    """The published loan figures of one row: a county, a programme or the total."""

    key: str
    name: str = ""
    product: str = ""
    figures: dict[str, Tally] = dataclass_field(
        default_factory=lambda: dict.fromkeys(LOAN_COUNT_FIGURES + LOAN_MONEY_FIGURES, Tally()))
    overdue_rate: Rate = dataclass_field(default_factory=Rate)

    def add(self, cell: LoanCell) -> None:
        """One cell: each figure its value if published, else one more cell left out."""
        for name, value in (*cell.counts.items(), *cell.money.items()):
            self.figures[name] = self.figures[name].add(value=value, suppressed=name in cell.hidden)
        self.overdue_rate.add(part=cell.money["overdue_outstanding_fen"], whole=cell.money["outstanding_fen"],
                              published=not cell.hidden & {"outstanding_fen", "overdue_outstanding_fen"})
        if self.key == cell.programme_key:
            # A programme row: a name and product any of its cells knows (max: the same whatever the order).
            self.name, self.product = max(self.name, cell.programme_name), max(self.product, cell.product)


@dataclass(frozen=True, slots=True)
class LoanStats:
    """The loan figures of a scope as published; counts and sums only."""

    scope: str
    total: LoanTally
    counties: list[LoanTally]
    programmes: list[LoanTally]
    threshold: int


def build_loan_stats(*, scope: str, atoms: list[LoanAtom], threshold: int) -> LoanStats:
    """The published figures of a scope from its loans' atoms (already restricted to the scope)."""
    total = LoanTally(key=scope)
    counties: dict[str, LoanTally] = {}
    programmes: dict[str, LoanTally] = {}
    for cell in loan_cells(atoms, threshold=threshold):
        for row in (total, counties.setdefault(cell.tenant_id, LoanTally(key=cell.tenant_id)),
                    programmes.setdefault(cell.programme_key, LoanTally(key=cell.programme_key))):
            row.add(cell)
    return LoanStats(
        scope=scope, total=total, counties=[counties[k] for k in sorted(counties)],
        programmes=sorted(programmes.values(), key=lambda p: (-p.figures["lent_fen"].value, p.key)),
        threshold=threshold,
    )
