"""One `jinqiao up` in a temporary directory on free ports, faults by pid, and a check that nothing outlives it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil

from jinqiao.kit import catalog
from tests.support import embedded_env

JINQIAO = str(Path(sys.executable).parent / "jinqiao")
URL = re.compile(r"http://127\.0\.0\.1:\d+/")
# The demo seed is not needed (the harness makes its own logins) and costs a minute on a small machine.
CONFIG = """[postgres]
port = 17432

[nats]
port = 17422
monitor_port = 17822

[demo]
seed_module = ""
"""
DEPENDENCIES = ("postgres", "nats")


class StackDown(AssertionError):
    """The platform is not running (the runner exited, or did not come up)."""


class Stack:
    """A `jinqiao up` subprocess in its own process group, and every process it was seen to own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.data.chmod(0o755)
        root.chmod(0o755)
        (root / "embedded.toml").write_text(CONFIG)
        self.env = embedded_env(data=self.data, keys=root / "keys", JINQIAO_EMBEDDED_CONFIG=str(root / "embedded.toml"))
        self.base_url = f"http://127.0.0.1:{self.env['JINQIAO_HTTP_PORT']}"
        self.proc: subprocess.Popen[str] | None = None
        self.lines: deque[str] = deque(maxlen=400)
        self._fresh: queue.Queue[str] = queue.Queue()
        # (pid, create_time) of every process seen under the runner: what must be gone after the stop.
        self.seen: set[tuple[int, float]] = set()
        self.services = [entry.name for entry in catalog.load()]

    # ------------------------------------------------------------------------------------------ life

    def start(self, timeout: float = 300) -> None:
        """Run `jinqiao up` and wait for the console URL line."""
        self.proc = subprocess.Popen([JINQIAO, "up"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self._fresh = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, self._fresh), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._fresh.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if URL.search(line):
                self.snapshot()
                return
        raise StackDown("jinqiao up 未打印控制台地址 / printed no URL:\n" + self.tail())

    def _pump(self, proc: subprocess.Popen[str], fresh: queue.Queue[str]) -> None:
        # Read to the end even while the test is busy: a full pipe would block the runner and every service.
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)
            fresh.put(line)

    def tail(self, lines: int = 60) -> str:
        """The runner's last lines (services' lines carry their name in front)."""
        return "".join(list(self.lines)[-lines:])

    def running(self) -> bool:
        """True while the runner process lives."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 120) -> list[str]:
        """SIGTERM the runner by pid and wait; then return (and SIGKILL by pid) every process of it still alive."""
        self.snapshot()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)  # a frozen runner cannot act on SIGTERM
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        time.sleep(1)
        left = self.leftovers()
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return [f"{p.pid} {_describe(p)}" for p in left]

    def leftovers(self) -> list[psutil.Process]:
        """Live processes of this platform: seen under the runner, or carrying its data directory."""
        found: dict[int, psutil.Process] = {}
        for pid, created in self.seen:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    found[pid] = process
        mine = str(self.data)
        for process in psutil.process_iter(["pid", "cmdline"]):
            if process.pid == os.getpid() or process.pid in found:
                continue
            with contextlib.suppress(psutil.Error):
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                if any(mine in part for part in process.info["cmdline"] or []) or \
                        process.environ().get("JINQIAO_DATA_DIR") == mine:
                    found[process.pid] = process
        return list(found.values())

    def snapshot(self) -> None:
        """Remember the runner and everything under it now (pids change as children are restarted)."""
        if self.proc is None:
            return
        with contextlib.suppress(psutil.Error):
            runner = psutil.Process(self.proc.pid)
            for process in [runner, *runner.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    self.seen.add((process.pid, process.create_time()))

    # ------------------------------------------------------------------------------------------ pids

    def run_file(self) -> dict[str, object]:
        """run.json as the runner last wrote it (re-read every time: restarts change the pids)."""
        for _ in range(20):
            try:
                return dict(json.loads((self.data / "run.json").read_text()))
            except (OSError, ValueError):
                time.sleep(0.1)  # being rewritten, or not yet written
        raise StackDown("run.json 不可读 / run.json is not readable:\n" + self.tail())

    def pid_of(self, component: str) -> int | None:
        """The pid run.json names for a dependency (postgres, nats), the runner (supervisor) or a service."""
        run = self.run_file()
        value = run.get(component)
        if value is None:
            services = run.get("services", {})
            value = services.get(component) if isinstance(services, dict) else None
        if isinstance(value, dict):  # a richer entry (a supervisor that records state beside the pid)
            value = value.get("pid")
        return value if isinstance(value, int) else None

    def alive(self, component: str) -> bool:
        """True when the component's current pid is a live, non-zombie process."""
        pid = self.pid_of(component)
        if not pid:
            return False
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def all_alive(self) -> list[str]:
        """Components whose pid in run.json is not alive (empty when all are)."""
        return [c for c in (*DEPENDENCIES, *self.services) if not self.alive(c)]

    def kill(self, component: str, sig: int = signal.SIGKILL) -> int:
        """Signal the component's current pid; return it."""
        self.snapshot()
        pid = self.pid_of(component)
        if not pid:
            raise StackDown(f"run.json 中没有 {component} / no pid for {component} in run.json")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        return pid

    def gone(self, pid: int) -> bool:
        """True when the pid is dead or a zombie nobody has reaped yet."""
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            return True

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP the runner (its services keep running) so it cannot restart what the fault stops; SIGCONT after."""
        runner = self.pid_of("supervisor") or (self.proc.pid if self.proc else None)
        if runner is None:
            raise StackDown("no runner pid")
        os.kill(runner, signal.SIGSTOP)
        try:
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(runner, signal.SIGCONT)

    # ------------------------------------------------------------------------------------------ databases

    def admin_dsn(self, database: str) -> str:
        """The superuser DSN (bypasses row-level security: the harness counts across the whole database)."""
        secrets = json.loads((self.data / "secrets.json").read_text())
        password = quote(str(secrets["postgres_password"]), safe="")
        return f"postgresql://postgres:{password}@127.0.0.1:{self.env['JINQIAO_PG_PORT']}/{database}"

    def databases(self) -> list[str]:
        """Every catalogued service's database."""
        return [f"jinqiao_{entry.name}" for entry in catalog.load() if entry.database]


def _describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())[:160]
    return "?"
