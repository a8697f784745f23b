"""`jinqiao up`: PostgreSQL, NATS, migrations, every service supervised, the demo seed, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.kit import catalog, kms
from jinqiao.kit.kms import KeyMaterial
from jinqiao.kit.runtime.config import EmbeddedConfig, ServiceSpec
from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.natsauth import logins, new_passwords
from jinqiao.kit.runtime.ports import PortBusy, ensure_free
from jinqiao.kit.runtime.postgres import PG_OS_USER, EmbeddedPostgres, postmaster_alive, unreachable_ancestor
from jinqiao.kit.runtime.processes import alive, stop_pid

HOST = "127.0.0.1"
HEALTH_TIMEOUT = 60.0
MAX_RESTARTS_PER_MINUTE = 5


class Stop(asyncio.Event):
    """Set to stop the platform; ``failed`` when a service kept crashing (the exit code says so)."""

    failed = False


class StartupFailed(RuntimeError):
    """The platform could not come up; the message says why."""


# ------------------------------------------------------------------------------------------------ secrets


def load_secrets(data_dir: Path, services: list[ServiceSpec]) -> dict[str, object]:
    """Passwords (database, bus), generated on first start and kept in ``secrets.json`` (0600) beside the data.

    Keys are not kept here: they live in the key directory, apart from the data (``prepare_keys``).
    """
    path = data_dir / "secrets.json"
    stored: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    changed = not stored
    stored.setdefault("postgres_password", secrets.token_urlsafe(24))
    passwords = stored.setdefault("app_passwords", {})
    assert isinstance(passwords, dict)
    for spec in services:
        if spec.database and spec.name not in passwords:
            passwords[spec.name] = secrets.token_urlsafe(24)
            changed = True
    # The bus's logins: the runner's and one per catalogued service, generated once and kept across restarts.
    known = stored.get("nats_passwords", {})
    assert isinstance(known, dict)
    nats_passwords = new_passwords(known, catalog.load())
    if nats_passwords != known:
        stored["nats_passwords"] = nats_passwords
        changed = True
    if changed:
        path.touch(mode=0o600)
        path.write_text(json.dumps(stored, indent=2))
    return stored


def prepare_keys(config: EmbeddedConfig) -> KeyMaterial:
    """Open the key service, move keys an older install kept beside the data, create what is missing, read them."""
    service, moved = kms.prepare(key_dir=config.key_directory, data_dir=config.data_dir, spec=config.kms)
    if moved:
        print(f"密钥已移至 {service.location()} / moved the keys ({', '.join(moved)}) out of the data directory to "
              f"{service.location()}", flush=True)
    return kms.read_material(service)


# ------------------------------------------------------------------------------------------------ children


@dataclass
class Child:
    """A supervised service process."""

    spec: ServiceSpec
    env: dict[str, str]
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: list[float] = field(default_factory=list)
    stopping: bool = False

    async def start(self) -> None:
        """Start the process and stream its output with the service's name in front."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.spec.module, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        asyncio.create_task(self._pump(self.proc))

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        with self.log_path.open("ab") as log:
            async for line in proc.stdout:
                log.write(line)
                log.flush()
                sys.stdout.write(f"{self.spec.name:>10} | {line.decode(errors='replace')}")
                sys.stdout.flush()

    async def healthy(self) -> bool:
        """gRPC health SERVING, or HTTP /healthz 200."""
        try:
            if self.spec.grpc_port:
                async with grpc.aio.insecure_channel(f"{HOST}:{self.spec.grpc_port}") as channel:
                    # types-grpcio-health-checking declares HealthStub without its methods.
                    check = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]
                    reply = await check(health_pb2.HealthCheckRequest(), timeout=2)
                    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
            if self.spec.http_port:
                async with httpx.AsyncClient(timeout=2) as http:
                    return (await http.get(f"http://{HOST}:{self.spec.http_port}/healthz")).status_code == 200
        except (grpc.aio.AioRpcError, httpx.HTTPError, OSError):
            return False
        return True

    async def wait_healthy(self) -> None:
        """Wait for health, failing fast if the process dies."""
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.returncode is not None:
                break
            if await self.healthy():
                return
            await asyncio.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
        raise StartupFailed(f"服务 {self.spec.name} 未能就绪 / {self.spec.name} did not become healthy:\n{tail}")

    async def stop(self) -> None:
        """SIGTERM, wait, SIGKILL as the last resort."""
        self.stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# Key variables the runner's own environment must not pass on to a service that does not hold them.
_KEY_VARIABLES = ("JINQIAO_PII_KEYS", "JINQIAO_PII_ACTIVE_KEY", "JINQIAO_BLIND_INDEX_KEY",
                  "JINQIAO_JWT_PRIVATE_KEY_FILE", "JINQIAO_JWT_PUBLIC_KEY_FILE")


def service_env(spec: ServiceSpec, *, config: EmbeddedConfig, stored: dict[str, object], nats_url: str,
                app_dsns: dict[str, str], keys: KeyMaterial | None = None) -> dict[str, str]:
    """The environment a service process is configured by (DESIGN §6: everything by environment).

    Keys: only the kinds the service's catalogue entry names (kms.py says why by environment). Without ``keys``
    (tests of the rest of the environment) a service gets the JWT files' paths and no key material.
    """
    env = {name: value for name, value in os.environ.items() if name not in _KEY_VARIABLES}
    env.update({
        "JINQIAO_SERVICE_NAME": spec.name, "JINQIAO_HOST": HOST, "JINQIAO_NATS_URL": nats_url,
        "JINQIAO_METRICS_PORT": str(spec.metrics_port), "PYTHONUNBUFFERED": "1",
    })
    held = _held_keys(spec.name)
    if keys is not None:
        env.update(keys.environment(held))
    else:
        jwt = kms.LocalKeyDirectory(config.key_directory).jwt_key_files()
        env["JINQIAO_JWT_PUBLIC_KEY_FILE"] = str(jwt.public)
        if "jwt_signing" in held:
            env["JINQIAO_JWT_PRIVATE_KEY_FILE"] = str(jwt.private)
    for other in config.services:
        if other.grpc_port:
            env[f"JINQIAO_{other.env_name}_TARGET"] = f"{HOST}:{other.grpc_port}"
    if spec.grpc_port:
        env["JINQIAO_GRPC_PORT"] = str(spec.grpc_port)
    if spec.http_port:
        env["JINQIAO_HTTP_PORT"] = str(spec.http_port)
    if spec.name in app_dsns:
        env["JINQIAO_DATABASE_URL"] = app_dsns[spec.name]
    nats_passwords = stored.get("nats_passwords", {})
    if isinstance(nats_passwords, dict) and spec.name in nats_passwords:
        # Its own login only: what the server lets this user do is what the service may do on the bus.
        env["JINQIAO_NATS_USER"] = spec.name
        env["JINQIAO_NATS_PASSWORD"] = str(nats_passwords[spec.name])
    return env


def _held_keys(name: str) -> tuple[str, ...]:
    """The key kinds a catalogued service holds (none for anything else)."""
    try:
        return catalog.get(name).keys
    except KeyError:
        return ()


# ------------------------------------------------------------------------------------------------ up


def check_ports(config: EmbeddedConfig) -> None:
    """Every port the platform needs must be free before anything starts."""
    ensure_free(host=HOST, port=config.pg_port, what="PostgreSQL", setting="JINQIAO_PG_PORT")
    ensure_free(host=HOST, port=config.nats_port, what="NATS", setting="JINQIAO_NATS_PORT")
    if config.nats_monitor_port:
        ensure_free(host=HOST, port=config.nats_monitor_port, what="NATS monitor", setting="JINQIAO_NATS_MONITOR_PORT")
    for spec in config.services:
        if spec.grpc_port:
            ensure_free(host=HOST, port=spec.grpc_port, what=spec.name, setting=f"JINQIAO_{spec.env_name}_GRPC_PORT")
        if spec.http_port:
            ensure_free(host=HOST, port=spec.http_port, what=spec.name, setting="JINQIAO_HTTP_PORT")
        if spec.metrics_port:
            ensure_free(host=HOST, port=spec.metrics_port, what=f"{spec.name} metrics",
                        setting=f"JINQIAO_{spec.env_name}_METRICS_PORT")


def write_run_file(config: EmbeddedConfig, pids: dict[str, object]) -> None:
    """``run.json``: the pids `jinqiao status` and `jinqiao down` act on."""
    (config.data_dir / "run.json").write_text(json.dumps(pids, indent=2))


