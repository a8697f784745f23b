"""Resident memory of the embedded stack at rest, the gateway under a flood, and how long `jinqiao up` takes.

``python -m tests.bench.run memory`` runs it (issue 16: PostgreSQL ≤ 300 MiB, the stack ≤ 800 MiB, up < 10 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from jinqiao.kit.runtime.ports import free_port
from tests.bench.common import BenchContext, Target, verdict
from tests.flood import flood

POSTGRES_RSS = Target("PostgreSQL resident at rest", 300.0, "MiB", higher_is_better=False)
STACK_RSS = Target("whole stack resident at rest", 800.0, "MiB", higher_is_better=False)
UP_SECONDS = Target("jinqiao up, installed, until the console answers", 10.0, "s", higher_is_better=False)


def stack_memory(root: Path) -> None:
    """Start `jinqiao up`, let it settle, and print each process's resident memory."""
    env = dict(os.environ)
    data = root / "stack"
    data.mkdir()
    data.chmod(0o755)
    env.update({"JINQIAO_DATA_DIR": str(data), "JINQIAO_PG_PORT": str(free_port()),
                "JINQIAO_NATS_PORT": str(free_port()), "JINQIAO_NATS_MONITOR_PORT": str(free_port()),
                "JINQIAO_HTTP_PORT": str(free_port()), "JINQIAO_REGISTRY_GRPC_PORT": str(free_port()),
                "JINQIAO_INSIGHTS_GRPC_PORT": str(free_port()),
                "JINQIAO_ORGANIZATIONS_GRPC_PORT": str(free_port()),
                "JINQIAO_ORGANIZATIONS_METRICS_PORT": str(free_port()),
                "JINQIAO_REGISTRY_METRICS_PORT": str(free_port()),
                "JINQIAO_INSIGHTS_METRICS_PORT": str(free_port())})
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jinqiao"), "up"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            if "http://127.0.0.1:" in line or time.monotonic() > deadline:
                break
        time.sleep(5)
        run = json.loads((data / "run.json").read_text())
        total = 0.0
        postgres = 0.0
        print("\nresident memory at rest (embedded stack, after the demo seed)")
        for name, pid in _pids(run):
            try:
                process = psutil.Process(pid)
                rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
            total += rss
            postgres += rss if name == "postgres" else 0.0
            print(f"  {name:<12} {rss / 2**20:8.1f} MiB")
        print(f"  {'total':<12} {total / 2**20:8.1f} MiB")
        verdict(POSTGRES_RSS, postgres / 2**20)
        verdict(STACK_RSS, total / 2**20)
        gateway_flood(base_url=f"http://127.0.0.1:{env['JINQIAO_HTTP_PORT']}", pid=dict(_pids(run))["gateway"])
    finally:
        proc.terminate()
        proc.wait(timeout=90)


def gateway_flood(*, base_url: str, pid: int) -> None:
    """The gateway process's memory under waves of 45 MB bodies, anonymous and logged in, beside its rest level."""
    import httpx

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
    found: list[tuple[str, int]] = []
    for key, value in run.items():
        if isinstance(value, int) and key != "supervisor":
            found.append((key, value))
        elif isinstance(value, dict):
            found += [(k, v) for k, v in value.items() if isinstance(v, int)]
    return found


async def bench_memory(ctx: BenchContext) -> None:
    """The stack's memory at rest and under a flood (run outside the section's event loop)."""
    stack_memory(ctx.root)
