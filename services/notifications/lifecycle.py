"""The kinds of record notifications keeps for a period (kit/lifecycle.py): deliveries no longer queued."""

from __future__ import annotations

from jinqiao.kit.lifecycle import RecordKind

# Every delivery but a queued one (1: still to be sent), counted from created_at; inbox marks cascade.
NOTIFICATIONS = RecordKind(
    kind="notifications", table="deliveries", at="t.created_at", eligible="t.status <> 1", index="created_at",
)

KINDS = (NOTIFICATIONS,)
