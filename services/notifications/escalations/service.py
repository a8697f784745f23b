"""Escalations' use cases: open, climb, acknowledge and resolve."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from jinqiao.kit import pagination
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from jinqiao.kit.regions import name_of
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.notifications.deliveries import service as deliveries
from jinqiao.notifications.deliveries.domain import Notice
from jinqiao.notifications.deps import SERVICE, NotificationsDeps
from jinqiao.notifications.directory import service as directory
from jinqiao.notifications.directory.domain import Audience, Recipient
from jinqiao.notifications.escalations import domain, repo
from jinqiao.notifications.escalations.domain import LADDERS, Escalation, EscalationState, Ladder
from jinqiao.notifications.inbox.domain import addresses_of

# The sweep climbs at most this many escalations of one county per pass (the rest wait for the next pass).
_SWEEP_BATCH = 500
# Where a stored escalation keeps the link its messages carry (the escalations table has no column of its own).
_LINK = "link"


def _office_org(recipient: Recipient) -> str | None:
    """The org an office sits at; None for the county department (its seat names the county code, not an org)."""
    return parse_id_or_none(recipient.org_id) if recipient.org_id else None


async def _org_name(uow: UnitOfWork, org_id: str | None) -> str:
    """The name of the org an office sits at, or the county department's."""
    if org_id is None:
        county = name_of(uow.tenant)
        return f"{county}委组织部" if county != uow.tenant else domain.COUNTY_OFFICE_LABEL
    entry = await directory.org(uow, org_id=org_id)
    return entry.name if entry is not None else ""


async def _office_for_level(uow: UnitOfWork, *, ladder: Ladder, start_org_id: str | None,
                            level: int) -> tuple[Recipient, str | None, Audience]:
    """The office a new escalation reaches at ``level`` from its start: the level's own office where the kind names
    one (an overdue 报到), else the ladder's first office and one step up for every level above 1."""
    audience = domain.level_audience(ladder.kind, level)
    if audience is not None:
        recipient, _ = await directory.resolve(uow, org_id=start_org_id, audience=audience)
        return recipient, _office_org(recipient), audience
    recipient, _ = await directory.resolve(uow, org_id=start_org_id, audience=ladder.start)
    org_id = _office_org(recipient)
    for _ in range(level - 1):
        if org_id is None:  # the county seat: nobody above it
            break
        recipient, org_id = await directory.resolve_above(uow, org_id=org_id)
    return recipient, org_id, ladder.start if org_id is not None else Audience.COUNTY


async def _office_above(uow: UnitOfWork, *, row: Escalation, level: int) -> tuple[Recipient, str | None, Audience]:
    """The office an OPEN escalation reaches when it climbs from where it is to ``level``."""
    if row.org_id is None:
        # At the county seat already (a level's office is "at least" that one): it stays there.
        recipient, _ = await directory.resolve(uow, org_id=None, audience=Audience.COUNTY)
        return recipient, None, Audience.COUNTY
    audience = domain.level_audience(row.kind, level)
    if audience is not None:
        recipient, _ = await directory.resolve(uow, org_id=row.start_org_id, audience=audience)
        return recipient, _office_org(recipient), audience
    # One step at least (level > row.level, and the row is below the county seat), then one more per level.
    above, org_id = await directory.resolve_above(uow, org_id=row.org_id)
    for _ in range(level - row.level - 1):
        if org_id is None:
            break
        above, org_id = await directory.resolve_above(uow, org_id=org_id)
    return above, org_id, Audience(row.audience) if org_id is not None else Audience.COUNTY


async def _tell(uow: UnitOfWork, *, deps: NotificationsDeps, ladder: Ladder, escalation_id: str, level: int,
                recipient: Recipient, facts: Mapping[str, str], event_id: str, now: datetime) -> None:
    """Tell one office of one level; the source key makes a repeat insert nothing."""
    notice = Notice(source_key=f"esc:{escalation_id}:{level}", kind=ladder.template, facts=facts,
                    link=facts.get(_LINK, ""), event_id=event_id, escalation_id=escalation_id, level=level)
    await deliveries.notify(uow, deps=deps, notice=notice, recipients=[recipient], now=now)


