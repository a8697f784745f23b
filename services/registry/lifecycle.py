"""The kinds of record the registry keeps for a period (kit/lifecycle.py): closed flows."""

from __future__ import annotations

from jinqiao.kit.lifecycle import RecordKind

# A flow returned (5) or transferred (6) is closed; its alerts and alert cases go with it. The member's record, its
# returnee row and the aggregates elsewhere are kept.
FLOWS_CLOSED = RecordKind(
    kind="flows_closed", table="flows", at="t.closed_on", on_date=True, eligible="t.status IN (5, 6)",
    children=(("flow_alerts", "flow_id"), ("alert_cases", "flow_id")), index="closed_on",
)

KINDS = (FLOWS_CLOSED,)
