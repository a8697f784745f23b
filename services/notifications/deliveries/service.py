"""Deliveries' use cases: turning a notice into deliveries, the worker that sends them, the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.deliveries.domain import Notice
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory.domain import Recipient


async def notify(uow: UnitOfWork, *, deps: NotificationsDeps, notice: Notice, recipients: Sequence[Recipient],
                 now: datetime) -> int:
    """CONTRACT (deliveries helper): for each recipient (all in ``uow``'s county) and channel, one delivery row with
    idempotency key source × recipient × channel (a repeat inserts nothing). The inbox row is DELIVERED at once;
    e-mail/SMS go to the person's own contact (a member; a login) or, for a seat, to its registered logins and its
    officers' phones (SMS), each its own recipient row; the webhook to the county's robot once per notice. The
    person's choices apply (a channel turned off: SKIPPED row, kept for the log), quiet hours hold non-urgent
    ones until the window ends, digest categories wait for the daily digest. Rendered with templates.render.
    Returns how many rows were inserted."""
    raise NotImplementedError


async def send_due_all_tenants(*, deps: NotificationsDeps, now: datetime | None = None) -> int:
    """CONTRACT (deliveries helper): one worker pass over every county with deliveries due: send, record the outcome
    (SENT/DELIVERED; RETRY → back-off or FAILED after MAX_ATTEMPTS; BOUNCED), honour each channel's rate; also
    sends the daily digests that are due. Returns how many were tried."""
    raise NotImplementedError
