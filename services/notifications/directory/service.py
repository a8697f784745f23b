"""The directory's use cases: whom a notice reaches, walking up the org tree when an org has nobody; and keeping the
directory as organizations and registry publish it (the consumers' calls)."""

from __future__ import annotations

import logging
from datetime import datetime

from jinqiao.kit.crypto import DecryptionError, FieldCipher
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.pii import OFFICER_SEAL_COLUMN, OFFICER_SEAL_TABLE
from jinqiao.kit.usecases import parse_id_or_none
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory import domain, repo
from jinqiao.notifications.directory.domain import (
    Audience,
    MemberEntry,
    Officer,
    OrgEntry,
    Recipient,
    member_address,
)
from jinqiao.notifications.directory.models import APPOINTMENTS, PHONE_BINDING

log = logging.getLogger(__name__)

# ---- whom a notice reaches


async def _chain(uow: UnitOfWork, org_id: str) -> tuple[list[OrgEntry], dict[str, list[Officer]]]:
    """The org and its parents (an org the directory does not know yet stands alone, with nobody) and their
    active officers."""
    key = parse_id_or_none(org_id)
    if key is None:
        # Not an org id at all (e.g. the county code): nothing below the county department.
        return [], {}
    chain = await repo.chain(uow, org_id=key)
    if not chain:
        chain = [OrgEntry(id=key, parent_id=None, kind="", name="", dissolved=False)]
    return chain, await repo.active_officers(uow, org_ids=[entry.id for entry in chain])


async def resolve(uow: UnitOfWork, *, org_id: str | None, audience: Audience) -> tuple[Recipient, int]:
    """CONTRACT (directory helper): the office for ``audience`` at ``org_id`` or, when that org has nobody in the
    audience's positions, at the nearest org above that has; the county department's seat when nothing below it
    has anybody (or ``org_id`` is None/unknown). Returns the recipient and how many steps up it walked (0: the org
    itself). Runs in the org's county (``uow``)."""
    if not org_id:
        return domain.county_seat(uow.tenant), 0
    chain, officers = await _chain(uow, org_id)
    return domain.choose(audience, chain, officers, uow.tenant)


async def resolve_above(uow: UnitOfWork, *, org_id: str | None) -> tuple[Recipient, str | None]:
    """CONTRACT (directory helper): the next office above the org a notice reached last (its parent's office with
    somebody in it, or the county's seat), and the org id it sits at (None for the county department: the top)."""
    if not org_id:
        return domain.county_seat(uow.tenant), None
    chain, officers = await _chain(uow, org_id)
    return domain.choose_above(chain, officers, uow.tenant)


async def member(uow: UnitOfWork, *, member_id: str) -> MemberEntry | None:
    """CONTRACT (directory helper): the county's own member (name, home branch, township), or None."""
    key = parse_id_or_none(member_id)
    return None if key is None else await repo.get_member(uow, member_id=key)


async def org(uow: UnitOfWork, *, org_id: str) -> OrgEntry | None:
    """CONTRACT (directory helper): an org of the county, or None."""
    key = parse_id_or_none(org_id)
    return None if key is None else await repo.get_org(uow, org_id=key)


async def attendees(uow: UnitOfWork, *, org_id: str) -> list[Recipient]:
    """CONTRACT (directory helper): who a meeting of the org concerns: the county's own members whose home branch is
    the org, and the guests (temporary memberships offered or checked in at the org, any county): each a member
    recipient in the member's HOME county (``Recipient.tenant``)."""
    key = parse_id_or_none(org_id)
    if key is None:
        return []
    found: dict[tuple[str, str], Recipient] = {}
    for member_id, name in await repo.home_members(uow, org_id=key):
        found[(uow.tenant, member_id)] = Recipient(address=member_address(member_id), tenant=uow.tenant, label=name)
    for member_id, home in await repo.guests(uow, org_id=key):
        # A guest's name stays with its home county; a guest of the county's own (placed at home) keeps the label.
        found.setdefault((home, member_id), Recipient(address=member_address(member_id), tenant=home, label=""))
    return list(found.values())


def officer_phone(cipher: FieldCipher, *, tenant: str, officer: Officer) -> str | None:
    """An officer's phone opened from the directory's seal (None when there is none or it will not open)."""
    if officer.phone_sealed is None:
        return None
    try:
        return cipher.decrypt(officer.phone_sealed, tenant=tenant, table=APPOINTMENTS, column=PHONE_BINDING,
                              row=officer.appointment_id)
    except DecryptionError:
        log.warning("directory: an officer's phone does not open", extra={"tenant": tenant})
        return None


# ---- keeping the directory (the consumers' use cases; each idempotent and order-tolerant)


async def org_placed(uow: UnitOfWork, *, org_id: str, parent_id: str, at: datetime, kind: str = "",
                     name: str = "") -> None:
    """An org created (kind, name, parent) or moved (parent) as of ``at``."""
    key = parse_id_or_none(org_id)
    if key is None:
        return
    await repo.org_placed(uow, org_id=key, parent_id=parse_id_or_none(parent_id), at=at, kind=kind, name=name)