def _next_at(deps: NotificationsDeps, org_id: str | None, now: datetime) -> datetime | None:
    """When the escalation climbs again: never from the county department (nobody above it)."""
    return None if org_id is None else now + deps.escalate_after


async def raise_escalation(uow: UnitOfWork, *, deps: NotificationsDeps, kind: str, subject_id: str,
                           member_id: str | None, start_org_id: str | None, level: int, facts: Mapping[str, str],
                           link: str, event_id: str, now: datetime) -> None:
    """CONTRACT (escalations helper): open the escalation of ``kind`` for the matter (``LADDERS[kind]``) at level 1
    starting from ``start_org_id`` and tell its office; a later call with a higher ``level`` (e.g. the registry's
    level 2 and 3 of an overdue 报到) climbs to it at once if still OPEN; an ACKNOWLEDGED or RESOLVED one tells
    nobody. Idempotent: the same call twice tells nobody twice. Runs in the matter's county."""
    ladder = LADDERS[kind]
    level = max(level, 1)
    start_org_id = parse_id_or_none(start_org_id) if start_org_id else None
    member_id = parse_id_or_none(member_id) if member_id else None
    matter = {str(k): str(v) for k, v in facts.items()}
    if link:
        matter[_LINK] = link
    row = await repo.by_subject(uow, kind=kind, subject_id=subject_id, for_update=True)
    if row is None:
        recipient, org_id, audience = await _office_for_level(uow, ladder=ladder, start_org_id=start_org_id,
                                                              level=level)
        told = domain.level_facts(kind, matter, level=level, label=recipient.label,
                                  org_name=await _org_name(uow, org_id))
        escalation_id = str(uuid.uuid4())
        if await repo.insert(uow, escalation_id=escalation_id, kind=kind, subject_type=ladder.subject_type,
                             subject_id=subject_id, member_id=member_id, level=level, audience=audience.value,
                             start_org_id=start_org_id, org_id=org_id, facts=told, opened_at=now,
                             next_escalation_at=_next_at(deps, org_id, now)):
            await _tell(uow, deps=deps, ladder=ladder, escalation_id=escalation_id, level=level, recipient=recipient,
                        facts=told, event_id=event_id, now=now)
            return
        # Another delivery opened it meanwhile: carry on as if it had been there.
        row = await repo.by_subject(uow, kind=kind, subject_id=subject_id, for_update=True)
        if row is None:
            return
    # Acknowledged or resolved here: a later level tells nobody and does not re-open it. For an overdue 报到 the
    # registry re-opens its own 预警 case, and its 预警 page shows it to whoever handles it.
    if row.state is not EscalationState.OPEN or level <= row.level:
        return
    recipient, org_id, audience = await _office_above(uow, row=row, level=level)
    told = domain.level_facts(kind, {**row.facts, **matter}, level=level, label=recipient.label,
                              org_name=await _org_name(uow, org_id))
    await repo.move(uow, escalation_id=row.id, level=level, audience=audience.value, org_id=org_id, facts=told,
                    next_escalation_at=_next_at(deps, org_id, now))
    # An office told already (the walk was stuck at the county seat, or the township was reached at level 1 because
    # the branch had nobody) is not told again for a level that names it once more.
    if org_id == row.org_id:
        return
    await _tell(uow, deps=deps, ladder=ladder, escalation_id=row.id, level=level, recipient=recipient, facts=told,
                event_id=event_id, now=now)


async def settle(uow: UnitOfWork, *, kind: str, subject_id: str, acknowledged_by: str, now: datetime) -> None:
    """CONTRACT (escalations helper): the matter was acknowledged elsewhere (``acknowledged_by`` set: e.g. the
    registry's 预警 case) or has ended (empty: checked in, ticket resolved, loan decided): it stops climbing."""
    row = await repo.by_subject(uow, kind=kind, subject_id=subject_id, for_update=True)
    if row is None:
        return
    if acknowledged_by:
        if row.state is EscalationState.OPEN:
            await repo.acknowledge(uow, escalation_id=row.id, by=acknowledged_by, note="", at=now)
    elif row.state is not EscalationState.RESOLVED:
        await repo.resolve(uow, escalation_id=row.id, at=now)


