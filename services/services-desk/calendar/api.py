"""Calendar' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps


class CalendarApi:
    """Calendar' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps
