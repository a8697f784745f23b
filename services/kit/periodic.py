"""A platform timer's loop, written once: run a sweep every few seconds until cancelled, surviving its failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("jinqiao.timers")


async def every(interval: float, sweep: Callable[[], Awaitable[object]], *, name: str,
                wait_first: bool = False) -> None:
    """Run ``sweep`` every ``interval`` seconds until cancelled (``wait_first``: the first run after one interval).

    A failed sweep (the database restarting, the broker away) is logged by its type only — an exception's text may
    quote a row — and tried again at the next interval; each sweep is idempotent, so nothing is lost or doubled."""
    if wait_first:
        await asyncio.sleep(interval)
    while True:
        try:
            await sweep()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s sweep failed: %s", name, type(exc).__name__)
        await asyncio.sleep(interval)
