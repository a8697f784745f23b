"""Insights repository."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinqiao.insights import domain
from jinqiao.insights.domain import (
    CountyCount,
    CoverageAtom,
    FlowMatrix,
    FlowState,
    FlowStatus,
    LoanFacts,
    MatrixFilter,
    MonthCell,
)
from jinqiao.insights.models import (
    FLOW_DERIVED_COLUMNS,
    FLOW_STATE_COLUMNS,
    LOAN_DERIVED_COLUMNS,
    LOAN_FACT_COLUMNS,
    county_count_from_record,
    flow_state_from_record,
    flow_state_values,
    loan_facts_from_record,
    loan_facts_values,
)
from jinqiao.kit.db import UnitOfWork

# Creates the row of a fact that arrives before FlowRegistered, and otherwise touches the existing row: either
# way the row is locked until commit, so consumers of different events of one flow merge one after the other.
_LOCK_FLOW = (
    "INSERT INTO flow_facts (tenant_id, flow_id) VALUES ($1, $2)"
    " ON CONFLICT (tenant_id, flow_id) DO UPDATE SET updated_at = now()"
    f" RETURNING {', '.join(FLOW_STATE_COLUMNS)}"
)
_SAVE_FLOW = (
    "UPDATE flow_facts SET "
    + ", ".join(f"{c} = ${i}" for i, c in enumerate(FLOW_STATE_COLUMNS + FLOW_DERIVED_COLUMNS, start=3))
    + ", updated_at = now() WHERE tenant_id = $1 AND flow_id = $2"
)
_ADD_CELL = (
    "INSERT INTO flow_cells (tenant_id, destination_code, month, industry, flows, away, offered, managed, overdue,"
    " held) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (tenant_id, destination_code, month, industry) DO UPDATE SET"
    " flows = flow_cells.flows + EXCLUDED.flows, away = flow_cells.away + EXCLUDED.away,"
    " offered = flow_cells.offered + EXCLUDED.offered, managed = flow_cells.managed + EXCLUDED.managed,"
    " overdue = flow_cells.overdue + EXCLUDED.overdue, held = flow_cells.held + EXCLUDED.held"
    " RETURNING flows"
)
_ADD_ATOM = (
    "INSERT INTO flow_atoms (tenant_id, status, overdue_pending, flows) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (tenant_id, status, overdue_pending) DO UPDATE SET flows = flow_atoms.flows + EXCLUDED.flows"
)
_ADD_SIZES = (
    "INSERT INTO flow_cell_sizes (tenant_id, axis, key, flows, small) VALUES ($1, $2, $3, $4, $5::bigint[])"
    " ON CONFLICT (tenant_id, axis, key) DO UPDATE SET flows = flow_cell_sizes.flows + EXCLUDED.flows,"
    " small = ARRAY(SELECT a + b FROM unnest(flow_cell_sizes.small, EXCLUDED.small) AS t(a, b))"
)
_ADD_MONTH = (
    "INSERT INTO flow_month_counts (tenant_id, kind, month, members) VALUES ($1, $2, $3, 1)"
    " ON CONFLICT (tenant_id, kind, month) DO UPDATE SET members = flow_month_counts.members + 1"
)
_COUNT_FLOW_MONTHS = (
    "INSERT INTO flow_month_counts (tenant_id, kind, month, members)"
    " SELECT tenant_id, kind, month, 1 FROM flow_months WHERE tenant_id = $1 AND flow_id = $2 ORDER BY kind"
    " ON CONFLICT (tenant_id, kind, month) DO UPDATE SET members = flow_month_counts.members + 1"
)
# One scan of the cells the consumers keep, one snapshot: the cells, the per-origin figures and the
# per-(origin, destination) figures as grouping sets. GROUPING(...) is 0 for a cell, 3 for an (origin,
# destination) pair, 7 for an origin.
_MATRIX = """
SELECT tenant_id, destination_code, month, industry, GROUPING(destination_code, month, industry) AS level,
       sum(flows)::bigint AS flows, sum(away)::bigint AS away, sum(offered)::bigint AS offered,
       sum(managed)::bigint AS managed, sum(overdue)::bigint AS overdue, sum(held) > 0 AS held
  FROM flow_cells
 WHERE {where}
 GROUP BY GROUPING SETS ((tenant_id, destination_code, month, industry), (tenant_id, destination_code), (tenant_id))
