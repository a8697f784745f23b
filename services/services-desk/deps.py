"""What every use case of the desk needs, built once in ``server.py`` and shared by all concepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinqiao.kit.clock import Clock, utc_now
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database

# The service name events and audit rows carry.
SERVICE = "desk"


@dataclass(frozen=True, slots=True)
class DeskDeps:
    """The shared pool, the field cipher (attachments), the clock, and the calendar service's cache."""

    db: Database
    cipher: FieldCipher
    clock: Clock = utc_now
    # Owned by calendar/service.py: each county's working-day calendar, kept until the calendar data changes.
    calendars: dict[Any, Any] = field(default_factory=dict)
