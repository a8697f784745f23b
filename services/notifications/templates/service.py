"""Templates' use cases: the county's version or the default, rendered in the sandbox."""

from __future__ import annotations

from collections.abc import Mapping

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.templates.domain import Rendered


async def render(uow: UnitOfWork, *, kind: str, channel: Channel, facts: Mapping[str, str]) -> Rendered:
    """CONTRACT (templates helper): the county's active version of ``kind`` × ``channel`` (else the platform's
    default) rendered with ``facts`` in the sandbox; phone numbers come out masked and an ID number never comes
    out (a fact or template that would print one is refused at save time and masked at render time). A county
    template that fails to render falls back to the default (logged by kind, not by content)."""
    raise NotImplementedError