"""
_CELL, _PAIR, _ORIGIN = 0, 3, 7
# The parts every coverage figure of an origin is made of, over all its registered flows (no filter).
_COVERAGE_ATOMS = "SELECT tenant_id, status, overdue_pending, flows FROM flow_atoms WHERE flows > 0"


async def add_members(uow: UnitOfWork, *, count: int) -> None:
    """Add to the unit of work's county counter."""
    await uow.conn.execute(
        "INSERT INTO member_counts (tenant_id, members, updated_at) VALUES ($1, $2, now())"
        " ON CONFLICT (tenant_id) DO UPDATE SET members = member_counts.members + EXCLUDED.members,"
        " updated_at = now()",
        uow.tenant, count,
    )


async def member_counts(uow: UnitOfWork) -> list[CountyCount]:
    """Every county counter the scope's RLS lets through, by county code."""
    records = await uow.conn.fetch("SELECT tenant_id, members, updated_at FROM member_counts ORDER BY tenant_id")
    return [county_count_from_record(r) for r in records]


async def lock_flow(uow: UnitOfWork, *, flow_id: str) -> FlowState:
    """The merged state of a flow of the unit of work's county, locked; an empty state if it was unknown."""
    record = await uow.conn.fetchrow(_LOCK_FLOW, uow.tenant, flow_id)
    return flow_state_from_record(record)


async def save_flow(uow: UnitOfWork, *, flow_id: str, state: FlowState, previous: FlowState) -> None:
    """Store a flow's merged state, and move it from ``previous``'s cells and atoms to its own (same transaction)."""
    await uow.conn.execute(_SAVE_FLOW, uow.tenant, flow_id, *flow_state_values(state))
    await _move_cells(uow, previous=previous, state=state)
    atoms: dict[tuple[str, bool], int] = {}
    for sign, s in ((-1, previous), (1, state)):
        if s.registered:
            key = (s.status.value, s.overdue_pending)
            atoms[key] = atoms.get(key, 0) + sign
    # Rows are always taken in key order, so two consumers of one county never wait on each other in a cycle.
    for (status, overdue), delta in sorted(atoms.items()):
        if delta:
            await uow.conn.execute(_ADD_ATOM, uow.tenant, status, overdue, delta)
    if state.registered and not previous.registered:
        # Months recorded before the registration arrived count from now on.
        await uow.conn.execute(_COUNT_FLOW_MONTHS, uow.tenant, flow_id)


def _cell_of(state: FlowState) -> tuple[str, str, str] | None:
    return (state.destination_code, state.month or "", state.industry) if state.registered else None


def _cell_figures(state: FlowState) -> tuple[int, ...]:
    status = state.status
    return (1, int(not state.closed), int(status in (FlowStatus.OFFERED, FlowStatus.MANAGED)),
            int(status == FlowStatus.MANAGED), int(state.overdue_pending), int(state.held_at_destination))


async def _move_cells(uow: UnitOfWork, *, previous: FlowState, state: FlowState) -> None:
    """Take a flow's figures out of its old cell and add them to its new one, and the cells' sizes with them."""
    deltas: dict[tuple[str, str, str], list[int]] = {}
    for sign, s in ((-1, previous), (1, state)):
        cell = _cell_of(s)
        if cell is not None:
            figures = deltas.setdefault(cell, [0] * 6)
            for i, value in enumerate(_cell_figures(s)):
                figures[i] += sign * value
    sizes: dict[tuple[str, str], tuple[int, list[int]]] = {}
    for (destination, month, industry), figures in sorted(deltas.items()):
        if not any(figures):
            continue
        after = await uow.conn.fetchval(_ADD_CELL, uow.tenant, destination, month, industry, *figures)
        if figures[0]:
            before = after - figures[0]
            for group in (("AREA", domain.destination_area(destination)), ("MONTH", month)):
                flows, small = sizes.get(group, (0, [0] * domain.CELL_SIZES))
                for size, sign in ((before, -1), (after, 1)):
                    if 1 <= size <= domain.CELL_SIZES:
                        small[size - 1] += sign
                sizes[group] = (flows + figures[0], small)
    for (axis, key), (flows, small) in sorted(sizes.items()):
        await uow.conn.execute(_ADD_SIZES, uow.tenant, axis, key, flows, small)


