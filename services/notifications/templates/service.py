"""Templates' use cases: the county's version or the default, rendered in the sandbox; the department's editor."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from jinqiao.kit.auth import Principal
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import InvalidArgument
from jinqiao.kit.usecases import record_act, require_tenant
from jinqiao.notifications.channels.domain import CHANNEL_LABELS, Channel
from jinqiao.notifications.deps import SERVICE, NotificationsDeps
from jinqiao.notifications.templates import domain, repo
from jinqiao.notifications.templates.defaults import default_view
from jinqiao.notifications.templates.domain import KINDS, Rendered, TemplateView

log = logging.getLogger(__name__)
OBJECT_TYPE = "notification_template"


def parse_channel(value: int) -> Channel:
    """The channel from the wire, or InvalidArgument naming ``channel``."""
    try:
        return Channel(int(value))
    except (ValueError, TypeError):
        choices = "、".join(CHANNEL_LABELS.values())
        raise InvalidArgument.field("channel", f"请选择渠道（{choices}）") from None


def _target(kind: str, channel: int) -> tuple[domain.Kind, Channel]:
    """Both names checked together so a request with two mistakes hears of both."""
    violations = []
    found: domain.Kind | None = None
    chosen: Channel | None = None
    try:
        found = domain.kind_of(kind)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
    try:
        chosen = parse_channel(channel)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
    if violations or found is None or chosen is None:
        raise InvalidArgument(violations)
    return found, chosen


def _object_id(kind: str, channel: Channel) -> str:
    return f"{kind}/{channel.name.lower()}"


async def _in_use(uow: UnitOfWork, *, kind: str, channel: Channel) -> TemplateView:
    row = await repo.active(uow, kind=kind, channel=int(channel))
    return row.view() if row is not None else default_view(kind, channel)


async def render(uow: UnitOfWork, *, kind: str, channel: Channel, facts: Mapping[str, str]) -> Rendered:
    """CONTRACT (templates helper): the county's active version of ``kind`` × ``channel`` (else the platform's
    default) rendered with ``facts`` in the sandbox; phone numbers come out masked and an ID number never comes
    out (a fact or template that would print one is refused at save time and masked at render time). A county
    template that fails to render falls back to the default (logged by kind, not by content)."""
    found = KINDS[kind]
    channel = Channel(channel)
    row = await repo.active(uow, kind=kind, channel=int(channel))
    if row is not None:
        try:
            return domain.render(kind=found, channel=int(channel), subject=row.subject, body=row.body, facts=facts)
        except Exception:  # noqa: BLE001 - whatever a county's text does at send time, the default still goes out
            log.warning("county template failed to render, default used",
                        extra={"kind": kind, "channel": channel.name, "version": row.version})
    default = default_view(kind, channel)
    return domain.render(kind=found, channel=int(channel), subject=default.subject, body=default.body, facts=facts)


async def list_templates(*, deps: NotificationsDeps, principal: Principal) -> list[TemplateView]:
    """Every kind × channel as the county uses it (its version in use, else the default)."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        overrides = {(row.kind, row.channel): row.view() for row in await repo.all_active(uow)}
    return [overrides.get((kind, int(channel))) or default_view(kind, channel) for kind in KINDS for channel in Channel]


async def get_template(*, deps: NotificationsDeps, principal: Principal, kind: str,
                       channel: int) -> tuple[TemplateView, TemplateView, list[TemplateView]]:
    """The version in use, the platform's default and the county's versions newest first."""
    tenant = require_tenant(principal)
    found, chosen = _target(kind, channel)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        history = [row.view() for row in await repo.versions(uow, kind=found.name, channel=int(chosen))]
    default = default_view(found.name, chosen)
    in_use = next((view for view in history if view.active), default)
    return in_use, default, history


async def save_template(*, deps: NotificationsDeps, principal: Principal, kind: str, channel: int, subject: str,
                        body: str) -> TemplateView:
    """Check a new version in the sandbox and keep it as the county's version in use (older ones stay as history)."""
    tenant = require_tenant(principal)
    found, chosen = _target(kind, channel)
    domain.validate(kind=found, channel=int(chosen), subject=subject, body=body)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await repo.lock(uow, kind=found.name, channel=int(chosen))
        await repo.deactivate(uow, kind=found.name, channel=int(chosen))
        row = await repo.insert_next(uow, kind=found.name, channel=int(chosen), subject=subject, body=body,
                                     created_by=principal.user)
        await record_act(uow, principal, service=SERVICE, action="template.save", object_type=OBJECT_TYPE,
                         object_id=_object_id(found.name, chosen))
        await uow.commit()
    return row.view()


async def reset_template(*, deps: NotificationsDeps, principal: Principal, kind: str, channel: int) -> TemplateView:
    """Go back to the platform's default: the county's versions leave use and stay in the history."""
    tenant = require_tenant(principal)
    found, chosen = _target(kind, channel)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await repo.lock(uow, kind=found.name, channel=int(chosen))
        await repo.deactivate(uow, kind=found.name, channel=int(chosen))
        await record_act(uow, principal, service=SERVICE, action="template.reset", object_type=OBJECT_TYPE,
                         object_id=_object_id(found.name, chosen))
        await uow.commit()
    return default_view(found.name, chosen)


async def preview_template(*, deps: NotificationsDeps, principal: Principal, kind: str, channel: int, subject: str,
                           body: str) -> Rendered:
    """A draft (or, with subject and body empty, the version in use) rendered with the kind's sample facts."""
    tenant = require_tenant(principal)
    found, chosen = _target(kind, channel)
    if not subject.strip() and not body.strip():
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            return await render(uow, kind=found.name, channel=chosen, facts=found.sample)
    checked_subject, checked_body = domain.validate(kind=found, channel=int(chosen), subject=subject, body=body)
    return domain.render(kind=found, channel=int(chosen), subject=checked_subject, body=checked_body,
                         facts=found.sample)
