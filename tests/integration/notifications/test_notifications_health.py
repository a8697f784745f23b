"""Notifications starts on the session's PostgreSQL and NATS: healthy, reflected."""

from __future__ import annotations

from jinqiao.kit import catalog
from tests.integration.conftest import serves_health_and_reflection


async def test_notifications_serves_health_and_reflection(settings_for):
    assert await serves_health_and_reflection(catalog.get("notifications"), settings_for("notifications"))
