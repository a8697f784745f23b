"""The desk's sla concept."""
