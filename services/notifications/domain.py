"""Notifications domain: rules and value types, no I/O and no framework imports."""

from __future__ import annotations
