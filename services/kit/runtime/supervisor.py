"""`jinqiao up`: PostgreSQL, NATS, migrations, every child supervised (reaped, restarted with back-off, never
outliving the runner), the demo seed, clean shutdown; `jinqiao status` and `jinqiao down` that tell the truth."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.util
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.kit import catalog, kms
from jinqiao.kit.kms import KeyMaterial
from jinqiao.kit.runtime.config import SERVICE_ENV_DEFAULTS, EmbeddedConfig, ServiceSpec
from jinqiao.kit.runtime.nats import EmbeddedNats, greets
from jinqiao.kit.runtime.natsauth import logins, new_passwords
from jinqiao.kit.runtime.ports import PortBusy, ensure_free
from jinqiao.kit.runtime.postgres import (
    EMBEDDED_SETTINGS,
    PG_OS_USER,
    EmbeddedPostgres,
    accepting,
    postmaster_alive,
    unreachable_ancestor,
)
from jinqiao.kit.runtime.processes import (
    SUPERVISED_BY,
    Handle,
    PopenHandle,
    Supervised,
    alive,
    kill_group,
    leftovers,
    marked_by,
    orphan_proof,
    port_holder,
    stop_pid,
)

HOST = "127.0.0.1"
# How long a first start waits for a service that lives but does not answer (one that exits fails at once). The
# services import at the same time and share the cores: on a loaded 2-core machine that takes minutes, not seconds.
HEALTH_TIMEOUT = 180.0


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


def _name_width() -> int:
    """Column width for component names in the terminal: the longest catalogued name, or "supervisor"."""
    return max(len("supervisor"), *(len(entry.name) for entry in catalog.load()))


async def launch_service(spec: ServiceSpec, *, env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """Start a service in a process group of its own, dying with the runner; its output is logged and echoed.

    Dying means SIGKILL: a runner that died cannot follow a SIGTERM up, and a service stuck in its shutdown (a bus
    that went away) would hold its port for the next `up`. Kills are safe here (outbox, inbox, idempotency keys);
    `down` and Ctrl-C still stop services politely.
    """
    proc = await asyncio.create_subprocess_exec(
        *orphan_proof([sys.executable, "-m", spec.module], sig=signal.SIGKILL), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )
    _PUMPS.add(task := asyncio.create_task(_pump(spec.name, proc, log_path)))
    task.add_done_callback(_PUMPS.discard)
    return proc


# The output pumps, held so that they are not collected while they run.
_PUMPS: set[asyncio.Task[None]] = set()


async def _pump(name: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
    assert proc.stdout is not None
    with log_path.open("ab") as log:
        async for line in proc.stdout:
            log.write(line)
            log.flush()
            sys.stdout.write(f"{name:>{_name_width()}} | {line.decode(errors='replace')}")
            sys.stdout.flush()


async def service_healthy(spec: ServiceSpec, *, http: httpx.AsyncClient | None = None) -> bool:
    """gRPC health SERVING, or HTTP /healthz 200 (through ``http`` when given: a client is costly to build)."""
    try:
        if spec.grpc_port:
            async with grpc.aio.insecure_channel(f"{HOST}:{spec.grpc_port}") as channel:
                # types-grpcio-health-checking declares HealthStub without its methods.
                check = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]
                reply = await check(health_pb2.HealthCheckRequest(), timeout=2)
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
        if spec.http_port:
            if http is None:
                async with httpx.AsyncClient(timeout=2) as own:
                    return (await own.get(f"http://{HOST}:{spec.http_port}/healthz")).status_code == 200
            return (await http.get(f"http://{HOST}:{spec.http_port}/healthz")).status_code == 200
    except (grpc.aio.AioRpcError, httpx.HTTPError, OSError):
        return False
    return True


async def wait_healthy(spec: ServiceSpec, child: Supervised) -> None:
    """Wait for a first start's health, failing fast if the process dies."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    # One client for the whole wait: building one loads the CA bundle, a tenth of a second of CPU each poll.
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            handle = child.handle
            if handle is None or getattr(handle, "returncode", None) is not None:
                break
            if await service_healthy(spec, http=http):
                return
            await asyncio.sleep(0.2)
    tail = _tail(Path(child.log_path))
    raise StartupFailed(f"服务 {spec.name} 未能就绪 / {spec.name} did not become healthy:\n{tail}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


async def _poll(check: Callable[[], bool], *, within: float, interval: float = 0.3) -> bool:
    """Poll a blocking check off the event loop until it holds or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if await asyncio.to_thread(check):
                return True
        except RuntimeError:  # the process exited while starting
            return False
        await asyncio.sleep(interval)
    return False


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
    for name, value in SERVICE_ENV_DEFAULTS.items():
        env.setdefault(name, value)
    env.update({
        "JINQIAO_SERVICE_NAME": spec.name, "JINQIAO_HOST": HOST, "JINQIAO_NATS_URL": nats_url,
        "JINQIAO_METRICS_PORT": str(spec.metrics_port), "PYTHONUNBUFFERED": "1",
        # The runner's mark: `jinqiao down` finds a service that outlived it by this, and only by this.
        SUPERVISED_BY: str(config.data_dir),
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


def write_run_file(config: EmbeddedConfig, run: dict[str, object]) -> None:
    """``run.json``: the pids and the supervisor's view that `jinqiao status` and `jinqiao down` act on.

    Written to a temporary file and renamed, so a reader never sees half of it.
    """
    path = config.data_dir / "run.json"
    tmp = path.with_name(f".run.json.{os.getpid()}")
    tmp.write_text(json.dumps(run, indent=2))
    os.replace(tmp, path)


def run_view(config: EmbeddedConfig, children: dict[str, Supervised]) -> dict[str, object]:
    """What run.json holds: pids by component (as before), each child's state, and where to reach everything."""
    services = {spec.name: children[spec.name].pid for spec in config.services if spec.name in children}
    return {
        "supervisor": os.getpid(),
        "nats": children["nats"].pid if "nats" in children else None,
        "postgres": children["postgres"].pid if "postgres" in children else None,
        "services": {name: pid for name, pid in services.items() if pid},
        "health": {s.name: {"grpc_port": s.grpc_port, "http_port": s.http_port} for s in config.services},
        "children": {name: child.view() for name, child in children.items()},
        "endpoints": {"postgres": {"port": config.pg_port},
                      "nats": {"port": config.nats_port, "monitor_port": config.nats_monitor_port}},
    }


def _port_refusal(config: EmbeddedConfig, exc: PortBusy) -> str:
    """The busy-port message, naming the holder when the system tells, and `jinqiao down` when it is ours."""
    holder = port_holder(exc.port)
    if holder is None:
        return str(exc)
    try:
        who = f"pid {holder.pid} ({' '.join(holder.cmdline())[:120]})"
    except psutil.Error:
        who = f"pid {holder.pid}"
    text = f"{exc}\n占用者 / held by: {who}"
    if marked_by(holder, data_dir=str(config.data_dir), arguments=_markers(config)):
        text += ("\n它是此数据目录上次运行的残留进程，运行 `jinqiao down` 清理 / it is a leftover of this data "
                 "directory's last run: `jinqiao down` cleans it up")
    return text


def _markers(config: EmbeddedConfig) -> set[str]:
    """Command-line arguments that mark PostgreSQL and NATS of this data directory."""
    return {str(config.data_dir / "postgres" / "pgdata"), str(config.data_dir / "nats" / "nats.conf")}


async def up(config: EmbeddedConfig) -> int:
    """Run the platform until SIGINT or SIGTERM; return the exit code."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.chmod(0o755)
    run_file = config.data_dir / "run.json"
    if run_file.exists() and alive(json.loads(run_file.read_text()).get("supervisor")):
        print("金桥已在运行 / Jinqiao is already running (see `jinqiao status`)", file=sys.stderr)
        return 2
    if postmaster_alive(config.data_dir / "postgres"):
        print("数据目录的 PostgreSQL 仍在运行，运行 `jinqiao down` 清理 / a PostgreSQL of this data directory is "
              "still running: `jinqiao down` stops it", file=sys.stderr)
        return 2
    try:
        check_ports(config)
    except PortBusy as exc:
        print(_port_refusal(config, exc), file=sys.stderr)
        return 2
    blocked = unreachable_ancestor(config.data_dir / "postgres")
    if blocked is not None:
        print(f"以 root 运行时 PostgreSQL 以系统用户 {PG_OS_USER} 运行，无法进入 {blocked}；"
              f"请把 JINQIAO_DATA_DIR 设在它能进入的目录（root 的默认值 /var/lib/jinqiao） / "
              f"as root, PostgreSQL runs as {PG_OS_USER}, who cannot enter {blocked}; "
              "set JINQIAO_DATA_DIR to a directory it can reach (root's default: /var/lib/jinqiao)",
              file=sys.stderr)
        return 2
    logs = config.data_dir / "logs"
    logs.mkdir(exist_ok=True)
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
                          superuser_password=str(stored["postgres_password"]), host=HOST, settings=EMBEDDED_SETTINGS)
    children: dict[str, Supervised] = {}
    tasks: list[asyncio.Task[None]] = []
    ready = False

    def record() -> None:
        # Pids change on restart: run.json follows, so `status` and `down` act on the live ones.
        if ready:
            write_run_file(config, run_view(config, children))

    async def launch_nats() -> Handle:
        return PopenHandle(nats.spawn())

    async def launch_pg() -> Handle:
        return PopenHandle(pg.spawn())

    async def declare_streams() -> None:
        # A lost store loses the streams; declaring is idempotent, so a restart always declares.
        await nats.declare_streams()

    children["nats"] = Supervised(
        name="nats", launch=launch_nats, log_path=str(nats.data_dir / "nats.log"), on_change=record,
        ready=lambda: _poll(nats._greets, within=30), after_restart=declare_streams)
    children["postgres"] = Supervised(
        name="postgres", launch=launch_pg, log_path=str(pg.data_dir / "postgres.log"), on_change=record,
        ready=lambda: _poll(pg._ready, within=60), stop_signal=signal.SIGINT)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    began = time.monotonic()
    envs: dict[str, dict[str, str]] = {}

    def phase(what: str) -> None:
        # One line per milestone, so an operator (and the bench) sees where a slow start spends its time.
        print(f"阶段 phase: {what} (+{time.monotonic() - began:.2f} s)", flush=True)

    async def start_infrastructure(name: str) -> None:
        try:
            await children[name].start()
        except RuntimeError as exc:
            raise StartupFailed(f"{name} 启动失败 / did not start: {exc}") from exc
        tasks.append(asyncio.create_task(children[name].supervise()))
        phase(f"{name} ready")

    async def declare_streams_once() -> None:
        # Streams are the runner's to declare: no service's login may create or change one.
        await nats.declare_streams()
        phase("streams declared")
        await _republish_restored(config, nats=nats, admin_dsn=pg.admin_dsn(), phase=phase)

    async def bring_up(spec: ServiceSpec, streams: Awaitable[None], migrated: Awaitable[str] | None) -> None:
        # A service starts once the streams exist and its own database is at head; it waits for no other service
        # (the gateway reaches the others through lazy channels, and its readiness says when they answer).
        await streams
        dsns = {spec.name: await migrated} if migrated is not None else {}
        env = envs[spec.name] = service_env(spec, config=config, stored=stored, nats_url=nats.url, app_dsns=dsns,
                                            keys=keys)
        log_path = logs / f"{spec.name}.log"

        async def launch() -> Handle:
            return await launch_service(spec, env=env, log_path=log_path)

        # No readiness on restart: a service whose database is away stays up and says so in its health.
        child = children[spec.name] = Supervised(name=spec.name, launch=launch, log_path=str(log_path),
                                                 on_change=record)
        await child.start()
        await wait_healthy(spec, child)
        tasks.append(asyncio.create_task(child.supervise()))
        phase(f"{spec.name} ready")

    try:
        print("正在启动 NATS JetStream 与 PostgreSQL … / starting NATS JetStream and PostgreSQL …", flush=True)
        # The bus and the database at once: neither needs the other.
        await _all(start_infrastructure("nats"), start_infrastructure("postgres"))
        streams = asyncio.ensure_future(declare_streams_once())
        alembic = asyncio.Lock()
        migrations = {spec.name: asyncio.ensure_future(_provision_and_migrate(
                          spec, config=config, admin_dsn=pg.admin_dsn(), stored=stored, phase=phase, alembic=alembic))
                      for spec in config.services if spec.database}
        await _all(streams, *migrations.values(),
                   *(bring_up(spec, streams, migrations.get(spec.name)) for spec in config.services))
        ready = True
        record()
        await _seed_once(config, env_of=next((envs[s.name] for s in config.services if s.http_port), None))
        phase("console ready")
        _announce(config)
        await stop.wait()
        return 0
    except StartupFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        print("正在停止 … / stopping …", flush=True)
        # Services first, then the bus and the database they use; each child's whole process group.
        for child in reversed(list(children.values())):
            await child.terminate()
        for task in tasks:
            task.cancel()
        run_file.unlink(missing_ok=True)
        print("已停止 / stopped", flush=True)


async def _republish_restored(config: EmbeddedConfig, *, nats: EmbeddedNats, admin_dsn: str,
                              phase: Callable[[str], None]) -> None:
    """After `jinqiao restore`: the archive's messages go back into the fresh streams before any service starts
    (kit/runtime/backup.py says why nothing is lost or applied twice); a failure stops the start, marker kept."""
    if not (config.data_dir / "restore.json").exists():
        return
    from jinqiao.kit.runtime import backup

    try:
        counts = await backup.republish_restored(config.data_dir, nats_url=nats.url, admin=nats.login(),
                                                 admin_dsn=admin_dsn)
    except Exception as exc:
        raise StartupFailed(f"恢复的消息重新发布失败 / re-publishing the restored streams failed: {exc!r}") from exc
    if counts is not None:
        phase(f"restored streams re-published ({counts['published']} messages; dropped "
              f"{counts['after_snapshot']} after the snapshot)")


async def _all(*steps: Awaitable[object]) -> None:
    """Run steps concurrently; the first failure cancels the others and is raised as itself."""
    futures = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*futures)
    finally:
        for future in futures:
            future.cancel()
        await asyncio.gather(*futures, return_exceptions=True)


async def _provision_and_migrate(spec: ServiceSpec, *, config: EmbeddedConfig, admin_dsn: str,
                                 stored: dict[str, object], phase: Callable[[str], None],
                                 alembic: asyncio.Lock | None = None) -> str:
    """Provision a service's database and roles, bring it to head, and return its app DSN.

    Already at head (the scripts are those that last migrated it, and the database still says so) skips Alembic, whose
    import alone is a second of CPU on a start that has six services to bring up. Upgrades run one at a time under
    ``alembic``: its ``op`` and ``context`` are process-wide proxies, so two interleaved upgrades would cross databases.
    """
    from jinqiao.kit.runtime.provision import provision_service_database

    passwords = stored["app_passwords"]
    assert isinstance(passwords, dict)
    db = await provision_service_database(admin_dsn=admin_dsn, service=spec.name, app_password=passwords[spec.name])
    record = config.data_dir / "migrated.json"
    scripts = migration_scripts_digest(spec.name)
    known = json.loads(record.read_text()) if record.exists() else {}
    if known.get(spec.name, {}).get("scripts") == scripts and \
            known[spec.name].get("versions") == await _schema_versions(db.admin_dsn_for_db):
        phase(f"{spec.name} already at head")
        return db.app_dsn
    from jinqiao.kit.migrations import migrate

    async with alembic or asyncio.Lock():
        await migrate(service=spec.name, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
    # Read again: other services' tasks record theirs concurrently (one event loop, so no write interleaves).
    known = json.loads(record.read_text()) if record.exists() else {}
    known[spec.name] = {"scripts": scripts, "versions": await _schema_versions(db.admin_dsn_for_db)}
    tmp = record.with_name(f".migrated.json.{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=2))
    os.replace(tmp, record)
    phase(f"{spec.name} migrated")
    return db.app_dsn


def migration_scripts_digest(service: str) -> str:
    """A digest of a service's migration scripts (names and contents): adding or editing one changes it."""
    spec = importlib.util.find_spec(f"jinqiao.{service}.migrations")
    assert spec is not None and spec.submodule_search_locations is not None
    folder = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


async def _schema_versions(admin_dsn: str) -> list[str]:
    """The revisions Alembic recorded in a service's database (none before its first migration)."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch("SELECT version_num FROM alembic_version ORDER BY version_num")
    except asyncpg.UndefinedTableError:
        return []
    finally:
        await conn.close()
    return [row["version_num"] for row in rows]


async def _seed_once(config: EmbeddedConfig, *, env_of: dict[str, str] | None) -> None:
    """The demo seed, once per data directory, run with the gateway's environment."""
    marker = config.data_dir / ".seeded"
    if marker.exists() or not config.seed_module or env_of is None:
        return
    print("正在写入演示数据 … / seeding the demo province …", flush=True)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", config.seed_module, env=env_of)
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
    """Print each component's state as it sees itself; 0 only when everything is up, 3 otherwise."""
    run = read_run_file(config)
    if run is None or not alive(_pid(run, "supervisor")):
        print("未运行 / not running")
        return 3
    views = run.get("children", {})
    endpoints = run.get("endpoints", {})
    assert isinstance(views, dict) and isinstance(endpoints, dict)
    print(f"{'supervisor':>{_name_width()}}: 运行中 running (pid {run.get('supervisor')})")
    ok = True
    pg_port = endpoints.get("postgres", {}).get("port") or config.pg_port
    nats_ends = endpoints.get("nats", {})
    checks: dict[str, Callable[[], Awaitable[tuple[bool, str]]]] = {
        "postgres": lambda: _postgres_answer(pg_port),
        "nats": lambda: _nats_answer(nats_ends.get("port") or config.nats_port, nats_ends.get("monitor_port")),
    }
    ports = run.get("health", {})
    assert isinstance(ports, dict)
    for name, view in views.items():
        if name in checks:
            check = checks[name]
        else:
            spec = ServiceSpec(name=name, module="", database=False, grpc_port=ports[name]["grpc_port"],
                               http_port=ports[name]["http_port"], metrics_port=0)
            check = functools.partial(_service_answer, spec)
        up_, line = await _describe(view, check)
        ok &= up_
        print(f"{name:>{_name_width()}}: {line}")
    return 0 if ok else 3


async def _describe(view: dict[str, object],
                    check: Callable[[], Awaitable[tuple[bool, str]]]) -> tuple[bool, str]:
    """One child's line: the supervisor's state, then, for a running one, what it answers."""
    state, pid, restarts = view.get("state"), view.get("pid"), view.get("restarts")
    retry_at = view.get("retry_at")
    wait = f"{max(0.0, float(retry_at) - time.time()):.0f}s" if isinstance(retry_at, int | float) else "?"
    if state == "failed":
        return False, (f"已失败 failed after {restarts} restarts (上次退出 last exit {view.get('last_exit')}; "
                       f"{wait} 后重试 retry in {wait}; 日志 log {view.get('log')})")
    if state == "restarting":
        return False, f"重启中 restarting in {wait} (上次退出 last exit {view.get('last_exit')}; restarts {restarts})"
    if state != "running" or not isinstance(pid, int) or not alive(pid):
        return False, f"已停止 down ({state}; pid {pid})"
    up_, detail = await check()
    tail = f" (pid {pid}{'; restarts ' + str(restarts) if restarts else ''}) {detail}".rstrip()
    return up_, ("健康 healthy" if up_ else "异常 unhealthy") + tail


async def _postgres_answer(port: int) -> tuple[bool, str]:
    ok = await asyncio.to_thread(accepting, host=HOST, port=port)
    return ok, "接受连接 accepting connections" if ok else "不接受连接 not accepting connections"


async def _nats_answer(port: int, monitor_port: int | None) -> tuple[bool, str]:
    ok = await asyncio.to_thread(greets, host=HOST, port=port)
    detail = "应答 greets" if ok else "无应答 does not greet"
    if monitor_port:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                healthz = (await http.get(f"http://{HOST}:{monitor_port}/healthz")).status_code == 200
        except httpx.HTTPError:
            healthz = False
        ok &= healthz
        detail += f", /healthz {'ok' if healthz else 'unavailable'}"
    return ok, detail


# The dependency names every gRPC service's health servicer reports (SERVING / NOT_SERVING).
DEPENDENCIES = {"postgresql": "jinqiao.dependency.postgresql", "nats": "jinqiao.dependency.nats"}


async def _service_answer(spec: ServiceSpec) -> tuple[bool, str]:
    """A service's health as it sees itself: gRPC health and its dependencies, or the gateway's /readyz."""
    if spec.grpc_port:
        return await _grpc_answer(spec.grpc_port)
    if spec.http_port:
        return await _http_answer(spec.http_port)
    return True, ""


async def _grpc_answer(port: int) -> tuple[bool, str]:
    async with grpc.aio.insecure_channel(f"{HOST}:{port}") as channel:
        # types-grpcio-health-checking declares HealthStub without its methods.
        check = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]

        async def ask(service: str) -> str | None:
            try:
                reply = await check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            except grpc.aio.AioRpcError as exc:
                return None if exc.code() == grpc.StatusCode.NOT_FOUND else "unavailable"
            return "ok" if reply.status == health_pb2.HealthCheckResponse.SERVING else "unavailable"

        overall = await ask("")
        seen = {name: await ask(service) for name, service in DEPENDENCIES.items()}
    parts = [f"{name} {answer}" for name, answer in seen.items() if answer is not None]
    return overall == "ok", ", ".join(parts)


