"""Insights use cases: apply events to read models, answer aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.insights import domain, repo
from jinqiao.kit.auth import Principal
from jinqiao.kit.broker import Delivery
from jinqiao.kit.db import Database, UnitOfWork

SERVICE = "insights"


@dataclass(frozen=True, slots=True)
class InsightsDeps:
    """What the use cases need, built once in ``server.py``."""

    db: Database


async def on_member_registered(
    uow: UnitOfWork, event: registry_events_pb2.MemberRegistered, delivery: Delivery
) -> None:
    """Count a newly registered member in its county (the inbox has already ruled out duplicates)."""
    await repo.add_members(uow, count=1)


async def member_counts(*, deps: InsightsDeps, principal: Principal, scope: str) -> list[domain.CountyCount]:
    """Members per county inside a scope the caller may read; counts only, never persons."""
    readable = domain.readable_scope(requested=scope, principal_scope=principal.scope, role=principal.role)
    async with deps.db.scope_reader(scope=readable) as uow:
        return await repo.member_counts(uow)
