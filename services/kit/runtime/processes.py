"""The runner's children: stopping them by pid and process group, tying them to the runner's life, finding
strays, and ``Supervised``, which reaps and restarts one child with back-off."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import psutil

# Restart jitter from a generator of its own: the global `random` state stays the caller's.
_JITTER = random.Random()  # noqa: S311


def stop_pid(pid: int, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Signal one process and wait for it to go, killing it if it will not; False when it survived even that.

    Gone includes a zombie: a process that is not our child is reaped by its own parent, not by us.
    """
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    if wait_until(lambda: not alive(pid), timeout=timeout):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return wait_until(lambda: not alive(pid), timeout=5)


def stop_popen(proc: subprocess.Popen[bytes] | subprocess.Popen[str], *, sig: int = signal.SIGTERM,
               timeout: float = 10.0) -> int | None:
    """Stop a child we started and reap it; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=5)


def alive(pid: int | None) -> bool:
    """True when the pid names a running, non-zombie process."""
    if not pid:
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_until(check: Callable[[], object], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll a callable until it returns true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


# ------------------------------------------------------------------------------------------------ children's lives

# Run by a fresh interpreter between the spawn and the child's own program. The runner never runs code of its own in
# a forked child: with gRPC's threads live, a fork() (a ``preexec_fn``, or ``user=`` which rules out vfork) hands the
# child gRPC's fork handlers and half-held locks, and one child in four crashed before its exec.
_ORPHAN_SHIM = """
import ctypes, os, pwd, sys
sig, parent, user = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if user:
    entry = pwd.getpwnam(user)
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
# After the change of user, which clears the parent-death signal.
ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)
# The runner may have died before prctl: then nobody would ever send the signal.
if os.getppid() != parent:
    os._exit(1)
os.execv(sys.argv[4], sys.argv[4:])
"""


def orphan_proof(argv: Sequence[str], *, sig: int = signal.SIGTERM, user: str | None = None) -> list[str]:
    """``argv`` behind a shim asking Linux to send ``sig`` to the child when the runner dies, even by SIGKILL.

    The shim is a fresh interpreter (isolated, no site), so the spawn itself stays a vfork with no Python in the
    child; it also becomes ``user`` first when one is named, which a root runner does for PostgreSQL. Call it on the
    thread that spawns: Linux sends the signal when the forking *thread* ends, and a child started from a worker
    thread would die with that thread.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        sig = 0  # prctl's "no signal"
    return [_base_python(), "-I", "-S", "-c", _ORPHAN_SHIM, str(int(sig)), str(os.getpid()), user or "", *argv]


def _base_python() -> str:
    """The interpreter itself, not the venv's launcher: the shim needs only the standard library."""
    return os.path.realpath(sys.executable)


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def kill_group(pgid: int, *, sig: int = signal.SIGKILL, timeout: float = 10.0) -> bool:
    """Signal a whole process group and wait until none of it lives; False when some remain."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return True
    except PermissionError:
        return not group_members(pgid)
    return wait_until(lambda: not group_members(pgid), timeout=timeout)


def stop_group(pgid: int, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """A polite signal to a process group, then SIGKILL to whatever is left; False when something survived."""
    if kill_group(pgid, sig=sig, timeout=timeout):
        return True
    return kill_group(pgid, sig=signal.SIGKILL, timeout=5)


def port_holder(port: int) -> psutil.Process | None:
    """The process listening on a TCP port, when the system lets us see it."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            try:
                return psutil.Process(conn.pid)
            except psutil.NoSuchProcess:
                return None
    return None


# The variable the runner sets in every service's environment: its data directory, so `down` can find strays.
SUPERVISED_BY = "JINQIAO_SUPERVISED_BY"


def marked_by(process: psutil.Process, *, data_dir: str, arguments: set[str]) -> bool:
    """True when a process belongs to the platform of ``data_dir``: an exact argument (PostgreSQL's data, NATS's
    config) or the runner's mark in its environment. Exact, so an editor or ``tail`` of a log is never taken."""
    try:
        if arguments & set(process.cmdline()):
            return True
        return bool(process.environ().get(SUPERVISED_BY) == data_dir)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def leftovers(*, data_dir: str, arguments: set[str], pids: list[int]) -> list[psutil.Process]:
    """Live processes of this data directory: the recorded pids, their process groups, and any marked process."""
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        if alive(pid):
            found[pid] = psutil.Process(pid)
        for member in group_members(pid):
            found[member.pid] = member
    for process in psutil.process_iter(["pid"]):
        if process.pid not in found and marked_by(process, data_dir=data_dir, arguments=arguments):
            found[process.pid] = process
    # Never this command or the shell that runs it.
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    return [p for pid, p in sorted(found.items()) if pid not in mine and alive(pid)]


# ------------------------------------------------------------------------------------------------ supervision


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to restart: doubling from ``base`` to ``cap``; after ``flap_limit`` quick exits in a row the child is
    failed and retried after ``failed_base`` doubling to ``failed_cap``; every delay jittered by ±``jitter``."""

    base: float = 0.5
    cap: float = 30.0
    jitter: float = 0.2
    stable_after: float = 30.0
    flap_limit: int = 5
    failed_base: float = 60.0
    failed_cap: float = 300.0

    def delay(self, *, quick_exits: int, failed_rounds: int, rand: float) -> float:
        """The wait before the next start; ``rand`` in [0, 1) spreads restarts that would otherwise align."""
        if failed_rounds:
            raw = min(self.failed_base * 2.0 ** (failed_rounds - 1), self.failed_cap)
        else:
            raw = min(self.base * 2.0 ** max(quick_exits - 1, 0), self.cap)
        return raw * (1 - self.jitter + 2 * self.jitter * rand)


class Handle(Protocol):
    """A started child: its pid, and a coroutine that reaps it and returns its exit code."""

    pid: int

    async def wait(self) -> int: ...


class PopenHandle:
    """A ``subprocess.Popen`` child reaped by polling (cancellable, and no thread per child)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pid = proc.pid

    async def wait(self) -> int:
        """Poll until the child exits; ``poll`` reaps it, so no zombie keeps its pid."""
        while (code := self.proc.poll()) is None:  # noqa: ASYNC110 - nothing to wait on but the pid itself
            await asyncio.sleep(0.25)
        return code


