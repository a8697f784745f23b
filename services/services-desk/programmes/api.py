"""Programmes' RPCs (thin: parse, call the use case, map the answer)."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps


class ProgrammesApi:
    """CreateLoanProgramme, UpdateLoanProgramme, GetLoanProgramme, ListLoanProgrammes."""

    _deps: DeskDeps
