"""Resident memory of the embedded stack at rest, the gateway under a flood, and how long `jinqiao up` takes.

``python -m tests.bench.run memory`` runs it (issue 16: PostgreSQL ≤ 300 MiB, the stack ≤ 800 MiB, up < 10 s). The
stack is started twice on one data directory: a first start (initdb, migrations, the demo seed) and a second start
(everything installed), each timed phase by phase; memory is read at rest after each.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from jinqiao.kit import catalog
from jinqiao.kit.runtime.ports import free_port
from tests.bench.common import BenchContext, Target, verdict
from tests.flood import flood

POSTGRES_RSS = Target("PostgreSQL resident at rest (PSS)", 300.0, "MiB", higher_is_better=False)
STACK_RSS = Target("whole stack resident at rest (PSS)", 800.0, "MiB", higher_is_better=False)
UP_SECONDS = Target("jinqiao up, installed, until the console answers", 10.0, "s", higher_is_better=False)
# How long the stack is left alone before its memory is read.
SETTLE_SECONDS = 5.0
JINQIAO = str(Path(sys.executable).parent / "jinqiao")


def stack_env(data: Path) -> dict[str, str]:
    """`jinqiao up`'s environment: its own data directory and a free port for everything it listens on."""
    env = dict(os.environ)
    env.update({"JINQIAO_DATA_DIR": str(data), "JINQIAO_PG_PORT": str(free_port()),
                "JINQIAO_NATS_PORT": str(free_port()), "JINQIAO_NATS_MONITOR_PORT": str(free_port()),
                "JINQIAO_HTTP_PORT": str(free_port())})
    for entry in catalog.load():
        if entry.grpc_port:
            env[f"JINQIAO_{entry.env_name}_GRPC_PORT"] = str(free_port())
        if entry.metrics_port:
            env[f"JINQIAO_{entry.env_name}_METRICS_PORT"] = str(free_port())
    return env