async def org_renamed(uow: UnitOfWork, *, org_id: str, name: str) -> None:
    """An org renamed."""
    if (key := parse_id_or_none(org_id)) is not None and name:
        await repo.org_renamed(uow, org_id=key, name=name)


async def org_dissolved(uow: UnitOfWork, *, org_id: str) -> None:
    """An org dissolved (its office is skipped by every walk)."""
    if (key := parse_id_or_none(org_id)) is not None:
        await repo.org_dissolved(uow, org_id=key)


async def officer_appointed(uow: UnitOfWork, *, deps: NotificationsDeps, publisher: str, appointment_id: str,
                            officer_id: str, org_id: str, position: str, officer_name: str, phone_sealed: bytes,
                            phone_masked: str, at: datetime) -> None:
    """An appointment: the phone opened from the event's seal and sealed again to the directory's own row (so the
    key rotation covers it); a phone that does not open is kept masked only."""
    appointment, officer, org_key = (parse_id_or_none(appointment_id), parse_id_or_none(officer_id),
                                     parse_id_or_none(org_id))
    if appointment is None or officer is None or org_key is None or position not in domain.POSITIONS:
        log.warning("directory: an appointment event names nothing usable", extra={"tenant": publisher})
        return
    phone_enc: bytes | None = None
    if phone_sealed:
        try:
            phone = deps.cipher.decrypt(phone_sealed, tenant=publisher, table=OFFICER_SEAL_TABLE,
                                        column=OFFICER_SEAL_COLUMN, row=appointment_id)
        except DecryptionError:
            # Sealed for another county or appointment, or garbled: SMS will not reach this officer.
            log.warning("directory: an officer's phone does not open", extra={"tenant": publisher})
        else:
            phone_enc = deps.cipher.encrypt(phone, tenant=uow.tenant, table=APPOINTMENTS, column=PHONE_BINDING,
                                            row=appointment)
    await repo.appointed(uow, appointment_id=appointment, officer_id=officer, org_id=org_key, position=position,
                         officer_name=officer_name, phone_enc=phone_enc, phone_masked=phone_masked, at=at)


async def appointment_ended(uow: UnitOfWork, *, appointment_id: str, officer_id: str, org_id: str, position: str,
                            at: datetime) -> None:
    """An appointment ended: its officer no longer counts."""
    appointment, officer, org_key = (parse_id_or_none(appointment_id), parse_id_or_none(officer_id),
                                     parse_id_or_none(org_id))
    if appointment is None or officer is None or org_key is None:
        return
    await repo.appointment_ended(uow, appointment_id=appointment, officer_id=officer, org_id=org_key,
                                 position=position, at=at)


async def member_profile(uow: UnitOfWork, *, member_id: str, name: str, home_org_id: str, township: str,
                         active: bool, at: datetime) -> None:
    """A member's current facts (the newest by occur time wins)."""
    if (key := parse_id_or_none(member_id)) is not None:
        await repo.member_profile(uow, member_id=key, name=name, home_org_id=parse_id_or_none(home_org_id),
                                  township=township, active=active, at=at)


async def guest_state(uow: UnitOfWork, *, membership_id: str, member_id: str, origin_tenant_id: str, flow_id: str,
                      org_id: str, state: str, at: datetime) -> None:
    """A temporary membership at one of the county's orgs moved to ``state`` (never back)."""
    membership, member_key = parse_id_or_none(membership_id), parse_id_or_none(member_id)
    if membership is None or member_key is None or not origin_tenant_id or state not in domain.GUEST_STATES:
        return
    await repo.guest_state(uow, membership_id=membership, member_id=member_key, origin_tenant_id=origin_tenant_id,
                           flow_id=parse_id_or_none(flow_id), org_id=parse_id_or_none(org_id), state=state, at=at)


# ---- the county's own members' flows: which county places them (to believe what that county says of them)


async def flow_placed(uow: UnitOfWork, *, flow_id: str, member_id: str, placing_tenant_id: str, attempt: int,
                      at: datetime) -> None:
    """A flow registered or redirected: the county placing this attempt."""
    await repo.flow_placed(uow, flow_id=flow_id, member_id=member_id, placing_tenant_id=placing_tenant_id,
                           attempt=attempt, at=at)


async def flow_closed(uow: UnitOfWork, *, flow_id: str, member_id: str, placing_tenant_id: str,
                      at: datetime) -> None:
    """A flow ended."""
    await repo.flow_closed(uow, flow_id=flow_id, member_id=member_id, placing_tenant_id=placing_tenant_id, at=at)


async def flow_placing(uow: UnitOfWork, *, flow_id: str) -> tuple[str, str, bool] | None:
    """(member id, placing county, closed) of a flow of the county, or None while its registration is not known."""
    return await repo.flow_placing(uow, flow_id=flow_id)


async def placed_by(uow: UnitOfWork, *, member_id: str, county: str) -> bool:
    """Whether the county's member is placed by ``county`` now (an open flow): the one other county that may speak
    of them (its offer, its station's reply, its meetings)."""
    return await repo.placed_by(uow, member_id=member_id, placing_tenant_id=county)
