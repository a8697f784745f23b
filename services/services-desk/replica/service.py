"""Replica lookups for the other concepts, and the use cases its consumers call (idempotent, order-tolerant)."""

from __future__ import annotations

from jinqiao.desk.replica.domain import Guest, ReplicaMember, ReplicaOrg
from jinqiao.kit.db import UnitOfWork


async def home_member(uow: UnitOfWork, *, member_id: str) -> ReplicaMember | None:
    """CONTRACT: a member of ``uow.tenant`` (their home county), or None."""
    raise NotImplementedError


async def guest(uow: UnitOfWork, *, origin_tenant_id: str, member_id: str) -> Guest | None:
    """CONTRACT: a member of ``origin_tenant_id`` placed in ``uow.tenant`` by an open flow (the latest), or None."""
    raise NotImplementedError


async def org(uow: UnitOfWork, *, org_id: str) -> ReplicaOrg | None:
    """CONTRACT: an organisation of ``uow.tenant``, or None."""
    raise NotImplementedError


async def org_subtree(uow: UnitOfWork, *, root_id: str) -> frozenset[str]:
    """CONTRACT: the organisation and every organisation under it."""
    raise NotImplementedError


async def ancestors(uow: UnitOfWork, *, org_id: str) -> list[ReplicaOrg]:
    """CONTRACT: the organisation's parents, nearest first (the county committee last)."""
    raise NotImplementedError


async def nearest_station(uow: UnitOfWork, *, org_id: str) -> ReplicaOrg | None:
    """CONTRACT: the organisation itself if it is a station, else its nearest station ancestor, else None."""
    raise NotImplementedError


async def stations(uow: UnitOfWork) -> list[ReplicaOrg]:
    """CONTRACT: the county's stations (驻城党建工作站, 服务中心) that are not dissolved, by name."""
    raise NotImplementedError
