"""Queues' SQL: the duty roster, its round-robin lock, and the counts per queue (RLS scopes it to one county)."""

from __future__ import annotations

from datetime import datetime

from jinqiao.desk.queues.models import DutyRow, QueueCounts
from jinqiao.desk.tickets.domain import COUNTY_QUEUE, OPEN
from jinqiao.kit.db import UnitOfWork

# Inlined (not a parameter) so the planner can use the partial index of open tickets by assignee (migration 0004).
_OPEN = ", ".join(str(int(s)) for s in sorted(OPEN))
# A person's open tickets in the county: their load, whichever queue the tickets are in.
_OPEN_ASSIGNED = ("(SELECT count(*) FROM tickets t WHERE t.tenant_id = d.tenant_id AND t.assignee = d.user_name"
                  f" AND t.status IN ({_OPEN})) AS open_assigned")
_DUTY_COLUMNS = "d.queue, d.user_name, d.display_name, d.on_duty, d.since, d.last_assigned_at"


async def roster(uow: UnitOfWork, *, queue: str) -> list[DutyRow]:
    """A queue's roster (on and off duty) with each person's open assigned count, on duty first, by name."""
    rows = await uow.conn.fetch(
        f"SELECT {_DUTY_COLUMNS}, {_OPEN_ASSIGNED} FROM desk_duty d WHERE d.tenant_id = $1 AND d.queue = $2"
        " ORDER BY d.on_duty DESC, d.user_name", uow.tenant, queue)
    return [DutyRow.from_record(r) for r in rows]


async def entry(uow: UnitOfWork, *, queue: str, user_name: str) -> DutyRow | None:
    """One person's entry on a queue's roster, or None."""
    record = await uow.conn.fetchrow(
        f"SELECT {_DUTY_COLUMNS}, {_OPEN_ASSIGNED} FROM desk_duty d WHERE d.tenant_id = $1 AND d.queue = $2"
        " AND d.user_name = $3", uow.tenant, queue, user_name)
    return DutyRow.from_record(record) if record else None


async def lock_on_duty(uow: UnitOfWork, *, queue: str) -> list[DutyRow]:
    """The queue's staff on duty, their rows locked until commit (in name order, so lockers never deadlock):
    concurrent round-robin assignments in one queue take turns and each sees the last one's choice."""
    rows = await uow.conn.fetch(
        f"SELECT {_DUTY_COLUMNS}, {_OPEN_ASSIGNED} FROM desk_duty d WHERE d.tenant_id = $1 AND d.queue = $2"
        " AND d.on_duty ORDER BY d.user_name FOR UPDATE OF d", uow.tenant, queue)
    return [DutyRow.from_record(r) for r in rows]


async def latest_assignment(uow: UnitOfWork, *, queue: str) -> datetime | None:
    """The most recent assignment in the queue (a new one is stamped after it, whatever the clock says)."""
    value: datetime | None = await uow.conn.fetchval(
        "SELECT max(last_assigned_at) FROM desk_duty WHERE tenant_id = $1 AND queue = $2", uow.tenant, queue)
    return value


async def mark_assigned(uow: UnitOfWork, *, queue: str, user_name: str, at: datetime) -> None:
    """Stamp a person's last assignment in the queue (nothing when they are not on its roster)."""
    await uow.conn.execute(
        "UPDATE desk_duty SET last_assigned_at = $4 WHERE tenant_id = $1 AND queue = $2 AND user_name = $3",
        uow.tenant, queue, user_name, at)


async def set_duty(uow: UnitOfWork, *, queue: str, user_name: str, display_name: str, on_duty: bool,
                   at: datetime) -> DutyRow:
    """Put a person on or off duty (``since`` moves only when the state changes); returns their entry."""
    await uow.conn.execute(
        "INSERT INTO desk_duty (tenant_id, queue, user_name, display_name, on_duty, since)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, queue, user_name) DO UPDATE SET"
        " display_name = EXCLUDED.display_name, on_duty = EXCLUDED.on_duty,"
        " since = CASE WHEN desk_duty.on_duty = EXCLUDED.on_duty THEN desk_duty.since ELSE EXCLUDED.since END",
        uow.tenant, queue, user_name, display_name, on_duty, at)
    found = await entry(uow, queue=queue, user_name=user_name)
    assert found is not None
    return found


async def on_duty_counts(uow: UnitOfWork) -> dict[str, int]:
    """Staff on duty per queue key."""
    rows = await uow.conn.fetch(
        "SELECT queue, count(*) AS n FROM desk_duty WHERE tenant_id = $1 AND on_duty GROUP BY queue", uow.tenant)
    return {r["queue"]: int(r["n"]) for r in rows}


# A clock's warning still stands while the act it waits for has not happened since (the update clock restarts
# with each update, so a warning before the last update is spent).
_STILL_PENDING = """(
    (m.clock = 'FIRST_RESPONSE' AND t.first_response_at IS NULL)
 OR (m.clock = 'ASSIGNMENT' AND (t.assigned_at IS NULL OR t.assigned_at < m.at))
 OR (m.clock = 'UPDATE' AND (t.last_update_at IS NULL OR t.last_update_at < m.at))
 OR (m.clock = 'RESOLUTION' AND (t.resolved_at IS NULL OR t.resolved_at < m.at)))"""


async def queue_counts(uow: UnitOfWork) -> dict[str, QueueCounts]:
    """Open tickets per queue key (a station's org id, or "county"): all, unassigned, warned, breached."""
    rows = await uow.conn.fetch(
        f"""
        WITH open_tickets AS (
            SELECT coalesce(t.serving_org_id::text, $2) AS queue, t.assignee = '' AS unassigned,
                   t.escalated OR EXISTS (SELECT 1 FROM ticket_sla_marks m WHERE m.tenant_id = t.tenant_id
                                          AND m.ticket_id = t.id AND m.kind = 'BREACHED') AS breached,
                   EXISTS (SELECT 1 FROM ticket_sla_marks m WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id
                           AND m.kind = 'WARNED' AND {_STILL_PENDING}) AS warned
            FROM tickets t WHERE t.tenant_id = $1 AND t.status IN ({_OPEN})
        )
        SELECT queue, count(*) AS open, count(*) FILTER (WHERE unassigned) AS unassigned,
               count(*) FILTER (WHERE warned AND NOT breached) AS warned, count(*) FILTER (WHERE breached) AS breached
        FROM open_tickets GROUP BY queue
        """, uow.tenant, COUNTY_QUEUE)
    return {r["queue"]: QueueCounts(open=int(r["open"]), unassigned=int(r["unassigned"]), warned=int(r["warned"]),
                                    breached=int(r["breached"])) for r in rows}
