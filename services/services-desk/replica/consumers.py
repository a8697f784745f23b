"""Replica: event subscriptions (being built, issue 13)."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps
from jinqiao.kit.process import ServiceContext


def subscribe(ctx: ServiceContext, deps: DeskDeps) -> None:
    """Register the durable consumers."""
