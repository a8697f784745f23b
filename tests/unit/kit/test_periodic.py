"""The platform timers' loop: a failing sweep is logged by its type and tried again; cancelling stops it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from jinqiao.kit import periodic


async def test_a_failed_sweep_is_logged_by_type_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    done = asyncio.Event()

    async def sweep() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("行内容 13800001234")  # what an exception might quote: never logged
        if len(runs) == 3:
            done.set()

    with caplog.at_level(logging.WARNING, logger="jinqiao.timers"):
        task = asyncio.create_task(periodic.every(0.001, sweep, name="test"))
        await asyncio.wait_for(done.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(runs) >= 3
    assert [r.getMessage() for r in caplog.records] == ["test sweep failed: RuntimeError"]


async def test_waiting_first_runs_nothing_before_the_interval() -> None:
    runs: list[int] = []

    async def sweep() -> None:
        runs.append(1)

    task = asyncio.create_task(periodic.every(60, sweep, name="test", wait_first=True))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == []
