"""Preferences' use cases: a person's choices and contacts, and the logins registered at an office."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FieldViolation, InvalidArgument, NotFound
from jinqiao.kit.pii import mask_phone, validate_phone
from jinqiao.kit.usecases import record_act, require_tenant
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.deps import SERVICE, NotificationsDeps
from jinqiao.notifications.directory.domain import member_address, user_address
from jinqiao.notifications.preferences import repo
from jinqiao.notifications.preferences.domain import (
    DEFAULT_CHANNELS,
    DEFAULT_DIGEST_TIME,
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DIGEST_BY_DEFAULT,
    Category,
    CategoryInput,
    Choices,
    Contact,
    PreferencesView,
    QuietHours,
    check_categories,
    mask_email,
    parse_hhmm,
    validate_email,
)
from jinqiao.notifications.preferences.models import EMAIL_BINDING, PEOPLE, PHONE_BINDING, PersonRow, PreferenceRow


def own_address(principal: Principal) -> str:
    """The caller's own address: ``member:<id>`` for a member, ``user:<name>`` for every login."""
    if principal.role is Role.MEMBER:
        if not principal.member:
            raise NotFound("未找到")
        return member_address(principal.member)
    return user_address(principal.user)


def _seat_of(principal: Principal) -> tuple[str, str]:
    """The office (role, org) a login sits at; a county department's org is its county code."""
    if principal.role is Role.MEMBER:
        return principal.role.value, ""
    if principal.role is Role.COUNTY_ADMIN:
        return principal.role.value, principal.tenant or ""
    return principal.role.value, principal.org or ""


def _choices(person: PersonRow | None, rows: Sequence[PreferenceRow]) -> Choices:
    """The choices a row set means (categories without a row keep their defaults)."""
    channels: dict[Category, frozenset[Channel]] = {c: DEFAULT_CHANNELS for c in Category}
    digest = set(DIGEST_BY_DEFAULT)
    for row in rows:
        try:
            category = Category(row.category)
        except ValueError:
            continue  # a category retired since: nothing is sent under it any more
        channels[category] = frozenset(Channel(v) for v in row.channels if v in Channel._value2member_map_)
        if row.digest:
            digest.add(category)
        else:
            digest.discard(category)
    if person is None:
        return Choices(channels=channels, digest=frozenset(digest), quiet=QuietHours())
    quiet = QuietHours(person.quiet_start, person.quiet_end) if person.quiet_enabled else None
    return Choices(channels=channels, digest=frozenset(digest), quiet=quiet, digest_time=person.digest_time)


async def choices_for(uow: UnitOfWork, *, address: str) -> Choices:
    """CONTRACT (preferences helper): the person's choices (``member:…`` or ``user:…``), defaults when none."""
    person = await repo.person(uow, address=address)
    rows = await repo.preferences(uow, address=address) if person is not None else []
    return _choices(person, rows)


async def contact_for(uow: UnitOfWork, *, address: str) -> Contact | None:
    """CONTRACT (preferences helper): the person's own addresses (sealed and masked), or None when they gave none."""
    person = await repo.person(uow, address=address)
    if person is None or (person.email_enc is None and person.phone_enc is None):
        return None
    return Contact(address=address, display_name=person.display_name, email_sealed=person.email_enc,
                   email_masked=person.email_masked, phone_sealed=person.phone_enc, phone_masked=person.phone_masked)


async def seat_users(uow: UnitOfWork, *, role: str, org: str) -> list[str]:
    """CONTRACT (preferences helper): the logins (``user:…`` addresses) that saved preferences while sitting at
    the office ``seat:<role>:<org>``: the e-mail and SMS of a seat's notice go to them (and to its officers)."""
    return await repo.seat_users(uow, role=role, org=org)


def _view(person: PersonRow | None, rows: Sequence[PreferenceRow]) -> PreferencesView:
    return PreferencesView(
        choices=_choices(person, rows),
        quiet_enabled=person.quiet_enabled if person else True,
        quiet_start=person.quiet_start if person else DEFAULT_QUIET_START,
        quiet_end=person.quiet_end if person else DEFAULT_QUIET_END,
        digest_time=person.digest_time if person else DEFAULT_DIGEST_TIME,
        email_masked=person.email_masked if person else "",
        phone_masked=person.phone_masked if person else "")


