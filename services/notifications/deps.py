"""What every use case of notifications needs, built once in ``server.py`` and shared by all concepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from jinqiao.kit.clock import Clock, utc_now
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database

# The service name audit rows carry.
SERVICE = "notifications"


@dataclass(frozen=True, slots=True)
class NotificationsDeps:
    """The shared pool, the field cipher (contacts, channel secrets, officers' phones), the clock and the knobs."""

    db: Database
    cipher: FieldCipher
    clock: Clock = utc_now
    # How long an escalation waits for an acknowledgement before it climbs one org up the tree.
    escalate_after: timedelta = timedelta(hours=24)
    # The delivery worker's batch per county and sweep.
    batch: int = 200
    # Owned by channels/service.py: adapters built once (the webhook's HTTP client, SMTP settings cache…).
    adapters: dict[Any, Any] = field(default_factory=dict)
