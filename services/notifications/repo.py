"""Notifications repository: SQL inside the caller's unit of work."""

from __future__ import annotations
