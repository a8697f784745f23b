"""Erasure use cases: record a departure, erase a departed member's personal fields on request or when due."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import authz, lifecycle, telemetry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import NotFound
from jinqiao.kit.events import new_event
from jinqiao.kit.settings import KitSettings
from jinqiao.kit.usecases import parse_id, record_act, require_tenant
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.erasure import domain, repo
from jinqiao.registry.erasure.models import BATCH
from jinqiao.registry.members import domain as members_domain
from jinqiao.registry.members import repo as members_repo
from jinqiao.registry.members import service as members
from jinqiao.registry.members.models import MemberRow

log = logging.getLogger("jinqiao.registry.erasure")

NOT_FOUND = "未找到该党员"
# The principal of the scheduled erasure's acts (audit rows and events).
RETENTION_JOB = Principal(user="system:retention", role=Role.SERVICE, scope="41", tenant=None)
# The retention kind of a departed member's personal fields (deploy/retention.toml, read by kit/lifecycle.py).
KIND = "member_departed"


def departed_period_days(settings: KitSettings | None = None) -> int:
    """Days after a record ended before its personal fields are erased: the province policy's ``member_departed``
    period (validated against its legal floor by the loader)."""
    return lifecycle.load_policy(settings or KitSettings()).period(KIND).days


async def _member(uow: UnitOfWork, *, member_id: str) -> MemberRow:
    row = await members.find_member(uow, member_id=parse_id(member_id, what="该党员"))
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def record_departure(*, deps: RegistryDeps, principal: Principal, member_id: str, departure: int, on: str,
                           reason: str) -> members_domain.Member:
    """去世 or 出党 (退党、除名、开除党籍): the record ends on the stated day; audited, and the member's facts
    (MemberProfileChanged, no longer active) go to the services that keep a replica."""
    authz.require(principal.role, Permission.MEMBERS_END, "当前角色无权登记党员去世或出党")
    tenant = require_tenant(principal)
    entry = domain.validate_departure(departure=departure, on=on, reason=reason,
                                      today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await members_repo.get_member(uow, member_id=parse_id(member_id, what="该党员"), for_update=True)
        if row is None:
            raise NotFound(NOT_FOUND)
        domain.ensure_may_end(record_status=row.record_status,
                              open_flow=await repo.has_open_flow(uow, member_id=row.id))
        await repo.end_record(uow, member_id=row.id, status=int(entry.record_status), departure=int(entry.departure),
                              ended_on=entry.ended_on)
        await record_act(uow, principal, service=SERVICE, action="member.depart", object_type="member",
                         object_id=row.id, reason=domain.departure_summary(entry))
        await members.publish_profile(uow, cipher=deps.cipher, member_id=row.id)
        ended = await members.find_member(uow, member_id=row.id)
        await uow.commit()
    assert ended is not None
    return ended.to_domain()


@dataclass(frozen=True, slots=True)
class Erased:
    """The anonymised member, and whether an earlier erasure had already done it."""

    member: members_domain.Member
    already_erased: bool


async def erase_member_personal_data(*, deps: RegistryDeps, principal: Principal, member_id: str,
                                     reason: str) -> Erased:
    """Erase a departed member's personal fields now, for a stated reason, where the law allows it; a second request
    changes nothing and writes nothing."""
    if not authz.holds(principal, Permission.MEMBERS_ERASE):
        # Another role learns nothing of the member (the interceptor refused most already).
        raise NotFound(NOT_FOUND)
    clean = domain.clean_reason(reason)
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _member(uow, member_id=member_id)
        if row.erased_at is not None:
            return Erased(member=row.to_domain(), already_erased=True)
        domain.ensure_may_erase(record_status=row.record_status,
                                open_flow=await repo.has_open_flow(uow, member_id=row.id))
        erased = await _erase(uow, principal, member_id=row.id, reason=clean, trigger=domain.REQUEST,
                              at=deps.clock())
        await uow.commit()
    return Erased(member=erased.to_domain(), already_erased=False)


async def _erase(uow: UnitOfWork, principal: Principal, *, member_id: str, reason: str, trigger: str,
                 at: datetime) -> MemberRow:
    """Erase under the row's lock, audit it, and tell each county holding a copy (one event each, via the outbox)."""
    await members_repo.get_member(uow, member_id=member_id, for_update=True)
    await repo.erase_member(uow, member_id=member_id, at=at)
    row = await members.find_member(uow, member_id=member_id)
    assert row is not None
    await record_act(uow, principal, service=SERVICE, action="member.erase", object_type="member",
                     object_id=member_id, reason=reason)
    # The origin itself first (its own copies, e.g. a placement inside the county), then every placing county.
    holders = [uow.tenant, *(c for c in await repo.holder_counties(uow, member_id=member_id) if c != uow.tenant)]
    for holder in holders:
        uow.add_event(new_event(
            registry_events_pb2.MemberPersonalDataErased(member_id=member_id, holder_tenant_id=holder,
                                                         trigger=trigger),
            service=SERVICE, tenant=uow.tenant, aggregate_id=member_id, aggregate_version=row.version,
            traceparent=telemetry.current_traceparent() or None))
    return row


async def erase_due_all_tenants(*, deps: RegistryDeps, now: datetime | None = None,
                                period_days: int | None = None) -> int:
    """Every county's departed members whose retention period has run out, erased; how many.

    Crosses counties by design, only to list the ids due (a SECURITY DEFINER function); each county then erases
    under its own tenant, one audit row per member (actor ``system:retention``)."""
    moment = now or deps.clock()
    days = departed_period_days() if period_days is None else period_days
    ended_by = domain.erasure_due_by(today=china_date(moment), period_days=days)
    reason = f"{KIND} 保存期限（{days} 天）届满"
    total = 0
    while True:
        async with deps.db.pool.acquire() as conn:
            due = await repo.due_for_erasure_all_tenants(conn, ended_by=ended_by, batch=BATCH)
        if not due:
            return total
        by_county: dict[str, list[str]] = {}
        for county, member_id in due:
            by_county.setdefault(county, []).append(member_id)
        erased_now = 0
        for county, ids in by_county.items():
            async with deps.db.unit_of_work(tenant=county) as uow:
                for member_id in ids:
                    if await repo.has_open_flow(uow, member_id=member_id):
                        # Never erase a member still away; ended_on stays, so the next run sees them again.
                        continue
                    await _erase(uow, RETENTION_JOB, member_id=member_id, reason=reason, trigger=domain.RETENTION,
                                 at=moment)
                    erased_now += 1
                await uow.commit()
        total += erased_now
        # A short batch was the last; a batch of members all still away would come back unchanged: stop.
        if len(due) < BATCH or not erased_now:
            return total