async def _http_answer(port: int) -> tuple[bool, str]:
    try:
        async with httpx.AsyncClient(timeout=3) as http:
            ready = await http.get(f"http://{HOST}:{port}/readyz")
            if ready.status_code == 404:  # a gateway without readiness: liveness is all it says
                return (await http.get(f"http://{HOST}:{port}/healthz")).status_code == 200, ""
            body = ready.json()
    except (httpx.HTTPError, ValueError):
        return False, "无应答 not answering"
    deps = body.get("dependencies", {}) if isinstance(body, dict) else {}
    detail = ", ".join(f"{name} {state}" for name, state in deps.items()) if isinstance(deps, dict) else ""
    return ready.status_code == 200 and body.get("status") == "ok", detail


def down(config: EmbeddedConfig) -> int:
    """Stop the runner, then make sure nothing of this data directory is left: report and stop stragglers by pid."""
    run = read_run_file(config) or {}
    supervisor = _pid(run, "supervisor")
    was_running = supervisor is not None and alive(supervisor)
    if was_running:
        assert supervisor is not None
        stop_pid(supervisor, timeout=90)
    recorded = [pid for pid in (_pid(run, "nats"), _pid(run, "postgres")) if pid]
    services = run.get("services", {})
    views = run.get("children", {})
    recorded += [pid for pid in (services.values() if isinstance(services, dict) else []) if isinstance(pid, int)]
    recorded += [v["pid"] for v in (views.values() if isinstance(views, dict) else []) if isinstance(v.get("pid"), int)]
    found = leftovers(data_dir=str(config.data_dir), arguments=_markers(config), pids=sorted(set(recorded)))
    for process in found:
        try:
            what = " ".join(process.cmdline())[:100]
        except psutil.Error:
            what = "?"
        print(f"残留进程 / left over: pid {process.pid} ({what}), 正在停止 / stopping")
        # PostgreSQL's fast shutdown is SIGINT; SIGTERM to a backend alone would leave the rest waiting.
        stop_pid(process.pid, sig=signal.SIGINT if "postgres" in what.split(" ", 1)[0] else signal.SIGTERM)
    for pid in sorted(set(recorded)):
        kill_group(pid, sig=signal.SIGKILL, timeout=5)
    remaining = leftovers(data_dir=str(config.data_dir), arguments=_markers(config), pids=sorted(set(recorded)))
    if not alive(supervisor):
        (config.data_dir / "run.json").unlink(missing_ok=True)
    if remaining:
        pids = ", ".join(str(p.pid) for p in remaining)
        print(f"无法停止 / could not stop: pid {pids}", file=sys.stderr)
        return 1
    if not was_running and not found:
        print("未运行 / not running")
    elif found:
        print(f"已停止；清理了 {len(found)} 个残留进程，无残留 / stopped; {len(found)} leftover processes stopped; "
              "nothing left")
    else:
        print("已停止，无残留 / stopped; nothing left")
    return 0