async def up(config: EmbeddedConfig) -> int:
    """Run the platform until SIGINT or SIGTERM; return the exit code."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.chmod(0o755)
    run_file = config.data_dir / "run.json"
    if run_file.exists() and alive(json.loads(run_file.read_text()).get("supervisor")):
        print("金桥已在运行 / Jinqiao is already running (see `jinqiao status`)", file=sys.stderr)
        return 2
    if postmaster_alive(config.data_dir / "postgres"):
        print("数据目录的 PostgreSQL 仍在运行 / a PostgreSQL of this data directory is still running", file=sys.stderr)
        return 2
    try:
        check_ports(config)
    except PortBusy as exc:
        print(exc, file=sys.stderr)
        return 2
    blocked = unreachable_ancestor(config.data_dir / "postgres")
    if blocked is not None:
        print(f"以 root 运行时 PostgreSQL 以系统用户 {PG_OS_USER} 运行，无法进入 {blocked}；"
              f"请把 JINQIAO_DATA_DIR 设在它能进入的目录（root 的默认值 /var/lib/jinqiao） / "
              f"as root, PostgreSQL runs as {PG_OS_USER}, who cannot enter {blocked}; "
              "set JINQIAO_DATA_DIR to a directory it can reach (root's default: /var/lib/jinqiao)",
              file=sys.stderr)
        return 2
    (config.data_dir / "logs").mkdir(exist_ok=True)
    try:
        keys = prepare_keys(config)
    except kms.KeyStoreError as exc:
        print(exc, file=sys.stderr)
        return 2
    stored = load_secrets(config.data_dir, config.services)
    nats_passwords = stored["nats_passwords"]
    assert isinstance(nats_passwords, dict)
    nats = EmbeddedNats(data_dir=config.data_dir / "nats", port=config.nats_port, host=HOST,
                        monitor_port=config.nats_monitor_port or None, users=logins(nats_passwords).values())
    pg = EmbeddedPostgres(data_dir=config.data_dir / "postgres", port=config.pg_port,
                          superuser_password=str(stored["postgres_password"]), host=HOST)
    children: list[Child] = []
    stop = Stop()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print("正在启动 NATS JetStream 与 PostgreSQL … / starting NATS JetStream and PostgreSQL …", flush=True)
        nats.start()
        # Streams are the runner's to declare: no service's login may create or change one.
        await nats.declare_streams()
        pg.start()
        app_dsns = await _provision_and_migrate(config, pg, stored)
        for spec in config.services:
            child = Child(spec=spec, log_path=config.data_dir / "logs" / f"{spec.name}.log",
                          env=service_env(spec, config=config, stored=stored, nats_url=nats.url, app_dsns=app_dsns,
                                          keys=keys))
            await child.start()
            children.append(child)
            await child.wait_healthy()
        write_run_file(config, _pids(nats, pg, children))
        await _seed_once(config, children)
        _announce(config)
        # A restarted service has a new pid: run.json follows, so `jinqiao status` and `down` act on the live one.
        def restarted() -> None:
            write_run_file(config, _pids(nats, pg, children))

        watchers = [asyncio.create_task(_watch(child, stop, on_restart=restarted)) for child in children]
        await stop.wait()
        for watcher in watchers:
            watcher.cancel()
        return 1 if stop.failed else 0
    except StartupFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        print("正在停止 … / stopping …", flush=True)
        for child in reversed(children):
            await child.stop()
        nats.stop()
        pg.stop()
        run_file.unlink(missing_ok=True)
        print("已停止 / stopped", flush=True)


async def _provision_and_migrate(
    config: EmbeddedConfig, pg: EmbeddedPostgres, stored: dict[str, object]
) -> dict[str, str]:
    from jinqiao.kit.migrations import migrate
    from jinqiao.kit.runtime.provision import provision_service_database

    passwords = stored["app_passwords"]
    assert isinstance(passwords, dict)
    dsns: dict[str, str] = {}
    for spec in config.services:
        if spec.database:
            db = await provision_service_database(admin_dsn=pg.admin_dsn(), service=spec.name,
                                                  app_password=passwords[spec.name])
            await migrate(service=spec.name, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
            dsns[spec.name] = db.app_dsn
    return dsns


async def _seed_once(config: EmbeddedConfig, children: list[Child]) -> None:
    marker = config.data_dir / ".seeded"
    if marker.exists() or not config.seed_module:
        return
    gateway = next((c for c in children if c.spec.http_port), None)
    if gateway is None:
        return
    print("正在写入演示数据 … / seeding the demo province …", flush=True)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", config.seed_module, env=gateway.env)
    if await proc.wait() != 0:
        raise StartupFailed("演示数据写入失败 / the demo seed failed")
    marker.touch()


def _announce(config: EmbeddedConfig) -> None:
    http = next((s.http_port for s in config.services if s.http_port), None)
    password = os.environ.get("JINQIAO_DEMO_PASSWORD", "jinqiao")
    logins = [*config.demo_logins, *(f"county-{c}" for c in config.demo_counties)]
    print(f"\n演示账号 demo logins (密码 password: {password}): " + ", ".join(logins), flush=True)
    print("按 Ctrl-C 停止 / press Ctrl-C to stop", flush=True)
    print("金桥 Jinqiao 已启动  console: " + f"http://{HOST}:{http}/\n", flush=True)


def _pids(nats: EmbeddedNats, pg: EmbeddedPostgres, children: list[Child]) -> dict[str, object]:
    return {
        "supervisor": os.getpid(), "nats": nats.pid, "postgres": pg.pid,
        "services": {c.spec.name: c.proc.pid for c in children if c.proc},
        "health": {c.spec.name: {"grpc_port": c.spec.grpc_port, "http_port": c.spec.http_port} for c in children},
    }


async def _watch(child: Child, stop: Stop, *, on_restart: Callable[[], None]) -> None:
    """Restart a service that dies unexpectedly, with back-off; give up after too many restarts."""
    while True:
        assert child.proc is not None
        code = await child.proc.wait()
        if child.stopping or stop.is_set():
            return
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < 60] + [now]
        if len(child.restarts) > MAX_RESTARTS_PER_MINUTE:
            print(f"服务 {child.spec.name} 一分钟内重启过多，停止全部 / {child.spec.name} keeps crashing; stopping",
                  file=sys.stderr, flush=True)
            stop.failed = True
            stop.set()
            return
        delay = min(2 ** (len(child.restarts) - 1) * 0.5, 10)
        print(f"服务 {child.spec.name} 退出（{code}），{delay:.1f}s 后重启 / exited, restarting", flush=True)
        await asyncio.sleep(delay)
        await child.start()
        on_restart()


# ------------------------------------------------------------------------------------------------ status, down


def _pid(run: dict[str, object], name: str) -> int | None:
    """A component's pid from the run file (None when absent or not a number)."""
    value = run.get(name)
    return value if isinstance(value, int) else None


