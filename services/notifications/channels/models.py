"""Channels' persistence model: a row of ``channel_settings`` and its sealed secrets' declaration for the rotation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn
from jinqiao.notifications.channels.domain import Channel

CHANNEL_SETTINGS = "channel_settings"
# The secrets (one JSON object) are sealed bound to (tenant, "channel_settings", "secrets_enc", str(channel)).
SECRETS_BINDING = "secrets_enc"
ENCRYPTED_COLUMNS = (EncryptedColumn(table=CHANNEL_SETTINGS, column="secrets_enc", bound_as=SECRETS_BINDING,
                                     key=("channel",), row="{channel}"),)
COLUMNS = "channel, enabled, settings::text AS settings, secrets_enc, rate_per_minute, updated_at, updated_by"


@dataclass(frozen=True, slots=True)
class ChannelSettingRow:
    """One county's settings of one channel; the secrets still sealed."""

    channel: Channel
    enabled: bool
    settings: dict[str, str]
    secrets_enc: bytes | None
    rate_per_minute: int
    updated_at: datetime | None
    updated_by: str

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> ChannelSettingRow:
        """Map the columns (``settings`` read as JSON text)."""
        raw: Any = json.loads(record["settings"] or "{}")
        settings = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        blob = record["secrets_enc"]
        return cls(channel=Channel(record["channel"]), enabled=bool(record["enabled"]), settings=settings,
                   secrets_enc=bytes(blob) if blob is not None else None,
                   rate_per_minute=int(record["rate_per_minute"]), updated_at=record["updated_at"],
                   updated_by=record["updated_by"])
