"""What the registry's use cases need, built once in ``server.py`` and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from jinqiao.kit.clock import Clock, utc_now
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database

# The service name events and audit rows carry.
SERVICE = "registry"


@dataclass(frozen=True, slots=True)
class RegistryDeps:
    """The pool, the PII cipher and blind index, and the clock."""

    db: Database
    cipher: FieldCipher
    blind_index: BlindIndex
    clock: Clock = field(default=utc_now)