async def flow_matrix(uow: UnitOfWork, *, filters: MatrixFilter) -> FlowMatrix:
    """The matrix, coverage and unorganised destinations of every origin the scope's RLS lets through."""
    where, args = _where(filters)
    records = await uow.conn.fetch(_MATRIX.format(where=where), *args)
    cells, coverage, unorganised = [], [], []
    for r in records:
        if r["level"] == _CELL:
            cells.append(domain.FlowCell(origin_tenant_id=r["tenant_id"], destination_code=r["destination_code"],
                                         month=r["month"] or "", industry=r["industry"], flows=r["flows"]))
        elif r["level"] == _ORIGIN:
            coverage.append(domain.Coverage(origin_tenant_id=r["tenant_id"], away=r["away"], offered=r["offered"],
                                            managed=r["managed"], overdue_check_ins=r["overdue"]))
        elif r["level"] == _PAIR and domain.is_unorganised(open_flows=r["away"], any_held=r["held"]):
            unorganised.append(domain.Unorganised(origin_tenant_id=r["tenant_id"],
                                                  destination_code=r["destination_code"], members=r["away"]))
    cells.sort(key=lambda c: (c.origin_tenant_id, c.month, c.destination_code, c.industry))
    coverage.sort(key=lambda c: c.origin_tenant_id)
    unorganised.sort(key=lambda u: (-u.members, u.origin_tenant_id, u.destination_code))
    return FlowMatrix(cells=cells, coverage=coverage, unorganised=unorganised)


def _where(filters: MatrixFilter) -> tuple[str, list[Any]]:
    # Only registered flows count: a fact that outran its FlowRegistered waits for it to say where and when.
    conditions, args = ["flows > 0"], []
    if filters.from_month is not None or filters.to_month is not None:
        # A flow whose start month is unknown ('') falls outside every month range.
        conditions.append("month <> ''")
    for sql, value in (("month >= ${}", filters.from_month), ("month <= ${}", filters.to_month),
                       ("industry = ${}", filters.industry)):
        if value is not None:
            args.append(value)
            conditions.append(sql.format(len(args)))
    return " AND ".join(conditions), args


async def coverage_atoms(uow: UnitOfWork) -> list[CoverageAtom]:
    """Registered flows per origin, derived status and overdue, for every origin the scope's RLS lets through."""
    records = await uow.conn.fetch(_COVERAGE_ATOMS)
    return [CoverageAtom(origin_tenant_id=r["tenant_id"], status=FlowStatus(r["status"]),
                         overdue_pending=r["overdue_pending"], flows=r["flows"]) for r in records]


async def record_month(uow: UnitOfWork, *, flow_id: str, kind: str, month: str, registered: bool) -> None:
    """The first month a flow's member checked in or returned; a later one (or a redelivery) changes nothing.

    ``registered``: the flow's state in this transaction (its row is locked); an unregistered flow's month counts
    once its registration arrives (``save_flow``).
    """
    added = await uow.conn.fetchval(
        "INSERT INTO flow_months (tenant_id, flow_id, kind, month) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, flow_id, kind) DO NOTHING RETURNING true",
        uow.tenant, flow_id, kind, month,
    )
    if added and registered:
        await uow.conn.execute(_ADD_MONTH, uow.tenant, kind, month)


async def month_cells(uow: UnitOfWork, *, from_month: str) -> list[MonthCell]:
    """Members checked in or returned per county and month since ``from_month``, of registered flows only."""
    records = await uow.conn.fetch(
        "SELECT tenant_id, kind, month, members FROM flow_month_counts WHERE month >= $1 AND members > 0",
        from_month,
    )
    return [MonthCell(tenant_id=r["tenant_id"], kind=r["kind"], month=r["month"], members=r["members"])
            for r in records]


