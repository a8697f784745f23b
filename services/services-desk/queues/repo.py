"""Queues: repo (being built, issue 13)."""

from __future__ import annotations
