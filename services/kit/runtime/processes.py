"""Stopping child processes by their own pid: a polite signal, a wait, then SIGKILL as the last resort."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import psutil


def stop_pid(pid: int, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signal one process and wait for it to go; kill it if it will not."""
    try:
        process = psutil.Process(pid)
        process.send_signal(sig)
        process.wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        psutil.Process(pid).wait(timeout=5)


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
