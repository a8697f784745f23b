"""The runner's spawns beside live gRPC: every child reaches its own program, dies with its parent, runs as its user."""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import subprocess
import sys
import textwrap

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from jinqiao.kit.runtime.processes import alive, orphan_proof, wait_until

SPAWNS = 120
CALLERS = 8


async def _call_until(port: int, stop: asyncio.Event) -> int:
    calls = 0
    while not stop.is_set():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            # types-grpcio-health-checking declares HealthStub without its methods.
            check = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]
            await check(health_pb2.HealthCheckRequest(), timeout=5)
            calls += 1
    return calls


async def _spawn_beside_grpc(argv: list[str], *, user: str | None) -> tuple[list[tuple[int, bytes]], int]:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    callers = [asyncio.create_task(_call_until(port, stop)) for _ in range(CALLERS)]
    failures = []
    try:
        for _ in range(SPAWNS):
            proc = await asyncio.create_subprocess_exec(
                *orphan_proof(argv, user=user),
                stderr=asyncio.subprocess.PIPE, start_new_session=True,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0 or err:
                failures.append((proc.returncode or 0, err[:200]))
    finally:
        stop.set()
        calls = sum(await asyncio.gather(*callers))
        await server.stop(None)
    return failures, calls


def test_children_spawned_while_grpc_calls_are_in_flight_all_reach_their_program() -> None:
    failures, calls = asyncio.run(_spawn_beside_grpc([sys.executable, "-I", "-S", "-c", "pass"], user=None))
    assert calls > 0, "the gRPC calls never ran beside the spawns"
    assert failures == []


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
def test_children_changing_user_beside_live_grpc_calls_all_reach_their_program() -> None:
    # A system program: "nobody" may not reach this interpreter's files.
    failures, calls = asyncio.run(_spawn_beside_grpc(["/bin/sh", "-c", ":"], user="nobody"))
    assert calls > 0
    assert failures == []


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
def test_a_child_named_a_user_runs_with_that_users_ids() -> None:
    entry = pwd.getpwnam("nobody")
    out = subprocess.run(
        orphan_proof(["/bin/sh", "-c", "echo $(id -u) $(id -g)"], user="nobody"),
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == [str(entry.pw_uid), str(entry.pw_gid)]


def test_a_child_dies_when_the_process_that_spawned_it_is_killed() -> None:
    # The spawner prints its child's pid, then waits to be killed.
    spawner = textwrap.dedent(f"""
        import subprocess, sys, time
        from jinqiao.kit.runtime.processes import orphan_proof
        sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
        child = subprocess.Popen(orphan_proof(sleeper, sig={int(signal.SIGKILL)}))
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", spawner], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert wait_until(lambda: alive(child), timeout=10)
    finally:
        parent.kill()
        parent.wait(timeout=10)
    assert wait_until(lambda: not alive(child), timeout=10), "the child outlived its killed parent"
