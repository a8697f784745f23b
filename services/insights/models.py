"""Insights persistence model: the per-county member counter."""

from __future__ import annotations

import asyncpg

from jinqiao.insights.domain import CountyCount

MEMBER_COUNTS = "member_counts"


def county_count_from_record(record: asyncpg.Record) -> CountyCount:
    """Map a ``member_counts`` row."""
    return CountyCount(tenant_id=record["tenant_id"], members=record["members"], updated_at=record["updated_at"])