# Per area of the level shown (the first ``$2`` digits of the origin) and destination city or start month: the
# flows of published cells and how many cells were left out, from the cells' sizes (threshold $1 ≤ CELL_SIZES + 1).
_CELL_TALLIES = """
SELECT left(tenant_id, $2) AS area, axis, key,
       sum(flows - (SELECT coalesce(sum(n * k), 0) FROM unnest(small[1:$1 - 1]) WITH ORDINALITY AS u(n, k)))::bigint
           AS shown,
       sum((SELECT coalesce(sum(n), 0) FROM unnest(small[1:$1 - 1]) AS u(n)))::bigint AS hidden
  FROM flow_cell_sizes
 WHERE flows > 0
 GROUP BY 1, 2, 3
"""


async def cell_tallies(uow: UnitOfWork, *, threshold: int, area_digits: int) -> domain.CellTallies:
    """The published sums of the matrix's cells per area and destination city, and per start month."""
    if threshold > domain.CELL_SIZES + 1:
        raise ValueError(f"cell sizes answer thresholds up to {domain.CELL_SIZES + 1}, not {threshold}")
    links: dict[tuple[str, str], domain.Tally] = {}
    months: dict[str, domain.Tally] = {}
    for r in await uow.conn.fetch(_CELL_TALLIES, max(threshold, 1), area_digits):
        tally = domain.Tally(int(r["shown"]), int(r["hidden"]))
        if r["axis"] == "AREA":
            links[(r["area"], r["key"])] = tally
        else:
            months[r["key"]] = months.get(r["key"], domain.Tally()).plus(tally)
    return domain.CellTallies(links=links, months=months)


async def version(uow: UnitOfWork) -> str:
    """A mark that changes whenever a figure of the scope the RLS lets through may have changed."""
    record = await uow.conn.fetchrow(
        "SELECT (SELECT max(updated_at) FROM flow_facts) AS flows, (SELECT count(*) FROM flow_facts) AS n,"
        " (SELECT max(updated_at) FROM member_counts) AS members, (SELECT count(*) FROM flow_months) AS months,"
        " (SELECT max(updated_at) FROM ticket_months) AS tickets, (SELECT max(updated_at) FROM ticket_breaches) AS b,"
        " (SELECT max(updated_at) FROM loan_facts) AS loans"
    )
    parts = [record["flows"], record["n"], record["members"], record["months"], record["tickets"], record["b"],
             record["loans"]]
    return "|".join("" if p is None else (p.isoformat() if hasattr(p, "isoformat") else str(p)) for p in parts)


# ------------------------------------------------------------------------------------------------ tickets

_TICKET_COUNTERS = frozenset({
    "opened", "resolved_both_met", "resolved_first_response_met", "resolved_resolution_met", "resolved_none_met",
    "rated", "rating_sum", "reopened", "closed",
})


async def add_ticket_counts(
    uow: UnitOfWork, *, month: str, category: str, serving_org_id: str, counts: dict[str, int]
) -> None:
    """Add to the unit of work's county counters of one month, category and queue (the inbox ran once per event)."""
    unknown = set(counts) - _TICKET_COUNTERS
    if unknown:
        raise ValueError(f"unknown ticket counters: {sorted(unknown)}")
    columns = sorted(counts)
    values = ", ".join(f"${i}" for i in range(5, 5 + len(columns)))
    updates = ", ".join(f"{c} = ticket_months.{c} + EXCLUDED.{c}" for c in columns)
    await uow.conn.execute(
        f"INSERT INTO ticket_months (tenant_id, month, category, serving_org_id, {', '.join(columns)})"
        f" VALUES ($1, $2, $3, $4, {values})"
        f" ON CONFLICT (tenant_id, month, category, serving_org_id) DO UPDATE SET {updates}, updated_at = now()",
        uow.tenant, month, category, serving_org_id, *(counts[c] for c in columns),
    )