async def climb_due(*, deps: NotificationsDeps, tenant: str, now: datetime) -> int:
    """One county's OPEN escalations whose wait ran out, each one office up in its own transaction; how many."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        due = await repo.due(uow, now=now, limit=_SWEEP_BATCH)
    climbed = 0
    for escalation_id in due:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            row = await repo.get(uow, escalation_id=escalation_id, for_update=True)
            if (row is None or row.state is not EscalationState.OPEN or row.next_escalation_at is None
                    or row.next_escalation_at > now):
                continue
            ladder = LADDERS[row.kind]
            level = row.level + 1
            if row.org_id is None:
                # At the county department already: it was told once; nobody above it.
                await repo.move(uow, escalation_id=row.id, level=row.level, audience=row.audience, org_id=None,
                                facts=row.facts, next_escalation_at=None)
                await uow.commit()
                continue
            recipient, org_id = await directory.resolve_above(uow, org_id=row.org_id)
            told = domain.level_facts(row.kind, row.facts, level=level, label=recipient.label,
                                      org_name=await _org_name(uow, org_id))
            audience = Audience(row.audience) if org_id is not None else Audience.COUNTY
            await repo.move(uow, escalation_id=row.id, level=level, audience=audience.value, org_id=org_id,
                            facts=told, next_escalation_at=_next_at(deps, org_id, now))
            await _tell(uow, deps=deps, ladder=ladder, escalation_id=row.id, level=level, recipient=recipient,
                        facts=told, event_id="", now=now)
            await uow.commit()
            climbed += 1
    return climbed


async def climb_due_all_tenants(*, deps: NotificationsDeps, now: datetime | None = None) -> int:
    """CONTRACT (escalations helper): every OPEN escalation whose wait ran out climbs one office up and tells it;
    at the county department it stays there. Returns how many climbed."""
    at = now if now is not None else deps.clock()
    # Crosses tenants by design: only the list of counties with one due is read across them (a SECURITY DEFINER
    # function), then each county under its own tenant.
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_with_escalations_due_all_tenants(conn, now=at)
    climbed = 0
    for county in counties:
        climbed += await climb_due(deps=deps, tenant=county, now=at)
    return climbed


async def acknowledge(*, deps: NotificationsDeps, principal: Principal, escalation_id: str,
                      note: str) -> Escalation:
    """确认 an escalation the caller was told of (or, for the county department, any of the county's): it stops
    climbing. One never told to the caller is not found, as if absent."""
    tenant = require_tenant(principal)
    note = domain.validate_note(note)
    key = parse_id(escalation_id, what="该逐级提醒")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await repo.get(uow, escalation_id=key, for_update=True)
        if row is None:
            raise NotFound(domain.NOT_FOUND)
        if principal.role is not Role.COUNTY_ADMIN and not await repo.told(
                uow, escalation_id=key, addresses=addresses_of(principal)):
            raise NotFound(domain.NOT_FOUND)
        refusal = domain.refusal_to_acknowledge(row.state)
        if refusal is not None:
            raise FailedPrecondition(refusal)
        await repo.acknowledge(uow, escalation_id=key, by=principal.user, note=note, at=deps.clock())
        await record_act(uow, principal, service=SERVICE, action="escalation.acknowledge", object_type="escalation",
                         object_id=key)
        updated = await repo.get(uow, escalation_id=key)
        await uow.commit()
    assert updated is not None
    return updated


async def list_escalations(*, deps: NotificationsDeps, principal: Principal, state: int, kind: str, page_size: int,
                           page_token: str) -> tuple[list[Escalation], str]:
    """A page of the county's escalations, newest first, filtered by state and kind; and the next page's token."""
    tenant = require_tenant(principal)
    violations: list[FieldViolation] = []
    if state and state not in {s.value for s in EscalationState}:
        violations.append(FieldViolation("state", "不是有效的状态"))
    if kind and kind not in LADDERS:
        violations.append(FieldViolation("kind", "不是有效的提醒类别"))
    if violations:
        raise InvalidArgument(violations)
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        rows = await repo.page(uow, state=state, kind=kind, after=after, limit=limit + 1)
    token = pagination.encode_cursor(rows[limit - 1].opened_at, rows[limit - 1].id) if len(rows) > limit else ""
    return rows[:limit], token
