"""The time use cases read, injectable so tests can move it past a policy timer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: now, in UTC."""
    return datetime.now(UTC)


# China observes one time zone (UTC+8, no daylight saving): a county's "today" is this date, not the UTC one,
# which runs eight hours behind every morning.
CHINA = timezone(timedelta(hours=8), "CST")


def china_date(now: datetime) -> date:
    """The calendar date in China of an aware instant."""
    return now.astimezone(CHINA).date()
