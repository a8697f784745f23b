"""Notebook persistence model: the ``activities`` and ``evaluations`` rows and how they map to the domain."""

from __future__ import annotations

import asyncpg

from jinqiao.registry.notebook.domain import Activity, Evaluation


def activity_from_record(r: asyncpg.Record) -> Activity:
    """One row of ``activities`` as a notebook entry."""
    return Activity(id=r["id"], occurred_on=r["occurred_on"], title=r["title"], note=r["note"],
                    org_name=r["org_name"], source=r["source"], verified=r["verified"])


def evaluation_from_record(r: asyncpg.Record) -> Evaluation:
    """One row of ``evaluations``: both sides of a year (the merged grade is computed, not stored)."""
    return Evaluation(member_id=str(r["member_id"]), year=r["year"], destination_grade=r["destination_grade"],
                      destination_comment=r["destination_comment"], destination_org_name=r["destination_org_name"],
                      home_grade=r["home_grade"], home_comment=r["home_comment"])
