"""Desk use cases: one function per act, keyword-only, tenant explicit."""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.kit.db import Database

SERVICE = "desk"


@dataclass(frozen=True, slots=True)
class DeskDeps:
    """What the use cases need, built once in ``server.py``."""

    db: Database