async def get_preferences(*, deps: NotificationsDeps, principal: Principal) -> PreferencesView:
    """The caller's preferences, defaults where they chose nothing; contacts masked."""
    tenant = require_tenant(principal)
    address = own_address(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        person = await repo.person(uow, address=address)
        rows = await repo.preferences(uow, address=address) if person else []
    return _view(person, rows)


@dataclass(frozen=True, slots=True)
class PreferencesInput:
    """What the caller sends to replace their preferences (times "HH:MM"; an empty address keeps the stored one)."""

    categories: tuple[CategoryInput, ...]
    quiet_enabled: bool
    quiet_start: str
    quiet_end: str
    digest_time: str
    email: str = ""
    phone: str = ""
    clear_email: bool = False
    clear_phone: bool = False


def _time(value: str, default: time, field: str, violations: list[FieldViolation]) -> time:
    if not value:
        return default
    try:
        return parse_hhmm(value, field=field)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
        return default


async def update_preferences(*, deps: NotificationsDeps, principal: Principal,
                             given: PreferencesInput) -> PreferencesView:
    """Replace the caller's preferences (all field errors at once); e-mail and phone sealed, answered masked."""
    tenant = require_tenant(principal)
    address = own_address(principal)
    violations: list[FieldViolation] = []
    channels: dict[Category, frozenset[Channel]] = {}
    digest: frozenset[Category] = frozenset()
    try:
        channels, digest = check_categories(given.categories)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
    quiet_start = _time(given.quiet_start, DEFAULT_QUIET_START, "quiet_start", violations)
    quiet_end = _time(given.quiet_end, DEFAULT_QUIET_END, "quiet_end", violations)
    digest_time = _time(given.digest_time, DEFAULT_DIGEST_TIME, "digest_time", violations)
    if given.quiet_enabled and given.quiet_start and given.quiet_start == given.quiet_end and not violations:
        violations.append(FieldViolation("quiet_end", "免打扰结束时间不能与开始时间相同"))
    email = phone = ""
    if given.email and not given.clear_email:
        try:
            email = validate_email(given.email, field="email")
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if given.phone and not given.clear_phone:
        try:
            phone = validate_phone(given.phone, field="phone")
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(violations)
    role, org = _seat_of(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        before = await repo.person(uow, address=address, for_update=True)
        email_enc, email_masked = (before.email_enc, before.email_masked) if before else (None, "")
        phone_enc, phone_masked = (before.phone_enc, before.phone_masked) if before else (None, "")
        if given.clear_email:
            email_enc, email_masked = None, ""
        elif email:
            email_enc = deps.cipher.encrypt(email, tenant=tenant, table=PEOPLE, column=EMAIL_BINDING, row=address)
            email_masked = mask_email(email)
        if given.clear_phone:
            phone_enc, phone_masked = None, ""
        elif phone:
            phone_enc = deps.cipher.encrypt(phone, tenant=tenant, table=PEOPLE, column=PHONE_BINDING, row=address)
            phone_masked = mask_phone(phone)
        person = PersonRow(address=address, role=role, org_id=org, display_name=before.display_name if before else "",
                           email_enc=email_enc, email_masked=email_masked, phone_enc=phone_enc,
                           phone_masked=phone_masked, quiet_enabled=given.quiet_enabled, quiet_start=quiet_start,
                           quiet_end=quiet_end, digest_time=digest_time)
        rows = [PreferenceRow(category=c.value, channels=tuple(sorted(int(ch) for ch in channels[c])),
                              digest=c in digest) for c in Category]
        await repo.save_person(uow, row=person)
        await repo.replace_preferences(uow, address=address, rows=rows)
        await record_act(uow, principal, service=SERVICE, action="preferences.update",
                         object_type="notification_preferences", object_id=address)
        await uow.commit()
    return _view(person, rows)
