"""The embedded runner heals its children and tells the truth (issue 11, findings 3–5), against a real `jinqiao up`.

One runner (no demo seed) serves the checks in file order: kill -9 PostgreSQL (its stale postmaster.pid included),
kill -9 NATS, a crash-looping service, then the runner itself SIGKILLed, a stray found by `down`, and a new `up`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.kit import catalog
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.postgres import clear_stale_pid
from jinqiao.kit.runtime.processes import SUPERVISED_BY, alive, group_members
from tests.e2e.test_embedded_platform import JINQIAO, Platform, wait_until
from tests.support import embedded_env

pytestmark = pytest.mark.e2e

FLAPPER = "notifications"  # made to crash-loop; registry and the gateway must keep answering meanwhile


@pytest.fixture(scope="module")
def env() -> Iterator[dict[str, str]]:
    data = Path(tempfile.mkdtemp(prefix="jinqiao-supervision-"))
    data.chmod(0o755)
    # The runner's file without the demo seed: these checks need the processes, not the province.
    config = data.parent / f"{data.name}.toml"
    config.write_text(f"[postgres]\nport = {free_port()}\n[nats]\nport = {free_port()}\n")
    values = embedded_env(data=data, keys=Path(f"{data}-keys"), JINQIAO_EMBEDDED_CONFIG=str(config))
    yield values
    subprocess.run([JINQIAO, "down"], env=values, capture_output=True, timeout=120)
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(str(data) + "-keys", ignore_errors=True)
    config.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def runner(env: dict[str, str]) -> Iterator[Platform]:
    platform = Platform(env)
    platform.wait_for_url()
    yield platform
    platform.stop()


def run_file(env: dict[str, str]) -> dict:
    return json.loads((Path(env["JINQIAO_DATA_DIR"]) / "run.json").read_text())


def jinqiao(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([JINQIAO, command], env=env, capture_output=True, text=True, timeout=150)


def serving(env: dict[str, str], name: str) -> bool:
    port = env[f"JINQIAO_{name.upper()}_GRPC_PORT"]
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def gateway_alive(env: dict[str, str]) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{env['JINQIAO_HTTP_PORT']}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def gone(pid: int) -> bool:
    """Not running and not a zombie holding its pid either: the runner reaped it."""
    try:
        psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    return False


def restarted(env: dict[str, str], name: str, old: int) -> int:
    """Wait until run.json names a new, live pid for a component; return it."""
    def fresh() -> bool:
        pid = run_file(env)[name]
        return isinstance(pid, int) and pid != old and alive(pid)

    wait_until(fresh, timeout=90)
    return run_file(env)[name]


def test_killed_postgresql_is_reaped_restarted_over_its_stale_pid_file_and_services_answer_again(env, runner):
    old = run_file(env)["postgres"]
    pid_file = Path(env["JINQIAO_DATA_DIR"]) / "postgres" / "pgdata" / "postmaster.pid"
    os.kill(old, signal.SIGKILL)
    new = restarted(env, "postgres", old)  # kill -9 leaves postmaster.pid naming the dead pid
    assert gone(old), "the killed postmaster was left a zombie"
    assert int(pid_file.read_text().split()[0]) == new
    wait_until(lambda: serving(env, "registry") and gateway_alive(env), timeout=90)
    status = jinqiao(env, "status")
    assert "postgres: 健康 healthy" in status.stdout and "接受连接 accepting" in status.stdout, status.stdout
    # Services were not restarted for it: they reconnect on their own.
    assert all(v["restarts"] == 0 for n, v in run_file(env)["children"].items() if n != "postgres")


def test_killed_nats_is_restarted_with_its_streams_and_without_restarting_services(env, runner):
    old = run_file(env)["nats"]
    services_before = run_file(env)["services"]
    # The store lost with the server: the runner must declare the streams again, not only restart the binary.
    shutil.rmtree(Path(env["JINQIAO_DATA_DIR"]) / "nats" / "jetstream")
    os.kill(old, signal.SIGKILL)
    restarted(env, "nats", old)
    assert gone(old)
    producers = sum(1 for entry in catalog.load() if entry.produces_events)

    def streams() -> int:
        try:
            return httpx.get(f"http://127.0.0.1:{env['JINQIAO_NATS_MONITOR_PORT']}/jsz", timeout=3).json()["streams"]
        except (httpx.HTTPError, KeyError, ValueError):
            return 0

    wait_until(lambda: streams() >= producers, timeout=60)
    wait_until(lambda: "nats: 健康 healthy" in jinqiao(env, "status").stdout, timeout=60)
    assert run_file(env)["services"] == services_before


def test_a_crash_looping_service_is_marked_failed_while_the_others_keep_serving(env, runner):
    supervisor = run_file(env)["supervisor"]
    for _ in range(5):
        def up_again() -> bool:
            view = run_file(env)["children"][FLAPPER]
            return view["state"] in ("running", "failed") and (view["state"] == "failed" or alive(view["pid"]))

        wait_until(up_again, timeout=90)
        view = run_file(env)["children"][FLAPPER]
        if view["state"] == "failed":
            break
        os.kill(view["pid"], signal.SIGKILL)
        wait_until(lambda pid=view["pid"]: gone(pid), timeout=30)
    wait_until(lambda: run_file(env)["children"][FLAPPER]["state"] == "failed", timeout=60)
    view = run_file(env)["children"][FLAPPER]
    assert view["last_exit"] == -signal.SIGKILL and view["retry_at"] > time.time()
    assert alive(supervisor) and runner.proc.poll() is None, "one flapping child stopped the platform"
    assert serving(env, "registry") and gateway_alive(env)
    status = jinqiao(env, "status")
    assert status.returncode != 0
    line = next(line for line in status.stdout.splitlines() if line.strip().startswith(f"{FLAPPER}:"))
    assert "failed after" in line and view["log"] in line, status.stdout
    assert "registry: 健康 healthy" in status.stdout


def test_children_die_with_a_killed_runner_and_down_finds_what_is_left(env, runner):
    run = run_file(env)
    children = [v["pid"] for v in run["children"].values() if v["pid"]]
    os.kill(runner.proc.pid, signal.SIGKILL)
    runner.proc.wait(timeout=10)
    # pdeathsig: every child goes with the runner, PostgreSQL's backends (its process group) with the postmaster.
    def left() -> list[str]:
        found = {p for pid in children for p in ([psutil.Process(pid)] if alive(pid) else []) + group_members(pid)}
        return [f"{p.pid} {' '.join(p.cmdline())[:80]}" for p in found if alive(p.pid)]

    try:
        wait_until(lambda: not left(), timeout=60)
    except AssertionError:
        raise AssertionError(f"children outlived the runner: {left()}") from None
    # A stray that holds a platform port and carries the runner's mark, as a service outliving its runner would.
    held = int(env["JINQIAO_PG_PORT"])
    listen = (f"import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
              f" s.bind(('127.0.0.1', {held})); s.listen(); print('ready', flush=True); time.sleep(120)")
    stray = subprocess.Popen([sys.executable, "-c", listen], env={**env, SUPERVISED_BY: env["JINQIAO_DATA_DIR"]},
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert stray.stdout is not None and stray.stdout.readline().strip() == "ready"
        refused = jinqiao(env, "up")
        assert refused.returncode == 2
        assert f"pid {stray.pid}" in refused.stderr and "jinqiao down" in refused.stderr, refused.stderr
        down = jinqiao(env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"pid {stray.pid}" in down.stdout and "nothing left" in down.stdout
        assert stray.wait(timeout=10) is not None
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
    assert not (Path(env["JINQIAO_DATA_DIR"]) / "run.json").exists()

    second = Platform(env)
    try:
        second.wait_for_url()
        assert serving(env, "registry") and gateway_alive(env)
        pids = [v["pid"] for v in run_file(env)["children"].values()]
        down = jinqiao(env, "down")
        assert down.returncode == 0 and "nothing left" in down.stdout, down.stdout + down.stderr
        assert second.proc.wait(timeout=30) == 0
        assert all(gone(pid) for pid in pids)
    finally:
        second.stop()


def test_a_stale_postmaster_pid_naming_a_dead_process_is_removed(tmp_path: Path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    (tmp_path / "postmaster.pid").write_text(f"{finished.pid}\n{tmp_path}\n")
    clear_stale_pid(tmp_path)
    assert not (tmp_path / "postmaster.pid").exists()
    # A live process that is not a postgres of this data (a stranger reusing the pid) does not hold it either.
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    clear_stale_pid(tmp_path)
    assert not (tmp_path / "postmaster.pid").exists()
