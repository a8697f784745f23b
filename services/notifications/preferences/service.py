"""Preferences' use cases: a person's choices and contacts, and the logins registered at an office."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.preferences.domain import Choices, Contact


async def choices_for(uow: UnitOfWork, *, address: str) -> Choices:
    """CONTRACT (preferences helper): the person's choices (``member:…`` or ``user:…``), defaults when none."""
    raise NotImplementedError


async def contact_for(uow: UnitOfWork, *, address: str) -> Contact | None:
    """CONTRACT (preferences helper): the person's own addresses (sealed and masked), or None when they gave none."""
    raise NotImplementedError


async def seat_users(uow: UnitOfWork, *, role: str, org: str) -> list[str]:
    """CONTRACT (preferences helper): the logins (``user:…`` addresses) that saved preferences while sitting at
    the office ``seat:<role>:<org>``: the e-mail and SMS of a seat's notice go to them (and to its officers)."""
    raise NotImplementedError
