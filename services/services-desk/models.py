"""Desk persistence model: table names and row mapping (migrations create the tables)."""

from __future__ import annotations
