"""Ticket use cases: filing, reading, the moves between states, comments, history, 回访 and reopening.

Besides the RPCs' use cases, the other concepts (queues, attachments, referrals, sla) use the functions marked
CONTRACT below; they take the caller's unit of work and never commit it.
"""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Permission
from jinqiao.kit.db import UnitOfWork


async def visible_ticket(uow: UnitOfWork, principal: Principal, ticket_id: str, *, permission: Permission,
                         for_update: bool = False) -> TicketRow:
    """CONTRACT: a ticket of ``uow.tenant`` the caller reaches under ``permission`` (a member: their own; staff:
    its queue within their reach); anything else raises NotFound as if it did not exist."""
    raise NotImplementedError


async def queue_reach(uow: UnitOfWork, principal: Principal, permission: Permission) -> frozenset[str] | None:
    """CONTRACT: the serving organisations (queues) the caller's grant reaches; None for the whole county
    (the county department's queue included)."""
    raise NotImplementedError


async def add_history(uow: UnitOfWork, *, ticket_id: str, actor: str, actor_name: str = "", action: str,
                      from_status: int = 0, to_status: int = 0, comment_kind: int = 0, body: str = "") -> str:
    """CONTRACT: append one entry to a ticket's history; returns its id."""
    raise NotImplementedError


async def set_assignee(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, row: TicketRow, assignee: str,
                       assignee_name: str) -> TicketRow:
    """CONTRACT: assign an open ticket (history, the ASSIGNED clock event, version + 1); returns the new row."""
    raise NotImplementedError


async def open_referred_ticket(*, deps: DeskDeps, uow: UnitOfWork, principal: Principal, referral_id: str,
                               from_tenant_id: str, category: str, member_home_tenant_id: str, member_id: str,
                               member_name: str, title: str, description: str, form: dict[str, object],
                               serving_org_id: str | None) -> TicketRow:
    """CONTRACT: open a ticket for an accepted referral (channel REFERRAL), with its clocks and TicketOpened."""
    raise NotImplementedError


async def resolve_by_system(*, deps: DeskDeps, uow: UnitOfWork, row: TicketRow, resolution: str,
                            actor_name: str) -> TicketRow:
    """CONTRACT: resolve an open ticket for the platform (e.g. the county it was referred to resolved it)."""
    raise NotImplementedError


async def close_by_system(*, deps: DeskDeps, uow: UnitOfWork, row: TicketRow, reason: str, note: str) -> TicketRow:
    """CONTRACT: close an open ticket for the platform (e.g. its referral was withdrawn: REFERRED_AWAY/WITHDRAWN)."""
    raise NotImplementedError


async def set_outgoing_referral(uow: UnitOfWork, *, ticket_id: str, referral_id: str, status: str) -> None:
    """CONTRACT: record the ticket's latest outgoing referral and its status (PENDING, ACCEPTED, …)."""
    raise NotImplementedError