def read_run_file(config: EmbeddedConfig) -> dict[str, object] | None:
    """The running platform's pids, if any."""
    path = config.data_dir / "run.json"
    return json.loads(path.read_text()) if path.exists() else None


async def status(config: EmbeddedConfig) -> int:
    """Print each component's state; 0 when all are up, 3 when not running."""
    run = read_run_file(config)
    if run is None or not alive(_pid(run, "supervisor")):
        print("未运行 / not running")
        return 3
    ok = True
    for name in ("supervisor", "nats", "postgres"):
        up_ = alive(_pid(run, name))
        ok &= up_
        print(f"{name:>10}: {'运行中 running' if up_ else '已停止 down'} (pid {run.get(name)})")
    services = run.get("services", {})
    ports = run.get("health", {})
    assert isinstance(services, dict) and isinstance(ports, dict)
    for name, pid in services.items():
        spec = ServiceSpec(name=name, module="", database=False, grpc_port=ports[name]["grpc_port"],
                           http_port=ports[name]["http_port"], metrics_port=0)
        healthy = alive(pid) and await Child(spec=spec, env={}, log_path=Path("/dev/null")).healthy()
        ok &= healthy
        print(f"{name:>10}: {'健康 healthy' if healthy else '异常 unhealthy'} (pid {pid})")
    return 0 if ok else 3


def down(config: EmbeddedConfig) -> int:
    """Ask the supervisor to stop everything; clean up after one that is already gone."""
    run = read_run_file(config)
    if run is None:
        print("未运行 / not running")
        return 0
    supervisor = _pid(run, "supervisor")
    if supervisor is not None and alive(supervisor):
        stop_pid(supervisor, timeout=60)
    else:
        services = run.get("services", {})
        assert isinstance(services, dict)
        for pid in services.values():
            stop_pid(pid)
        for name in ("nats", "postgres"):
            pid = _pid(run, name)
            if pid is not None and alive(pid):
                stop_pid(pid, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
        (config.data_dir / "run.json").unlink(missing_ok=True)
    print("已停止 / stopped")
    return 0
