"""Working-day calendar: which days are working days in a county, and arithmetic in working minutes.

No I/O here. A year's arrangement (statutory holidays and make-up working days, 调休) comes from data: the kept
library where it knows the year, the province's entry where it does not, the county's own overrides on top.
Working time is counted in Asia/Shanghai within the working hours of a working day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """A county's working days over the years it knows, and its working hours.

    CONTRACT (issue 13, used by sla/ and tickets/): the methods below; every datetime argument is aware (any zone),
    every returned datetime is aware UTC.
    """

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a Beijing date) is a working day."""
        raise NotImplementedError

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` working minutes after ``start`` (from the next working moment if outside hours)."""
        raise NotImplementedError

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Working minutes from ``start`` to ``end`` (0 if ``end`` is not after ``start``)."""
        raise NotImplementedError

    def end_of_working_day(self, at: datetime) -> datetime:
        """The end of the working day ``at`` falls on, or of the next working day when ``at`` is after hours."""
        raise NotImplementedError
