"""Escalations' use cases: open, climb, acknowledge and resolve."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.deps import NotificationsDeps


async def raise_escalation(uow: UnitOfWork, *, deps: NotificationsDeps, kind: str, subject_id: str,
                           member_id: str | None, start_org_id: str | None, level: int, facts: Mapping[str, str],
                           link: str, event_id: str, now: datetime) -> None:
    """CONTRACT (escalations helper): open the escalation of ``kind`` for the matter (``LADDERS[kind]``) at level 1
    starting from ``start_org_id`` and tell its office; a later call with a higher ``level`` (e.g. the registry's
    level 2 and 3 of an overdue 报到) climbs to it at once if still OPEN; an ACKNOWLEDGED or RESOLVED one tells
    nobody. Idempotent: the same call twice tells nobody twice. Runs in the matter's county."""
    raise NotImplementedError


async def settle(uow: UnitOfWork, *, kind: str, subject_id: str, acknowledged_by: str, now: datetime) -> None:
    """CONTRACT (escalations helper): the matter was acknowledged elsewhere (``acknowledged_by`` set: e.g. the
    registry's 预警 case) or has ended (empty: checked in, ticket resolved, loan decided): it stops climbing."""
    raise NotImplementedError


async def climb_due_all_tenants(*, deps: NotificationsDeps, now: datetime | None = None) -> int:
    """CONTRACT (escalations helper): every OPEN escalation whose wait ran out climbs one office up and tells it;
    at the county department it stays there. Returns how many climbed."""
    raise NotImplementedError