async def learn_category(uow: UnitOfWork, *, category: str, group: str, seen_at: datetime) -> None:
    """Remember a category's group; a later-dated word wins, an older redelivery changes nothing."""
    await uow.conn.execute(
        "INSERT INTO ticket_categories (tenant_id, category, category_group, seen_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, category) DO UPDATE SET category_group = EXCLUDED.category_group,"
        " seen_at = EXCLUDED.seen_at WHERE EXCLUDED.seen_at >= ticket_categories.seen_at",
        uow.tenant, category, group, seen_at,
    )


async def record_breach(
    uow: UnitOfWork, *, ticket_id: str, due_at: datetime, month: str, category: str, serving_org_id: str
) -> None:
    """A ticket's first breach is the earliest due time of any breached clock, whatever order they arrive in."""
    await uow.conn.execute(
        "INSERT INTO ticket_breaches (tenant_id, ticket_id, due_at, month, category, serving_org_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET due_at = EXCLUDED.due_at, month = EXCLUDED.month,"
        " category = EXCLUDED.category, serving_org_id = EXCLUDED.serving_org_id, updated_at = now()"
        " WHERE EXCLUDED.due_at < ticket_breaches.due_at",
        uow.tenant, ticket_id, due_at, month, category, serving_org_id,
    )


async def record_org(uow: UnitOfWork, *, org_id: str, kind: str | None, name: str, version: int) -> None:
    """An organisation's kind (once known) and its name at ``version``; an older name never replaces a newer."""
    await uow.conn.execute(
        "INSERT INTO org_names (tenant_id, org_id, kind, name, name_version) VALUES ($1, $2, coalesce($3, ''), $4, $5)"
        " ON CONFLICT (tenant_id, org_id) DO UPDATE SET"
        " kind = coalesce($3, org_names.kind),"
        " name = CASE WHEN EXCLUDED.name_version > org_names.name_version THEN EXCLUDED.name ELSE org_names.name END,"
        " name_version = greatest(org_names.name_version, EXCLUDED.name_version)",
        uow.tenant, org_id, kind, name, version,
    )


_GROUP = f"coalesce(nullif(c.category_group, ''), '{domain.UNKNOWN_GROUP}')"
_TICKET_CELLS = f"""
SELECT m.tenant_id, m.month, {_GROUP} AS category_group, m.serving_org_id,
       sum(m.opened) AS opened, sum(m.resolved_both_met) AS both_met,
       sum(m.resolved_first_response_met) AS first_response_met_only,
       sum(m.resolved_resolution_met) AS resolution_met_only, sum(m.resolved_none_met) AS none_met,
       sum(m.rated) AS rated, sum(m.rating_sum) AS rating_sum, sum(m.reopened) AS reopened
  FROM ticket_months m
  LEFT JOIN ticket_categories c ON c.tenant_id = m.tenant_id AND c.category = m.category
 WHERE {{where}}
 GROUP BY 1, 2, 3, 4
"""
_BREACH_CELLS = f"""
SELECT b.tenant_id, b.month, {_GROUP} AS category_group, b.serving_org_id, count(*) AS breached
  FROM ticket_breaches b
  LEFT JOIN ticket_categories c ON c.tenant_id = b.tenant_id AND c.category = b.category
 WHERE {{where}}
 GROUP BY 1, 2, 3, 4
"""
_TICKET_CELL_COUNTS = ("opened", "both_met", "first_response_met_only", "resolution_met_only", "none_met", "rated",
                       "rating_sum", "reopened")


async def ticket_cells(
    uow: UnitOfWork, *, window: domain.TicketRange, current_month: str
) -> list[domain.TicketCell]:
    """The cells of every county the scope's RLS lets through, in the months asked for and the current one."""
    args: list[Any] = [current_month]
    inside = []
    for sql, value in (("{t}.month >= ${n}", window.since_month), ("{t}.month <= ${n}", window.until_month)):
        if value is not None:
            args.append(value)
            inside.append(sql.replace("${n}", f"${len(args)}"))

    def where(table: str) -> str:
        wanted = " AND ".join(inside).format(t=table) or "true"
        return f"({wanted}) OR {table}.month = $1"

    cells = [domain.TicketCell(tenant_id=r["tenant_id"], month=r["month"], category_group=r["category_group"],
                               serving_org_id=r["serving_org_id"], **{c: int(r[c]) for c in _TICKET_CELL_COUNTS})
             for r in await uow.conn.fetch(_TICKET_CELLS.format(where=where("m")), *args)]
    cells += [domain.TicketCell(tenant_id=r["tenant_id"], month=r["month"], category_group=r["category_group"],
                                serving_org_id=r["serving_org_id"], breached=int(r["breached"]))
              for r in await uow.conn.fetch(_BREACH_CELLS.format(where=where("b")), *args)]
    return cells