State = Literal["starting", "running", "restarting", "failed", "stopped"]


class Supervised:
    """One child of the runner: started, reaped when it exits, restarted with back-off, marked failed when it flaps.

    ``launch`` starts the process and returns its handle; ``ready`` (optional) waits until it serves (a restart that
    never gets ready is stopped and counts as a quick exit); ``on_change`` is told every state change (run.json).
    The runner never stops the platform because of one child: a failed child is retried after a long back-off.
    """

    def __init__(self, *, name: str, launch: Callable[[], Awaitable[Handle]], log_path: str,
                 ready: Callable[[], Awaitable[bool]] | None = None, after_restart: Callable[[], Awaitable[None]] |
                 None = None, on_change: Callable[[], None] = lambda: None, stop_signal: int = signal.SIGTERM,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rand: Callable[[], float] = _JITTER.random) -> None:
        self.name = name
        self.log_path = log_path
        self._launch, self._ready, self._after_restart = launch, ready, after_restart
        self._on_change, self.stop_signal = on_change, stop_signal
        self.backoff = backoff or Backoff()
        self._clock, self._wall, self._sleep, self._rand = clock, wall, sleep, rand
        self.handle: Handle | None = None
        self.state: State = "stopped"
        self.restarts = 0
        self.quick_exits = 0
        self.failed_rounds = 0
        self.last_exit: int | None = None
        self.retry_at: float | None = None
        self._started_at = 0.0
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """The live child's pid."""
        live = self.handle is not None and self.handle.pid > 0 and self.state in ("starting", "running")
        return self.handle.pid if live and self.handle is not None else None

    def view(self) -> dict[str, object]:
        """The supervisor's view of this child, for run.json and `jinqiao status`."""
        return {"pid": self.pid, "state": self.state, "restarts": self.restarts, "last_exit": self.last_exit,
                "retry_at": self.retry_at, "log": self.log_path}

    def _set(self, state: State) -> None:
        self.state = state
        self._on_change()

    async def start(self) -> None:
        """The first start (the caller decides what a failure means)."""
        self._set("starting")
        self.handle = await self._launch()
        self._started_at = self._clock()
        if self._ready is not None and not await self._ready():
            raise RuntimeError(f"{self.name} did not become ready; see {self.log_path}")
        self.retry_at = None
        self._set("running")

    async def supervise(self) -> None:
        """Reap and restart until ``stop``; never returns on its own."""
        while not self._stopping:
            assert self.handle is not None
            pid = self.handle.pid
            code = await self.handle.wait()
            if self._stopping:
                return
            # What the child left in its process group (a killed postmaster's backends hold its shared memory).
            if pid > 0:
                await asyncio.to_thread(kill_group, pid, sig=signal.SIGKILL, timeout=10)
            self._exited(code)
            delay = self.backoff.delay(quick_exits=self.quick_exits, failed_rounds=self.failed_rounds,
                                       rand=self._rand())
            self.retry_at = self._wall() + delay
            self._set("failed" if self.failed_rounds else "restarting")
            await self._sleep(delay)
            if self._stopping:
                return
            await self._restart()

    def _exited(self, code: int) -> None:
        """Count the exit: a quick one (before ``stable_after``) moves toward failed, a stable run forgives all."""
        self.last_exit = code
        if self._clock() - self._started_at >= self.backoff.stable_after:
            self.quick_exits, self.failed_rounds = 0, 0
        self.quick_exits += 1
        if self.quick_exits >= self.backoff.flap_limit:
            self.failed_rounds += 1

    async def _restart(self) -> None:
        self.restarts += 1
        try:
            self.handle = await self._launch()
        except Exception as exc:  # a launch that fails is an exit like any other: back off and try again
            print(f"{self.name} 启动失败 / failed to start: {exc}", flush=True)
            self.handle = _Exited()
            return
        self._started_at = self._clock()
        if self._ready is not None and not await self._ready():
            await self._stop_child(grace=5)  # reaped by the loop, which counts it as a quick exit
            return
        if self._after_restart is not None:
            try:
                await self._after_restart()
            except Exception as exc:  # the child serves; what follows a restart is retried at the next one
                print(f"{self.name}: {exc}", flush=True)
        self.retry_at = None
        self._set("running")

    async def terminate(self, *, grace: float = 15.0) -> None:
        """Stop supervising, then stop the child's whole process group and reap it."""
        self._stopping = True
        await self._stop_child(grace=grace)
        with contextlib.suppress(ChildProcessError, ProcessLookupError, TimeoutError):
            if self.handle is not None:
                await asyncio.wait_for(self.handle.wait(), timeout=5)
        self._set("stopped")

    async def _stop_child(self, *, grace: float) -> None:
        """The child's whole process group (a postmaster's backends, say), politely first."""
        if self.handle is not None and self.handle.pid > 0:  # never killpg(0): that is the runner's own group
            await asyncio.to_thread(stop_group, self.handle.pid, sig=self.stop_signal, timeout=grace)


class _Exited:
    """A launch that failed: reaped at once with a non-zero code."""

    pid = 0

    async def wait(self) -> int:
        return 127
