"""The runner's supervision with fakes: the back-off schedule, and a child's states from crash to failed."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from jinqiao.kit.runtime.processes import Backoff, Supervised, alive


def test_backoff_doubles_to_its_cap_then_fails_over_to_the_long_schedule():
    backoff = Backoff(base=0.5, cap=4.0, failed_base=60.0, failed_cap=300.0)
    quick = [backoff.delay(quick_exits=n, failed_rounds=0, rand=0.5) for n in range(1, 7)]
    assert quick == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    failed = [backoff.delay(quick_exits=5, failed_rounds=n, rand=0.5) for n in range(1, 6)]
    assert failed == [60.0, 120.0, 240.0, 300.0, 300.0]


def test_backoff_is_jittered_within_its_bounds():
    backoff = Backoff(base=10.0, jitter=0.2)
    assert backoff.delay(quick_exits=1, failed_rounds=0, rand=0.0) == pytest.approx(8.0)
    assert backoff.delay(quick_exits=1, failed_rounds=0, rand=0.999999) == pytest.approx(12.0, abs=1e-4)


class FakeHandle:
    """A child that exits when told (pid 0: never signalled)."""

    pid = 0

    def __init__(self) -> None:
        self.exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def wait(self) -> int:
        return await self.exit


class Harness:
    """A Supervised child over fakes: a clock the test moves, sleeps recorded, launches counted."""

    def __init__(self, backoff: Backoff, *, ready: bool = True) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.handles: list[FakeHandle] = []
        self.states: list[str] = []
        self.ready_answer = ready
        self.long_wait = asyncio.get_running_loop().create_future()
        self.child = Supervised(name="insights", launch=self.launch, log_path="/tmp/insights.log", backoff=backoff,
                                ready=self.ready, on_change=lambda: self.states.append(self.child.state),
                                clock=lambda: self.now, wall=lambda: self.now, sleep=self.sleep, rand=lambda: 0.5)

    async def launch(self) -> FakeHandle:
        self.handles.append(FakeHandle())
        return self.handles[-1]

    async def ready(self) -> bool:
        return self.ready_answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds >= 60:  # the long back-off of a failed child: the test looks at the state here
            await self.long_wait

    async def crash(self, code: int, *, after: float = 1.0) -> None:
        """The current child exits ``after`` seconds of running; let the supervisor react."""
        self.now += after
        self.handles[-1].exit.set_result(code)
        for _ in range(20):
            await asyncio.sleep(0)


async def test_a_flapping_child_is_marked_failed_and_retried_on_the_long_schedule():
    harness = Harness(Backoff(base=0.5, cap=30, flap_limit=5, failed_base=60, jitter=0.2))
    await harness.child.start()
    assert harness.child.state == "running" and harness.states == ["starting", "running"]
    loop = asyncio.create_task(harness.child.supervise())
    try:
        for _ in range(4):
            await harness.crash(3)
        assert harness.sleeps == [0.5, 1.0, 2.0, 4.0]
        assert harness.child.state == "running" and harness.child.restarts == 4
        await harness.crash(3)
        assert harness.child.state == "failed" and harness.child.view()["pid"] is None
        assert harness.child.last_exit == 3 and harness.sleeps[-1] == 60.0
        assert harness.child.view()["retry_at"] == harness.now + 60.0
        assert harness.child.view()["log"] == "/tmp/insights.log"
        # The long back-off ends: it is tried again, and a further quick crash doubles the wait.
        harness.long_wait.set_result(None)
        harness.long_wait = asyncio.get_running_loop().create_future()
        for _ in range(20):
            await asyncio.sleep(0)
        assert harness.child.state == "running" and harness.child.restarts == 5
        await harness.crash(1)
        assert harness.child.state == "failed" and harness.sleeps[-1] == 120.0
    finally:
        loop.cancel()


async def test_a_stable_run_forgives_earlier_crashes():
    harness = Harness(Backoff(base=0.5, stable_after=30, flap_limit=3))
    await harness.child.start()
    loop = asyncio.create_task(harness.child.supervise())
    try:
        await harness.crash(1)
        await harness.crash(1)
        assert harness.sleeps == [0.5, 1.0]
        await harness.crash(1, after=45)  # ran long enough: a fresh start of the schedule, not a third strike
        assert harness.sleeps[-1] == 0.5 and harness.child.state == "running"
        assert "failed" not in harness.states
    finally:
        loop.cancel()


async def test_a_restart_that_never_gets_ready_counts_as_a_quick_exit():
    harness = Harness(Backoff(base=0.5, flap_limit=5))
    await harness.child.start()
    harness.ready_answer = False
    loop = asyncio.create_task(harness.child.supervise())
    try:
        await harness.crash(9)
        # Not ready: no "running"; the loop waits on the (stopped) handle, which the fake now ends.
        assert harness.states[-1] == "restarting"
        await harness.crash(0)
        assert harness.sleeps == [0.5, 1.0] and harness.child.last_exit == 0
    finally:
        loop.cancel()


async def test_terminate_stops_the_whole_group_and_supervision_with_it():
    async def launch() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)",
                                                    start_new_session=True)

    child = Supervised(name="sleeper", launch=launch, log_path="/dev/null", stop_signal=signal.SIGTERM)
    await child.start()
    pid = child.pid
    assert pid is not None and alive(pid)
    loop = asyncio.create_task(child.supervise())
    await child.terminate(grace=5)
    await asyncio.wait_for(loop, timeout=10)  # the loop ends on its own: no restart after a stop
    assert child.state == "stopped" and not alive(pid) and child.restarts == 0