async def station_names(uow: UnitOfWork) -> dict[str, str]:
    """Station names by organisation id, of every county the scope's RLS lets through."""
    kinds = sorted(domain.STATION_KINDS)
    records = await uow.conn.fetch("SELECT org_id, name FROM org_names WHERE kind = ANY($1::text[])", kinds)
    return {r["org_id"]: r["name"] for r in records}


# ------------------------------------------------------------------------------------------------ loans

# Creates the row of a loan's first event (whichever it is) and otherwise touches it: the row stays locked until
# commit, so consumers of different events of one loan merge one after the other.
_LOCK_LOAN = (
    "INSERT INTO loan_facts (tenant_id, loan_id) VALUES ($1, $2)"
    " ON CONFLICT (tenant_id, loan_id) DO UPDATE SET updated_at = now()"
    f" RETURNING {', '.join(LOAN_FACT_COLUMNS)}"
)
_SAVE_LOAN = (
    "UPDATE loan_facts SET "
    + ", ".join(f"{c} = ${i}" for i, c in enumerate(LOAN_FACT_COLUMNS + LOAN_DERIVED_COLUMNS, start=3))
    + ", updated_at = now() WHERE tenant_id = $1 AND loan_id = $2"
)
# The parts of every cell: known loans per county, programme key, derived state and approval, with their sums.
_LOAN_ATOMS = """
SELECT tenant_id, programme_key, state, approved, count(*) AS loans,
       coalesce(sum(amount_fen) FILTER (WHERE disbursed), 0) AS lent_fen,
       coalesce(sum(outstanding_now_fen), 0) AS outstanding_fen, coalesce(sum(overdue_now_fen), 0) AS overdue_fen,
       coalesce(sum(subsidy_fen) FILTER (WHERE disbursed), 0) AS subsidy_fen,
       max(programme_name) AS programme_name, max(product) AS product
  FROM loan_facts
 WHERE known
 GROUP BY tenant_id, programme_key, state, approved
"""


async def lock_loan(uow: UnitOfWork, *, loan_id: str) -> LoanFacts:
    """The merged facts of a loan of the unit of work's county, locked; empty facts if it was unknown."""
    record = await uow.conn.fetchrow(_LOCK_LOAN, uow.tenant, loan_id)
    return loan_facts_from_record(record)


async def save_loan(uow: UnitOfWork, *, loan_id: str, facts: LoanFacts) -> None:
    """Store a loan's merged facts and the figures derived from them."""
    await uow.conn.execute(_SAVE_LOAN, uow.tenant, loan_id, *loan_facts_values(facts))


async def loan_atoms(uow: UnitOfWork) -> list[domain.LoanAtom]:
    """The cells' parts of every county the scope's RLS lets through."""
    return [domain.LoanAtom(tenant_id=r["tenant_id"], programme_key=r["programme_key"],
                            state=domain.LoanState(r["state"]), approved=r["approved"], loans=r["loans"],
                            lent_fen=int(r["lent_fen"]), outstanding_fen=int(r["outstanding_fen"]),
                            overdue_fen=int(r["overdue_fen"]), subsidy_fen=int(r["subsidy_fen"]),
                            programme_name=r["programme_name"] or "", product=r["product"] or "")
            for r in await uow.conn.fetch(_LOAN_ATOMS)]


async def loans_updated_at(uow: UnitOfWork) -> datetime | None:
    """When a loan of the scope last changed (None when there is none)."""
    value: datetime | None = await uow.conn.fetchval("SELECT max(updated_at) FROM loan_facts")
    return value
