"""The directory's use cases: whom a notice reaches, walking up the org tree when an org has nobody."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.directory.domain import Audience, MemberEntry, OrgEntry, Recipient


async def resolve(uow: UnitOfWork, *, org_id: str | None, audience: Audience) -> tuple[Recipient, int]:
    """CONTRACT (directory helper): the office for ``audience`` at ``org_id`` or, when that org has nobody in the
    audience's positions, at the nearest org above that has; the county department's seat when nothing below it
    has anybody (or ``org_id`` is None/unknown). Returns the recipient and how many steps up it walked (0: the org
    itself). Runs in the org's county (``uow``)."""
    raise NotImplementedError


async def resolve_above(uow: UnitOfWork, *, org_id: str | None) -> tuple[Recipient, str | None]:
    """CONTRACT (directory helper): the next office above the org a notice reached last (its parent's office with
    somebody in it, or the county's seat), and the org id it sits at (None for the county department: the top)."""
    raise NotImplementedError


async def member(uow: UnitOfWork, *, member_id: str) -> MemberEntry | None:
    """CONTRACT (directory helper): the county's own member (name, home branch, township), or None."""
    raise NotImplementedError


async def org(uow: UnitOfWork, *, org_id: str) -> OrgEntry | None:
    """CONTRACT (directory helper): an org of the county, or None."""
    raise NotImplementedError


async def attendees(uow: UnitOfWork, *, org_id: str) -> list[Recipient]:
    """CONTRACT (directory helper): who a meeting of the org concerns: the county's own members whose home branch is
    the org, and the guests (temporary memberships offered or checked in at the org, any county): each a member
    recipient in the member's HOME county (``Recipient.tenant``)."""
    raise NotImplementedError
