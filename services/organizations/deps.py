"""What every use case of the service needs, built once in ``server.py`` and shared by all concepts."""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.kit.clock import Clock, utc_now
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database

SERVICE = "organizations"


@dataclass(frozen=True, slots=True)
class OrgDeps:
    """The shared pool, the field cipher and the clock."""

    db: Database
    cipher: FieldCipher
    clock: Clock = utc_now
