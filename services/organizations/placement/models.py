"""Placement's persistence model: a candidate organisation row and its mapping (the rule order is plain rows)."""

from __future__ import annotations

import asyncpg

from jinqiao.organizations.orgs.models import org_from_record
from jinqiao.organizations.placement.domain import Candidate


def candidate_from_record(record: asyncpg.Record) -> Candidate:
    """Map an organisation row selected with ORG_COLUMNS plus ``station_child``."""
    return Candidate(org=org_from_record(record), employer=record["employer"], coverage=tuple(record["coverage"]),
                     station_child=record["station_child"])
