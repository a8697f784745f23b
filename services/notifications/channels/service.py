"""Channels' use cases: a county's settings (secrets sealed) and the adapter of each channel."""

from __future__ import annotations

import json
import uuid
from typing import Any

from jinqiao.kit.auth import Principal
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition
from jinqiao.kit.pii import validate_phone
from jinqiao.kit.usecases import record_act, require_tenant
from jinqiao.notifications.channels import repo
from jinqiao.notifications.channels.adapters import EmailAdapter, InAppAdapter, SmsAdapter, WebhookAdapter
from jinqiao.notifications.channels.domain import (
    CHANNEL_LABELS,
    CONFIGURABLE,
    DEFAULT_RATE,
    TEST_BODY,
    TEST_SUBJECT,
    Adapter,
    Channel,
    ChannelConfig,
    Outbound,
    SendResult,
    SettingView,
    configurable,
    draft_setting,
    shown_settings,
    validate_email,
)
from jinqiao.notifications.channels.models import CHANNEL_SETTINGS, SECRETS_BINDING, ChannelSettingRow
from jinqiao.notifications.deps import SERVICE, NotificationsDeps
from jinqiao.notifications.preferences.domain import Category

_ADAPTERS: dict[Channel, type[Any]] = {Channel.IN_APP: InAppAdapter, Channel.EMAIL: EmailAdapter,
                                       Channel.SMS: SmsAdapter, Channel.WEBHOOK: WebhookAdapter}


def _open_secrets(deps: NotificationsDeps, *, tenant: str, row: ChannelSettingRow) -> dict[str, str]:
    """The row's secrets opened (in memory only)."""
    if row.secrets_enc is None:
        return {}
    text = deps.cipher.decrypt(row.secrets_enc, tenant=tenant, table=CHANNEL_SETTINGS, column=SECRETS_BINDING,
                               row=str(int(row.channel)))
    opened: Any = json.loads(text)
    return {str(k): str(v) for k, v in opened.items()} if isinstance(opened, dict) else {}


def _seal_secrets(deps: NotificationsDeps, *, tenant: str, channel: Channel, secrets: dict[str, str]) -> bytes | None:
    """The secrets as one sealed JSON object bound to the county's row of ``channel`` (None when there are none)."""
    if not secrets:
        return None
    return deps.cipher.encrypt(json.dumps(secrets, ensure_ascii=False, sort_keys=True), tenant=tenant,
                               table=CHANNEL_SETTINGS, column=SECRETS_BINDING, row=str(int(channel)))


def _view(deps: NotificationsDeps, *, tenant: str, channel: Channel, row: ChannelSettingRow | None) -> SettingView:
    """What a response shows of one channel (an unset one with its defaults, disabled)."""
    if row is None:
        return SettingView(channel=channel, enabled=False, settings=shown_settings(channel, {}, {}),
                           rate_per_minute=DEFAULT_RATE)
    secrets = _open_secrets(deps, tenant=tenant, row=row)
    return SettingView(channel=channel, enabled=row.enabled, settings=shown_settings(channel, row.settings, secrets),
                       rate_per_minute=row.rate_per_minute, updated_at=row.updated_at, updated_by=row.updated_by)


async def config_for(uow: UnitOfWork, *, deps: NotificationsDeps, channel: Channel) -> ChannelConfig | None:
    """CONTRACT (channels helper): the county's settings of ``channel``, secrets opened, or None when unset (the
    in-app channel needs none: it answers an enabled config with no settings)."""
    if channel is Channel.IN_APP:
        return ChannelConfig(channel=Channel.IN_APP, enabled=True)
    row = await repo.get(uow, channel=channel)
    if row is None:
        return None
    return ChannelConfig(channel=channel, enabled=row.enabled, settings=dict(row.settings),
                         secrets=_open_secrets(deps, tenant=uow.tenant, row=row),
                         rate_per_minute=row.rate_per_minute)


def adapter_for(*, deps: NotificationsDeps, channel: Channel) -> Adapter:
    """CONTRACT (channels helper): the adapter of ``channel`` (built once, kept in ``deps.adapters``)."""
    adapter: Adapter | None = deps.adapters.get(channel)
    if adapter is None:
        adapter = _ADAPTERS[Channel(channel)]()
        deps.adapters[channel] = adapter
    return adapter


async def close_adapters(*, deps: NotificationsDeps) -> None:
    """Close what the kept adapters hold open (the SMS gateway's HTTP client); for the process's shutdown."""
    for adapter in list(deps.adapters.values()):
        closer = getattr(adapter, "aclose", None)
        if closer is not None:
            await closer()


async def list_settings(*, deps: NotificationsDeps, principal: Principal) -> list[SettingView]:
    """Every configurable channel of the caller's county, unset ones with their defaults; secrets never shown."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        rows = {row.channel: row for row in await repo.list_all(uow)}
    return [_view(deps, tenant=tenant, channel=channel, row=rows.get(channel)) for channel in CONFIGURABLE]


async def update_setting(*, deps: NotificationsDeps, principal: Principal, channel: int, enabled: bool,
                         settings: dict[str, str], rate_per_minute: int) -> SettingView:
    """Set one channel's settings (checked per channel; a secret left empty keeps the stored one); audited."""
    tenant = require_tenant(principal)
    which = configurable(channel)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        stored = await repo.get(uow, channel=which)
        stored_secrets = _open_secrets(deps, tenant=tenant, row=stored) if stored is not None else {}
        draft = draft_setting(channel=which, enabled=enabled, given=settings, rate_per_minute=rate_per_minute,
                              stored_secrets=stored_secrets, categories=[c.value for c in Category])
        row = await repo.upsert(
            uow, channel=which, enabled=draft.enabled, settings=draft.settings,
            secrets_enc=_seal_secrets(deps, tenant=tenant, channel=which, secrets=draft.secrets),
            rate_per_minute=draft.rate_per_minute, updated_at=deps.clock(), updated_by=principal.user)
        # The reason names what changed by key only: never a value (a secret, a sender's address).
        await record_act(uow, principal, service=SERVICE, action="channel.update", object_type="channel_setting",
                         object_id=which.name.lower(),
                         reason=f"{'启用' if draft.enabled else '停用'}{CHANNEL_LABELS[which]}；设置项："
                                + "、".join(sorted({*draft.settings, *draft.secrets})))
        await uow.commit()
    return _view(deps, tenant=tenant, channel=which, row=row)


async def send_test(*, deps: NotificationsDeps, principal: Principal, channel: int, to: str) -> SendResult:
    """Send one test message now on ``channel`` (to ``to``, or the configured robot); no delivery row; audited."""
    tenant = require_tenant(principal)
    which = configurable(channel)
    if which is Channel.EMAIL:
        address = validate_email(to, field="to")
    elif which is Channel.SMS:
        address = validate_phone(to, field="to")
    else:
        address = ""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        config = await config_for(uow, deps=deps, channel=which)
    if config is None:
        raise FailedPrecondition(f"尚未设置{CHANNEL_LABELS[which]}，请先保存设置再测试")
    label = CHANNEL_LABELS[which]
    message = Outbound(channel=which, to=address, subject=TEST_SUBJECT, body=TEST_BODY.format(label=label),
                       tenant=tenant, idempotency_key=f"test:{uuid.uuid4()}")
    # Sent outside any transaction: the far side may take seconds.
    result = await adapter_for(deps=deps, channel=which).send(message, config)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await record_act(uow, principal, service=SERVICE, action="channel.test", object_type="channel_setting",
                         object_id=which.name.lower(), reason=f"测试{label}：{result.outcome.value}")
        await uow.commit()
    return result
