"""Channels' SQL (RLS scopes it to one county)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.channels.models import COLUMNS, ChannelSettingRow


async def get(uow: UnitOfWork, *, channel: Channel) -> ChannelSettingRow | None:
    """The county's settings of one channel, or None when never set."""
    record = await uow.conn.fetchrow(
        f"SELECT {COLUMNS} FROM channel_settings WHERE tenant_id = $1 AND channel = $2", uow.tenant, int(channel))
    return ChannelSettingRow.from_record(record) if record is not None else None


async def list_all(uow: UnitOfWork) -> list[ChannelSettingRow]:
    """Every channel the county has set."""
    rows = await uow.conn.fetch(
        f"SELECT {COLUMNS} FROM channel_settings WHERE tenant_id = $1 ORDER BY channel", uow.tenant)
    return [ChannelSettingRow.from_record(r) for r in rows]


async def upsert(uow: UnitOfWork, *, channel: Channel, enabled: bool, settings: Mapping[str, str],
                 secrets_enc: bytes | None, rate_per_minute: int, updated_at: datetime,
                 updated_by: str) -> ChannelSettingRow:
    """Write one channel's settings (the row replaced as a whole) and answer it."""
    record = await uow.conn.fetchrow(
        "INSERT INTO channel_settings (tenant_id, channel, enabled, settings, secrets_enc, rate_per_minute,"
        " updated_at, updated_by) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)"
        " ON CONFLICT (tenant_id, channel) DO UPDATE SET enabled = EXCLUDED.enabled, settings = EXCLUDED.settings,"
        " secrets_enc = EXCLUDED.secrets_enc, rate_per_minute = EXCLUDED.rate_per_minute,"
        f" updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by RETURNING {COLUMNS}",
        uow.tenant, int(channel), enabled, json.dumps(dict(settings), ensure_ascii=False, sort_keys=True),
        secrets_enc, rate_per_minute, updated_at, updated_by)
    return ChannelSettingRow.from_record(record)