@dataclass
class Start:
    """One `jinqiao up`: its process, every output line with the second it arrived, and the milestones."""

    proc: subprocess.Popen[str]
    began: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    console_at: float | None = None
    answers_at: float | None = None
    status_at: float | None = None

    def pump(self) -> None:
        """Read the runner's output to its end (a full pipe would block the runner), keeping each line's time."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            at = time.monotonic() - self.began
            self.lines.append((at, line.rstrip("\n")))
            if self.console_at is None and "console: http://127.0.0.1:" in line:
                self.console_at = at


def start_stack(env: dict[str, str]) -> Start:
    """Exec `jinqiao up` and follow it until the console answers and `jinqiao status` says everything is up."""
    began = time.monotonic()
    proc = subprocess.Popen([JINQIAO, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    start = Start(proc=proc, began=began)
    threading.Thread(target=start.pump, daemon=True).start()
    # A first start seeds the demo province: minutes on a loaded 2-core machine.
    deadline = began + 900
    while start.console_at is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_stack(start)
            tail = "\n".join(line for _, line in start.lines[-40:])
            raise RuntimeError(f"jinqiao up did not print the console URL (exit {proc.poll()}):\n{tail}")
        time.sleep(0.02)
    base = f"http://127.0.0.1:{env['JINQIAO_HTTP_PORT']}"
    while start.answers_at is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/", timeout=2).status_code < 500:
                start.answers_at = time.monotonic() - began
        except httpx.HTTPError:
            time.sleep(0.05)
    while start.status_at is None and time.monotonic() < deadline:
        if subprocess.run([JINQIAO, "status"], env=env, capture_output=True).returncode == 0:
            start.status_at = time.monotonic() - began
        else:
            time.sleep(0.2)
    return start


def print_phases(label: str, start: Start) -> None:
    """The runner's phase lines (and the seed's) with the second each arrived, then the three milestones."""
    print(f"\n`jinqiao up`, {label}: seconds from exec")
    for at, line in start.lines:
        if "phase:" in line or "seeding" in line or "starting NATS" in line:
            print(f"  {at:6.2f}  {line.strip()}")
    print(f"  {start.console_at or 0:6.2f}  console URL printed")
    print(f"  {start.answers_at or 0:6.2f}  console answers")
    print(f"  {start.status_at or 0:6.2f}  `jinqiao status`: every component healthy")


def stop_stack(start: Start) -> None:
    """SIGTERM the runner and wait for its clean shutdown."""
    start.proc.terminate()
    start.proc.wait(timeout=90)


def memory_at_rest(label: str, data: Path) -> tuple[float, float]:
    """Print each component's PSS (shared pages divided among the processes sharing them) and RSS, with its
    children; return PostgreSQL's PSS and the stack's, in MiB."""
    run = json.loads((data / "run.json").read_text())
    total = postgres = total_rss = 0.0
    print(f"\nmemory at rest ({label}), MiB: PSS (the figure), RSS (counts shared pages once per process)")
    for name, pid in _pids(run):
        try:
            process = psutil.Process(pid)
            # The runner's children are the components themselves, each counted on its own line.
            family = [process] if name == "runner" else [process, *process.children(recursive=True)]
            pss = rss = 0
            for member in family:
                info = member.memory_full_info()
                pss, rss = pss + info.pss, rss + info.rss
        except psutil.NoSuchProcess:
            continue
        total, total_rss = total + pss / 2**20, total_rss + rss / 2**20
        postgres += pss / 2**20 if name == "postgres" else 0.0
        print(f"  {name:<14} PSS {pss / 2**20:7.1f}   RSS {rss / 2**20:7.1f}   processes {len(family)}")
    print(f"  {'total':<14} PSS {total:7.1f}   RSS {total_rss:7.1f}")
    return postgres, total


def stack_memory(root: Path) -> None:
    """Start `jinqiao up` fresh, then again on the same data; time both, read memory at rest, flood the gateway."""
    data = root / "stack"
    data.mkdir()
    data.chmod(0o755)
    first = start_stack(stack_env(data))
    try:
        print_phases("first start (initdb, migrations, demo seed)", first)
        time.sleep(SETTLE_SECONDS)
        pg_first, total_first = memory_at_rest("first start, after the demo seed", data)
    finally:
        stop_stack(first)
    env = stack_env(data)
    second = start_stack(env)
    try:
        print_phases("second start (everything installed)", second)
        time.sleep(SETTLE_SECONDS)
        pg_second, total_second = memory_at_rest("second start", data)
        # The larger of the two rests is the figure: a fresh install's pools and caches are warm from the seed.
        verdict(POSTGRES_RSS, max(pg_first, pg_second))
        verdict(STACK_RSS, max(total_first, total_second))
        assert second.answers_at is not None
        verdict(UP_SECONDS, second.answers_at)
        print(f"  (second start until every component reports healthy: {second.status_at or 0:.2f} s)")
        run = json.loads((data / "run.json").read_text())
        gateway_flood(base_url=f"http://127.0.0.1:{env['JINQIAO_HTTP_PORT']}", pid=dict(_pids(run))["gateway"])
    finally:
        stop_stack(second)


def gateway_flood(*, base_url: str, pid: int) -> None:
    """The gateway process's memory under waves of 45 MB bodies, anonymous and logged in, beside its rest level."""
    login = httpx.post(f"{base_url}/api/v1/auth/token", json={"username": "county-411525", "password": "jinqiao"})
    token = login.json()["access_token"]
    paths = ["/api/v1/tenants/411525/members", "/api/v1/tenants/411525/imports"]
    print("\ngateway memory under a flood of 45 MB bodies (8 at once per route, 3 waves)")
    for label, bearer in (("no token", None), ("county token", token)):
        # stack_memory runs inside main's event loop, so the flood gets a loop of its own on a worker thread.
        with ThreadPoolExecutor(1) as worker:
            result = worker.submit(asyncio.run, flood(base_url=base_url, pid=pid, paths=paths, token=bearer)).result()
        print(f"  {label:<13} {result.requests} requests, {result.declared_bytes / 2**30:.1f} GiB declared, "
              f"{result.sent_bytes / 2**20:.0f} MiB accepted by the socket; answers "
              f"{ {('reset' if k == 0 else k): v for k, v in result.statuses.items()} }; "
              f"RSS {result.rss_before / 2**20:.0f} → peak {result.rss_peak / 2**20:.0f} MiB "
              f"(+{result.growth / 2**20:.0f} MiB), after {result.rss_after / 2**20:.0f} MiB")


def _pids(run: dict) -> list[tuple[str, int]]:
    """Every process of the stack at rest: the runner (`jinqiao up` itself), the bus, the database, the services."""
    found: list[tuple[str, int]] = []
    for key, value in run.items():
        if isinstance(value, int):
            found.append(("runner" if key == "supervisor" else key, value))
        elif isinstance(value, dict) and key == "services":
            found += [(k, v) for k, v in value.items() if isinstance(v, int)]
    return found


async def bench_memory(ctx: BenchContext) -> None:
    """The stack's start times, its memory at rest and under a flood (run outside the section's event loop)."""
    stack_memory(ctx.root)
